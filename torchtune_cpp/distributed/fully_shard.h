// Fully sharded data parallelism for the decoder (what FSDP2 gives torchtune; LibTorch's C++
// API has none), driven by the model's layer wrapper hooks.
//
// Sharding units: each decoder layer, and the root (tok_embeddings, norm, output). A unit's
// parameters, in state-dict order, form one flat vector of `numel` elements, padded to a
// multiple of the world size W; rank r owns elements [r*S, (r+1)*S) with S = padded / W.
// That shard is what the optimizer sees, so parameters, gradients and optimizer state are all
// 1/W of the model. The layout of the unpadded flat vector does not depend on W, which is
// what lets a checkpoint move between rank counts.
//
// Per step, for layer units:
//   forward   before layer i: wait for its all-gather, start layer i+1's (prefetch);
//             after it: free the gathered parameters (fsdp_reshard_after_forward; the last
//             layer is kept, its backward comes next)
//   backward  before layer i: wait for its all-gather, start layer i-1's; once every
//             parameter's gradient has arrived (post-accumulate-grad hooks): copy them into
//             one flat buffer, start its reduce-scatter (summed), free the gathered parameters
//   after     finish_backward(): wait for the reduce-scatters, add them to the shards' grads
// The root unit is gathered before the embedding and freed after its reduce-scatter.
// On CUDA the collectives run on NCCL's stream and overlap the compute stream; a wait is a
// stream wait, never a host stall. With cpu_offload the shards, their gradients and the
// optimizer state live in pinned host memory (the optimizer steps on the CPU); the gathered
// layer parameters are on the GPU only while a layer runs.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "torchtune_cpp/checkpointing/optimizer_state.h"
#include "torchtune_cpp/distributed/process_group.h"
#include "torchtune_cpp/modules/transformer.h"

namespace tt::distributed {

struct FullyShardOptions {
  bool reshard_after_forward = true;
  bool cpu_offload = false;
};

class FullyShardedDecoder : public modules::LayerHooks {
 public:
  struct Unit {
    std::string name;                // "root", "layers.3"
    std::vector<std::string> keys;   // its parameters' state-dict keys, in flat order
    std::vector<at::Tensor> params;  // the model's leaves: views of `full` while gathered
    std::vector<int64_t> offsets;    // each parameter's offset in the unpadded flat vector
    int64_t numel = 0, padded = 0, shard_numel = 0;
    at::Tensor full;   // [padded] on the device; its storage is freed while resharded
    at::Tensor shard;  // [shard_numel] this rank's slice: the optimizer's parameter
    bool gathered = false;
    WorkPtr gather_work;
    at::Tensor gather_source;  // the shard's device copy under cpu_offload
    int64_t grads_pending = 0;
    WorkPtr reduce_work;
    at::Tensor reduce_in, reduce_out;  // [padded] and [shard_numel], kept until the wait
  };

  // Shards `model`, whose parameters must still be on the meta device (nothing of the whole
  // model is ever allocated), onto `device` in `dtype`. Installs itself in model.wrapper.
  FullyShardedDecoder(modules::TransformerDecoder& model, ProcessGroupPtr pg, at::Device device,
                      at::ScalarType dtype, const FullyShardOptions& options);
  ~FullyShardedDecoder() override;

  // Fills the shards from a full state dict with the model's keys (strict: keys and shapes
  // must match). Each rank copies only its own slices to the device; tensors are released
  // as they are consumed (a memory-mapped file is unmapped as it goes).
  void load_full_state_dict(StateDict&& full, const std::string& where);
  // Fills the shards by `init` (one parameter at a time, full size, then sliced): every
  // rank computes the same values when `init` is deterministic.
  void init_parameters(const modules::InitFn& init);

  // The optimizer's parameters: one flat shard per unit, named after the unit.
  StateDict sharded_parameters() const;
  std::vector<std::string> unit_names() const;
  const std::vector<Unit>& units() const { return units_; }
  const ProcessGroup& process_group() const { return *pg_; }

  // Waits for the backward's reduce-scatters and accumulates them into the shards' grads.
  void finish_backward();
  // Global L2 norm of the shards' gradients (all ranks), and clipping to `max_norm` as
  // torch.nn.utils.clip_grad_norm_: returns the norm before clipping.
  double clip_grad_norm(double max_norm);
  double grad_norm();

  // The whole model, gathered unit by unit (one unit on the device at a time): on rank 0 a
  // state dict of CPU tensors with the model's keys, on other ranks empty. Every rank calls it.
  StateDict gather_full_state_dict();
  // Optimizer state: the shard-level state (named by unit, as the optimizer holds it) to
  // torchtune's distributed layout keyed by parameter name, full tensors on rank 0's CPU
  // (empty state elsewhere); and back, each rank taking its slices.
  checkpointing::NamedOptimizerState gather_optimizer_state(
      const checkpointing::NamedOptimizerState& sharded);
  checkpointing::NamedOptimizerState shard_optimizer_state(
      const checkpointing::NamedOptimizerState& full, const std::string& where) const;

  // This rank's flat slice of `unit`'s parameters, gradients or state from per-parameter
  // tensors keyed like `keys` (a missing tensor is an error naming `where`).
  at::Tensor slice_of(const Unit& unit, const std::vector<at::Tensor>& per_param,
                      at::ScalarType dtype, at::Device device) const;
  // The full flat vector [padded] of a shard-shaped tensor, on rank 0's CPU (undefined elsewhere).
  at::Tensor gather_to_rank0(const at::Tensor& shard_like, const Unit& unit);

  // LayerHooks
  void before_model_forward() override;
  void before_forward(int64_t layer) override;
  void after_forward(int64_t layer) override;
  void before_backward(int64_t layer) override;

  // Called by the gradient hooks.
  void on_gradient(size_t unit);

 private:
  Unit& layer_unit(int64_t layer) { return units_[static_cast<size_t>(layer) + 1]; }
  // One rank without offloading: parameters are views of the shards themselves.
  bool aliased() const { return pg_->world_size() == 1 && !options_.cpu_offload; }
  void gather(Unit& u);
  void wait_gathered(Unit& u);
  void reshard(Unit& u);
  void reduce(Unit& u);

  modules::TransformerDecoder& model_;
  ProcessGroupPtr pg_;
  at::Device device_;
  at::ScalarType dtype_;
  FullyShardOptions options_;
  std::vector<Unit> units_;  // root first, then layers 0..L-1
};

using FullyShardedDecoderPtr = std::shared_ptr<FullyShardedDecoder>;

// Builds the sharding for `model` and installs it as the model's layer hooks.
FullyShardedDecoderPtr fully_shard(modules::TransformerDecoder& model, ProcessGroupPtr pg,
                                   at::Device device, at::ScalarType dtype,
                                   const FullyShardOptions& options);

}  // namespace tt::distributed
