// The two sides of the full fine-tuning seam (full_finetune.h):
//   OneProcess        one device; every operation is the identity or the plain LibTorch call
//   ShardedProcesses  one process per device (cuda:LOCAL_RANK, or the CPU), joined in a c10d
//                     process group (NCCL / Gloo) whose process_group_timeout_seconds bounds
//                     every collective; the model is built on the meta device and fully
//                     sharded (distributed/fully_shard.h): parameters, gradients and optimizer
//                     state are 1/W per rank; token counts and losses are summed over ranks;
//                     rank 0 writes checkpoints, gathered unit by unit, with the optimizer
//                     state in torchtune's distributed layout (keyed by parameter name), or,
//                     with sharded_checkpoints, every rank writes its own shard at once
//                     (checkpointing/sharded_checkpoint.h).
#include <ATen/ATen.h>

#include <chrono>
#include <iostream>

#include "full_finetune.h"
#include "torchtune_cpp/checkpointing/optimizer_state.h"
#include "torchtune_cpp/core/state_dict.h"
#include "torchtune_cpp/distributed/environment.h"
#include "torchtune_cpp/distributed/fully_shard.h"
#include "torchtune_cpp/distributed/process_group.h"
#include "torchtune_cpp/training/clip_grad.h"
#include "torchtune_cpp/training/device.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::recipes {

double StepTotals::loss_per_token() const {
  if (loss_sum.scalar_type() == at::kDouble)
    return static_cast<double>(static_cast<float>(loss_sum.item<double>() / tokens));
  return static_cast<double>(static_cast<float>(loss_sum.item<float>() / tokens));
}

namespace {

std::vector<std::string> key_names(const StateDict& sd) {
  std::vector<std::string> names;
  for (const auto& [key, t] : sd) names.push_back(key);
  return names;
}

class OneProcess final : public Processes {
 public:
  explicit OneProcess(const config::Config& cfg) : device_(cfg.get_string("device")) {}

  int64_t rank() const override { return 0; }
  int64_t world_size() const override { return 1; }
  at::Device device() const override { return device_; }
  void start(training::RecipeState&) override {}
  void on_rank_zero(const std::function<void()>& body, const std::string&) override { body(); }
  void everywhere(const std::function<void()>& body, const std::string&) override { body(); }
  bool sharded() const override { return false; }

  void setup_model(modules::TransformerDecoder& model, at::ScalarType dtype, StateDict* full,
                   const std::string&) override {
    model_ = &model;
    // Strict (torchtune's load_state_dict); checkpoint tensors are released as they are copied.
    modules::materialize_from(model, device_, dtype, std::move(*full));
  }
  StateDict parameters() const override { return modules::named_parameters(*model_); }
  PickleValue optimizer_state_to_load(const PickleValue& saved, const checkpointing::Checkpointer&,
                                      bool, const std::string& where) override {
    return checkpointing::convert_optimizer_state(saved, checkpointing::OptimizerLayout::kIndexed,
                                                  key_names(parameters()), where);
  }

  StepTotals finish_step(const at::Tensor& running_loss, int64_t tokens, bool stop) override {
    return {running_loss, tokens, stop};
  }
  double clip_grad_norm(training::Optimizer& optimizer, double max_norm) override {
    return tt::training::clip_grad_norm(optimizer.params(), max_norm).item<double>();
  }
  bool any_stop(bool stop) override { return stop; }

  void save(checkpointing::Checkpointer& checkpointer, const std::string& folder,
            const training::Optimizer& optimizer, const RecipeStateFn* make_recipe_state) override {
    StateDict weights;
    for (auto& [key, p] : modules::named_parameters(*model_)) weights.emplace_back(key, p.detach());
    std::optional<PickleValue> recipe_state;
    if (make_recipe_state) recipe_state = (*make_recipe_state)(optimizer.state_dict());
    checkpointer.save_folder(weights, folder, recipe_state ? &*recipe_state : nullptr);
  }

 private:
  at::Device device_;
  modules::TransformerDecoder* model_ = nullptr;
};

class ShardedProcesses final : public Processes {
 public:
  explicit ShardedProcesses(const config::Config& cfg)
      : env_(distributed::read_distributed_env()), device_(at::kCPU) {
    const std::string device = cfg.get_string("device");
    // One GPU per process, as torchtune's set_device.
    device_ = device == "cuda"
                  ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(env_.local_rank))
                  : at::Device(at::kCPU);
    const int64_t gpus = training::visible_cuda_devices();
    TT_CHECK(device == "cpu" || env_.local_rank < gpus, cfg.where("device"), "process ", env_.rank,
             " (LOCAL_RANK ", env_.local_rank, ") needs cuda:", env_.local_rank, " but ", gpus,
             " CUDA device(s) are visible; start at most one process per GPU (--nproc_per_node), "
             "or use device=cpu");
    if (cfg.get_bool_or("enable_async_checkpointing", false))
      std::cerr << "WARNING: enable_async_checkpointing has no effect in torchtune_cpp; "
                   "checkpoints are written synchronously by rank 0\n";
    shard_options_.reshard_after_forward = cfg.get_bool_or("fsdp_reshard_after_forward", true);
    shard_options_.cpu_offload = cfg.get_bool_or("fsdp_cpu_offload", false);
    pg_options_.timeout =
        std::chrono::seconds(cfg.get_int_or("process_group_timeout_seconds", 600));
    sharded_checkpoints_ = cfg.get_bool_or("sharded_checkpoints", false);
    seed_given_ = cfg.has("seed");
  }

  int64_t rank() const override { return env_.rank; }
  int64_t world_size() const override { return pg_ ? pg_->world_size() : env_.world_size; }
  at::Device device() const override { return device_; }

  void start(training::RecipeState& state) override {
    pg_ = std::make_shared<distributed::ProcessGroup>(env_, device_, pg_options_);
    const bool rank0 = pg_->rank() == 0;
    if (!seed_given_)
      state.seed = static_cast<int64_t>(pg_->sum(rank0 ? static_cast<double>(state.seed) : 0.0));
    if (rank0)
      std::cout << "Distributed: " << pg_->world_size() << " processes (" << pg_->backend_name()
                << ", launched by " << env_.launcher << "), " << device_.str() << " on rank 0\n";
  }
  void on_rank_zero(const std::function<void()>& body, const std::string& what) override {
    pg_->all_succeed([&] { is_rank_zero() ? body() : void(); }, what);
  }
  void everywhere(const std::function<void()>& body, const std::string& what) override {
    pg_->all_succeed(body, what);
  }
  bool sharded() const override { return true; }

  // The model is built on the meta device and sharded: no rank ever holds it whole.
  void setup_model(modules::TransformerDecoder& model, at::ScalarType dtype, StateDict* full,
                   const std::string& where) override {
    sharded_ = distributed::fully_shard(model, pg_, device_, dtype, shard_options_);
    // Strict (torchtune's load_state_dict); checkpoint tensors are released as they are copied.
    if (full) sharded_->load_full_state_dict(std::move(*full), where);
    param_names_ = key_names(modules::named_parameters(model));
  }
  StateDict parameters() const override { return sharded_->sharded_parameters(); }

  // A sharded checkpoint is read shard by shard, whatever rank count wrote it; from a full
  // one every rank takes its slices.
  PickleValue optimizer_state_to_load(const PickleValue& saved,
                                      const checkpointing::Checkpointer& checkpointer,
                                      bool from_shards, const std::string& where) override {
    checkpointing::NamedOptimizerState full =
        checkpointing::to_named_optimizer_state(saved, param_names_, where);
    const checkpointing::NamedOptimizerState mine =
        from_shards ? checkpointer.read_shards(model_shards(), full.group)
                    : sharded_->shard_optimizer_state(full, where);
    return checkpointing::from_named_optimizer_state(mine, checkpointing::OptimizerLayout::kIndexed,
                                                     sharded_->unit_names());
  }

  // Gradients are summed over ranks by the reduce-scatters; the loss and token count are
  // summed here, with whether any rank was asked to stop, in one collective.
  StepTotals finish_step(const at::Tensor& running_loss, int64_t tokens, bool stop) override {
    sharded_->finish_backward();
    const auto f64 = at::TensorOptions().dtype(at::kDouble);
    at::Tensor totals = at::stack({running_loss.to(at::kDouble).reshape({}),
                                   at::scalar_tensor(static_cast<double>(tokens), f64).to(device_),
                                   at::scalar_tensor(stop ? 1.0 : 0.0, f64).to(device_)});
    pg_->all_reduce(totals);
    totals = totals.cpu();
    return {totals[0], static_cast<int64_t>(totals[1].item<double>()),
            totals[2].item<double>() > 0};
  }
  double clip_grad_norm(training::Optimizer&, double max_norm) override {
    return sharded_->clip_grad_norm(max_norm);
  }
  bool any_stop(bool stop) override { return pg_->max(stop ? 1 : 0) != 0; }

  // Every rank gathers (collectives), rank 0 writes; the others wait for the folder to be in
  // place, so a save is complete everywhere before training goes on. With
  // sharded_checkpoints, intermediate checkpoints are written by every rank at once, its
  // own shard, into the folder rank 0's checkpointer is assembling (the final one stays
  // full, in the input's format). A failure on any rank stops every rank, each with one
  // line, and leaves no part of the folder behind.
  void save(checkpointing::Checkpointer& checkpointer, const std::string& folder,
            const training::Optimizer& optimizer, const RecipeStateFn* make_recipe_state) override {
    if (make_recipe_state && sharded_checkpoints_) {
      save_shards(checkpointer, folder, optimizer, *make_recipe_state);
      return;
    }
    StateDict weights = sharded_->gather_full_state_dict();
    std::optional<PickleValue> recipe_state;
    if (make_recipe_state) {
      PickleValue full = full_optimizer_state(optimizer);
      if (is_rank_zero()) recipe_state = (*make_recipe_state)(std::move(full));
    }
    on_rank_zero(
        [&] { checkpointer.save_folder(weights, folder, recipe_state ? &*recipe_state : nullptr); },
        "saving " + folder);
  }

  void finish() override { pg_->finish(); }
  std::optional<Error> explain_failure(const std::exception& e) const override {
    return distributed::collective_failure(e, rank());
  }

 private:
  // This rank's shards as the sharded checkpoint files describe them (the tensors are the
  // optimizer's parameters themselves: reading fills them in place).
  checkpointing::ModelShards model_shards() const {
    checkpointing::ModelShards shards{pg_->rank(), pg_->world_size(), {}};
    for (const auto& u : sharded_->units()) {
      checkpointing::ShardedUnit unit{u.name, u.keys, {}, u.offsets, u.numel, u.shard};
      for (const at::Tensor& p : u.params) unit.shapes.push_back(p.sizes().vec());
      shards.units.push_back(std::move(unit));
    }
    return shards;
  }

  // The optimizer's state (indexed by unit, as it steps the units' shards) keyed by unit name,
  // the layout every conversion here goes through.
  checkpointing::NamedOptimizerState named_state(const training::Optimizer& optimizer) const {
    return checkpointing::to_named_optimizer_state(optimizer.state_dict(), sharded_->unit_names(),
                                                   "optimizer");
  }

  // The full optimizer state in torchtune's distributed layout on rank 0 (every rank gathers).
  PickleValue full_optimizer_state(const training::Optimizer& optimizer) {
    checkpointing::NamedOptimizerState sharded = named_state(optimizer);
    checkpointing::NamedOptimizerState full = sharded_->gather_optimizer_state(sharded);
    if (!is_rank_zero()) return PickleValue::none();
    return checkpointing::from_named_optimizer_state(full, checkpointing::OptimizerLayout::kNamed,
                                                     param_names_);
  }

  void save_shards(checkpointing::Checkpointer& checkpointer, const std::string& folder,
                   const training::Optimizer& optimizer, const RecipeStateFn& make_recipe_state) {
    const checkpointing::NamedOptimizerState mine = named_state(optimizer);
    // What every rank writes, about: its shard of the weights and of the optimizer state.
    uint64_t shard_bytes = 0;
    for (const auto& [name, p] : sharded_->sharded_parameters())
      shard_bytes += static_cast<uint64_t>(p.numel()) * p.element_size();
    for (const auto& [name, state] : mine.state) shard_bytes += checkpointing::tensor_bytes(state);
    std::string staging;
    auto begin = [&] {
      // The recipe state's "optimizer" carries only the parameter group.
      checkpointing::NamedOptimizerState group_only;
      group_only.group = mine.group;
      PickleValue recipe_state = make_recipe_state(checkpointing::from_named_optimizer_state(
          group_only, checkpointing::OptimizerLayout::kNamed, param_names_));
      staging = checkpointer.begin_save(folder, &recipe_state,
                                        shard_bytes * static_cast<uint64_t>(pg_->world_size()));
    };
    on_rank_zero(begin, "preparing " + folder);
    const std::string dir = pg_->broadcast_string(staging, 0);
    try {
      // Every shard is on disk before rank 0 completes the folder.
      everywhere([&] { checkpointer.write_rank_shard(model_shards(), mine, dir); },
                 "writing its shard of " + folder);
      on_rank_zero([&] { checkpointer.finish_save(); }, "saving " + folder);
    } catch (...) {
      if (is_rank_zero()) checkpointer.abandon_save();
      throw;
    }
  }

  distributed::DistributedEnv env_;
  at::Device device_;
  distributed::ProcessGroupOptions pg_options_;
  distributed::FullyShardOptions shard_options_;
  distributed::ProcessGroupPtr pg_;
  distributed::FullyShardedDecoderPtr sharded_;
  std::vector<std::string> param_names_;
  bool sharded_checkpoints_ = false;
  bool seed_given_ = false;
};

}  // namespace

ProcessesPtr one_process(const config::Config& cfg) {
  return std::make_unique<OneProcess>(cfg);
}
ProcessesPtr sharded_processes(const config::Config& cfg) {
  return std::make_unique<ShardedProcesses>(cfg);
}

}  // namespace tt::recipes
