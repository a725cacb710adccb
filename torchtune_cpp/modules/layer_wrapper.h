// The one wrapper every decoder layer runs through. Work that acts per layer around its
// forward and backward plugs in here, never inside the layer maths:
//   - activation checkpointing: keep only the layer's input, recompute it in backward
//     (every layer, or the ones chosen: training/activation_checkpointing.h);
//   - LayerHooks: callbacks before/after each layer's forward and backward, in execution
//     order (forward 0..L-1, backward L-1..0) — sharding gathers parameters before and
//     frees/reduce-scatters after; optimizer-in-backward steps after a layer's backward.
// Per-parameter post-accumulate-grad hooks (optimizer in backward) attach to the tensors
// themselves; this wrapper guarantees they fire within the layer's backward, also when the
// layer is recomputed.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <vector>

namespace tt::modules {

class LayerHooks {
 public:
  virtual ~LayerHooks() = default;
  // Once per forward, before anything reads a parameter (sharding gathers the parameters
  // outside the layers: embedding, final norm, output projection).
  virtual void before_model_forward() {}
  virtual void before_forward(int64_t layer) {}
  virtual void after_forward(int64_t layer) {}
  virtual void before_backward(int64_t layer) {}
  virtual void after_backward(int64_t layer) {}
};

struct LayerWrapper {
  // Per layer: whether its activations are recomputed in backward (empty: none). The last
  // layer never is: its backward starts right after its forward, so recomputing it would
  // only repeat work (one layer's activations are kept instead).
  std::vector<bool> checkpointed;
  int64_t num_layers = 0;
  // With checkpointing on CUDA: the one tensor each checkpointed layer keeps, its input
  // [B, T, D], goes to pinned host memory during forward (copied on a side stream, so the
  // copy overlaps the next layer's compute) and comes back for the layer's recomputation.
  bool offload_activations = false;
  std::vector<std::shared_ptr<LayerHooks>> hooks;
};

// The layer's maths: x [B, T, D] -> [B, T, D], reading its weights itself.
using LayerFn = std::function<at::Tensor(const at::Tensor& x)>;

// Fires every hook's before_model_forward().
void begin_model_forward(const LayerWrapper& wrapper);

// Runs layer `index` on x [B, T, D] -> [B, T, D] under the wrapper's policy. `weights` are
// the tensors the layer reads (gradients flow to them in both modes).
at::Tensor run_layer(const LayerWrapper& wrapper, int64_t index, const at::Tensor& x,
                     const std::vector<at::Tensor>& weights, const LayerFn& fn);

}  // namespace tt::modules
