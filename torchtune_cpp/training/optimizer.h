// torch.optim's Adam, AdamW and SGD over named parameters, with torch.optim's maths, its
// three implementations and its choice between them:
//   fused=True   at::_fused_adam(w)_ (one kernel per device/dtype group, CPU and CUDA)
//   foreach=True torch.optim's multi-tensor algorithm with at::_foreach_* ops
//   otherwise    the single-tensor loop
// Default (both unset) as torch.optim: foreach when every parameter is on CUDA, else the
// loop. Adam/AdamW results equal torch.optim's bitwise for the same path on CPU
// (tests/golden/optimizer_golden_test.cpp). SGD always runs the per-tensor loop.
// State per parameter as torch.optim keeps it: `step` (fp32 scalar tensor), `exp_avg`,
// `exp_avg_sq` (Adam/AdamW), `momentum_buffer` (SGD).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "torchtune_cpp/core/pickle_value.h"
#include "torchtune_cpp/core/state_dict.h"

namespace tt::training {

enum class OptimizerKind { kAdam, kAdamW, kSGD };

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::kAdamW;
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.01;
  double momentum = 0.0, dampening = 0.0;
  bool nesterov = false;
  std::optional<bool> foreach;
  std::optional<bool> fused;
  // The lr a schedule scales (torch.optim's param_group["initial_lr"], set by the first
  // scheduler and kept in the state dict so a resumed schedule starts from the same base).
  std::optional<double> initial_lr;
  // bitsandbytes' PagedAdamW: Adam(W) moments kept in fp32 in (pinned) host memory and
  // streamed to the parameter's device one parameter at a time for its update, so the
  // accelerator never holds the optimizer state. The update is computed in fp32 and written
  // back in the parameter's dtype.
  bool state_on_host = false;
  // bitsandbytes' PagedAdamW8bit: host-resident moments stored 8-bit block-wise
  // (training/blockwise_quant.h) for parameters of at least min_8bit_size elements.
  int state_bits = 32;
  int64_t min_8bit_size = 4096;
  std::string name;  // the component name, for messages
};

struct ParamState {
  at::Tensor step;  // fp32 scalar; on the parameter's device for fused
  at::Tensor exp_avg, exp_avg_sq, momentum_buffer;
  // 8-bit state: exp_avg / exp_avg_sq hold uint8 codes [numel], these the per-block scales.
  at::Tensor exp_avg_absmax, exp_avg_sq_absmax;
  bool quantized() const { return exp_avg_absmax.defined(); }
};

class Optimizer {
 public:
  Optimizer(NamedParameters params, OptimizerOptions options);

  // One update of every parameter that has a gradient; parameters without one are skipped
  // (as torch.optim skips p.grad is None).
  void step();
  // The same update for parameters `indices` only (optimizer-in-backward steps each
  // parameter from its gradient hook); each keeps its own state and step count.
  void step_params(const std::vector<size_t>& indices);
  // Drops every gradient (torch.optim's zero_grad(set_to_none=True)).
  void zero_grad();

  const OptimizerOptions& options() const { return options_; }
  double lr() const { return options_.lr; }
  void set_lr(double lr) { options_.lr = lr; }
  void set_initial_lr(double lr) { options_.initial_lr = lr; }
  const NamedParameters& params() const { return params_; }
  // State of parameter i (absent until its first step).
  const std::map<size_t, ParamState>& state() const { return state_; }
  std::map<size_t, ParamState>& mutable_state() { return state_; }

  enum class Path { kFused, kForeach, kSingleTensor };
  Path path() const { return path_; }

  // torch.optim's state_dict(): {"state": {i: {"step", "exp_avg", "exp_avg_sq"} or
  // {"momentum_buffer"}}, "param_groups": [{hyper-parameters..., "params": [0..N-1]}]},
  // tensors as they are (on their devices; the caller copies them off when saving).
  PickleValue state_dict() const;
  // torch.optim's load_state_dict(): the same layout and parameter count; hyper-parameters
  // come from the saved group (as in torch), state tensors are copied to each parameter's
  // device and dtype. `where` names the file for messages.
  void load_state_dict(const PickleValue& state_dict, const std::string& where);

 private:
  void step_adam(const std::vector<size_t>& idx);
  void step_adam_host_state(size_t i);
  void step_sgd(const std::vector<size_t>& idx);

  bool quantize_state(const at::Tensor& p) const {
    return options_.state_on_host && options_.state_bits == 8 &&
           p.numel() >= options_.min_8bit_size;
  }
  const at::Tensor& quant_map(bool is_signed, const at::Device& device);

  NamedParameters params_;
  OptimizerOptions options_;
  std::map<std::string, at::Tensor> quant_maps_;
  std::map<size_t, ParamState> state_;
  Path path_;
};

using OptimizerPtr = std::shared_ptr<Optimizer>;

// Registers torch.optim.Adam, torch.optim.AdamW and torch.optim.SGD (positional argument:
// the named parameters), building an OptimizerPtr.
void register_optimizers();

}  // namespace tt::training
