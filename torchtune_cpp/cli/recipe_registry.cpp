// Built-in recipe table.
#include "torchtune_cpp/cli/recipe_registry.h"

#include <algorithm>

namespace tt::cli {

namespace {

// Keys torchtune v0.6.1's single-device full fine-tuning recipe reads.
std::vector<std::string> single_device_keys() {
  return {"output_dir", "tokenizer", "dataset", "seed", "shuffle", "model", "checkpointer",
          "resume_from_checkpoint", "batch_size", "epochs", "optimizer", "optimizer_in_bwd",
          "lr_scheduler", "loss", "max_steps_per_epoch", "gradient_accumulation_steps",
          "clip_grad_norm", "compile", "device", "enable_activation_checkpointing",
          "enable_activation_offloading", "dtype", "metric_logger", "log_every_n_steps",
          "log_peak_memory_stats", "profiler", "cudnn_deterministic_mode", "collate_fn",
          // torchtune_cpp's additions (docs/checkpointing.md)
          "save_every_n_steps"};
}

// The distributed recipe reads the same keys plus its sharding and parallelism keys.
std::vector<std::string> distributed_keys() {
  std::vector<std::string> keys = single_device_keys();
  for (const char* k : {"enable_async_checkpointing", "fsdp_cpu_offload", "tensor_parallel_plan",
                        "tensor_parallel_dim", "custom_sharded_layers",
                        "fsdp_reshard_after_forward", "ac_mode", "ac_option",
                        // torchtune_cpp's additions: the bound on every collective, and
                        // intermediate checkpoints written by every rank
                        "process_group_timeout_seconds", "sharded_checkpoints"})
    keys.emplace_back(k);
  return keys;
}

}  // namespace

const std::vector<RecipeInfo>& builtin_recipes() {
  static const std::vector<RecipeInfo> recipes = {
      {"full_finetune_single_device", "full_finetune_single_device.cpp",
       {"llama2/7B_full_low_memory", "llama2/tiny_full"}, false, single_device_keys()},
      {"full_finetune_distributed", "full_finetune_distributed.cpp",
       {"llama2/7B_full", "llama2/13B_full"}, true, distributed_keys()},
      // torchtune_cpp's addition: one name for both; runs the single-device recipe alone and
      // the distributed one under a multi-process launch.
      {"full_finetune", "", {}, true, distributed_keys()},
  };
  return recipes;
}

const RecipeInfo* find_recipe(const std::string& name) {
  for (const RecipeInfo& r : builtin_recipes())
    if (r.name == name) return &r;
  return nullptr;
}

const RecipeInfo* config_owner(const std::string& config_name) {
  for (const RecipeInfo& r : builtin_recipes())
    if (std::find(r.configs.begin(), r.configs.end(), config_name) != r.configs.end()) return &r;
  return nullptr;
}

std::vector<std::string> all_recipe_keys() {
  std::vector<std::string> keys;
  for (const RecipeInfo& r : builtin_recipes())
    for (const std::string& k : r.keys)
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  return keys;
}

}  // namespace tt::cli
