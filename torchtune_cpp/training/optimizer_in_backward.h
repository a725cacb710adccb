// torchtune's optimizer_in_bwd: every parameter is updated from its post-accumulate-grad hook
// the moment its gradient is complete, and the gradient is freed right there, so the model's
// gradients never exist all at once (a model's worth of accelerator memory saved; with
// activation checkpointing the update runs inside each layer's recomputed backward).
//
// The updates are the optimizer's own (Optimizer::step_params, one parameter at a time), so
// maths and state are those of the configured optimizer; the checkpoint layout differs only
// in form (per-parameter dicts, optimizer_state.h of the checkpointing folder). Gradient
// accumulation and clipping need every gradient at once and are refused by the recipe, as
// torchtune does.
#pragma once

#include <cstdint>

#include "torchtune_cpp/training/optimizer.h"

namespace tt::training {

class OptimizerInBackward {
 public:
  // Installs one hook per parameter of `optimizer` (kept alive by this object).
  explicit OptimizerInBackward(OptimizerPtr optimizer);
  // Removes the hooks.
  ~OptimizerInBackward();
  OptimizerInBackward(const OptimizerInBackward&) = delete;
  OptimizerInBackward& operator=(const OptimizerInBackward&) = delete;

  // Gradients are multiplied by `scale` before each update (the recipe's 1/tokens, which the
  // regular path applies to all gradients after backward).
  void set_grad_scale(double scale) { scale_ = scale; }
  double grad_scale() const { return scale_; }
  // Parameters updated since the last reset (a backward updates every parameter that got a
  // gradient).
  int64_t updates() const { return updates_; }
  void reset_updates() { updates_ = 0; }

  // Called by the hooks: scale, update parameter i, free its gradient.
  void on_gradient(size_t i);

 private:
  OptimizerPtr optimizer_;
  double scale_ = 1.0;
  int64_t updates_ = 0;
};

}  // namespace tt::training
