// Built-in recipe table and the declarations of the keys each recipe reads.
#include "torchtune_cpp/cli/recipe_registry.h"

#include <algorithm>
#include <iostream>

#include "torchtune_cpp/config/interpolate.h"
#include "torchtune_cpp/training/activation_checkpointing.h"
#include "torchtune_cpp/training/device.h"
#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/strings.h"

namespace tt::cli {

namespace {

using config::arg;
using config::ArgSpec;
using config::ArgType;
using config::Constraint;
using config::Node;
using config::Problem;

// Which recipe a declaration is for: the two programs, or either (full_finetune, and
// configs of unknown ownership), which accepts what one of them accepts.
enum class Flavor { kSingle, kDistributed, kEither };

bool is_cuda_index(const std::string& s) {
  return s.size() > 5 && s.rfind("cuda:", 0) == 0 && s.size() < 15 &&
         s.find_first_not_of("0123456789", 5) == std::string::npos;
}

Constraint device_constraint(Flavor flavor) {
  return config::satisfies([flavor](const Node& v) -> std::optional<std::string> {
    const std::string& d = v.text;
    if (d == "cpu" || d == "cuda") return std::nullopt;
    if (flavor != Flavor::kDistributed && is_cuda_index(d)) return std::nullopt;
    if (flavor == Flavor::kDistributed)
      return str("'", d,
                 "' is not a device this recipe uses; use cpu or cuda (each process takes "
                 "cuda:LOCAL_RANK)");
    return str("'", d, "' is not a device torchtune_cpp trains on; use cpu, cuda or cuda:N");
  });
}

Constraint dtype_constraint() {
  Constraint c = config::one_of({"fp32", "bf16", "fp64"});
  c.refused = {
      {"fp16",
       "full fp16 training is not supported with this recipe. Please use bf16 or fp32 instead."}};
  return c;
}

Constraint collate_constraint() {
  return config::satisfies([](const Node& v) -> std::optional<std::string> {
    const std::string& c = v.text;
    if (c.find("left_pad_sequence") != std::string::npos)
      return "left_pad_sequence collator is only for inference.";
    if (c == "torchtune.data.padded_collate_sft" || c == "torchtune.data.padded_collate_packed")
      return std::nullopt;
    return str("'", c,
               "' is not a collate function torchtune_cpp provides; use "
               "torchtune.data.padded_collate_sft ",
               "(packed datasets use torchtune.data.padded_collate_packed)");
  });
}

// A key that must hold `allowed` (a boolean or integer) in this recipe, with why.
Constraint only(const std::string& allowed, std::string why) {
  return config::satisfies([allowed, why](const Node& v) -> std::optional<std::string> {
    if (v.python_str() == allowed || v.text == allowed) return std::nullopt;
    return why;
  });
}

// The keys of torchtune v0.6.1's full fine-tuning recipes (its required keys are required
// here too), with torchtune_cpp's additions.
std::vector<ArgSpec> recipe_keys(Flavor flavor) {
  const bool single = flavor == Flavor::kSingle;
  // The single-device recipe reads these as attributes (required); the distributed one
  // with .get (default False).
  auto single_required = [&](const char* name, const char* help) {
    return single ? arg(name, ArgType::kBool, help) : arg(name, ArgType::kBool, "False", help);
  };
  std::vector<ArgSpec> keys = {
      arg("output_dir", ArgType::kString, "folder of the run's checkpoints and logs"),
      arg("tokenizer", ArgType::kMap, "the tokenizer component"),
      arg("dataset", ArgType::kListOrMap, "a dataset component, or a list of them"),
      arg("seed", ArgType::kInt, "null", "null draws one at random (recorded in the checkpoint)"),
      arg("shuffle", ArgType::kBool, "shuffle the samples every epoch"),
      arg("model", ArgType::kMap, "the model component"),
      arg("checkpointer", ArgType::kMap, "the checkpointer component"),
      arg("resume_from_checkpoint", ArgType::kBool,
          "continue from the latest checkpoint in output_dir"),
      arg("batch_size", ArgType::kInt, "samples per micro-batch", config::at_least(1)),
      arg("epochs", ArgType::kInt, "passes over the dataset", config::at_least(1)),
      arg("optimizer", ArgType::kMap, "the optimizer component"),
      single_required("optimizer_in_bwd", "update each parameter from its gradient hook"),
      arg("lr_scheduler", ArgType::kMap, "null", "the learning-rate schedule component"),
      arg("loss", ArgType::kMap, "the loss component"),
      arg("max_steps_per_epoch", ArgType::kInt, "null", "cap on optimizer steps per epoch",
          config::with_hint(config::at_least(1), "null runs whole epochs")),
      arg("gradient_accumulation_steps", ArgType::kInt, "micro-batches per optimizer step",
          config::at_least(1)),
      arg("clip_grad_norm", ArgType::kFloat, "null", "maximum gradient norm",
          config::with_hint(config::greater_than(0), "null turns clipping off")),
      single_required("compile", "accepted; has no effect in torchtune_cpp"),
      arg("device", ArgType::kString, "cpu or cuda", device_constraint(flavor)),
      arg("enable_activation_checkpointing", ArgType::kBool, "False",
          "recompute layer activations in backward"),
      arg("enable_activation_offloading", ArgType::kBool, "False",
          "checkpointed activations in host memory"),
      // torchtune 0.6.1 reads these in its distributed recipe only; here both recipes do.
      arg("ac_mode", ArgType::kAny, "null",
          "full, selective or none (with enable_activation_checkpointing: False)"),
      arg("ac_option", ArgType::kAny, "null",
          "with ac_mode: selective, checkpoint layers k, 2k, ... (0 or 1: every layer)"),
      arg("dtype", ArgType::kString, "null", "fp32 or bf16", dtype_constraint()),
      arg("metric_logger", ArgType::kMap, "the metric logger component"),
      arg("log_every_n_steps", ArgType::kInt, "1", "log every N optimizer steps",
          config::at_least(1)),
      arg("log_peak_memory_stats", ArgType::kBool, "False", "log peak CUDA memory"),
      arg("profiler", ArgType::kMap, "null", "the profiler component"),
      arg("cudnn_deterministic_mode", ArgType::kAny, "null", "accepted; no effect"),
      arg("collate_fn", ArgType::kString, "torchtune.data.padded_collate_sft",
          "the collate function", collate_constraint()),
      // torchtune_cpp's additions (docs/checkpointing.md, docs/performance.md)
      arg("fused_kernels", ArgType::kBool, "False",
          "fused CUDA kernels for RMSNorm, SwiGLU and RoPE (CUDA only)"),
      arg("save_every_n_steps", ArgType::kInt, "null",
          "mid-epoch checkpoints every N optimizer steps",
          config::with_hint(config::at_least(1), "null saves at epoch ends only")),
      arg("stop_on_nonfinite_loss", ArgType::kBool, "True",
          "stop at a NaN or Inf loss or gradient norm (False trains on, as torchtune)"),
  };
  if (flavor == Flavor::kSingle) return keys;
  // The distributed recipe's sharding and parallelism keys.
  const bool dist = flavor == Flavor::kDistributed;
  auto distributed_only = [&](ArgSpec a, const std::string& allowed, const std::string& why) {
    if (dist) a.check = only(allowed, why);
    return a;
  };
  keys.push_back(arg("enable_async_checkpointing", ArgType::kBool, "False",
                     "accepted; checkpoints are synchronous"));
  keys.push_back(arg("fsdp_cpu_offload", ArgType::kBool, "False",
                     "parameters and optimizer state in host memory"));
  keys.push_back(arg("tensor_parallel_plan", ArgType::kAny, "null", "not supported",
                     config::satisfies([](const Node&) -> std::optional<std::string> {
                       return "tensor parallelism is not supported; remove the key";
                     })));
  keys.push_back(
      distributed_only(arg("tensor_parallel_dim", ArgType::kInt, "1", "must be 1"), "1",
                       "tensor parallelism is not supported; set tensor_parallel_dim: 1"));
  keys.push_back(arg("custom_sharded_layers", ArgType::kAny, "null",
                     "accepted; every layer is a sharding unit"));
  keys.push_back(arg("fsdp_reshard_after_forward", ArgType::kBool, "True",
                     "free gathered parameters after forward"));
  // torchtune_cpp's additions: the bound on every collective, and intermediate checkpoints
  // written by every rank.
  keys.push_back(arg("process_group_timeout_seconds", ArgType::kInt, "600",
                     "bound on every collective",
                     config::satisfies([](const Node& v) -> std::optional<std::string> {
                       if (v.as_int() && *v.as_int() >= 1) return std::nullopt;
                       return str("must be at least 1 (seconds), got ", v.text);
                     })));
  keys.push_back(
      arg("sharded_checkpoints", ArgType::kBool, "False", "every rank writes its shard"));
  if (dist)
    for (ArgSpec& k : keys)
      if (k.name == "optimizer_in_bwd")
        k.check =
            only("False",
                 "optimizer_in_bwd is not supported by full_finetune_distributed in torchtune_cpp "
                 "(sharding already divides the optimizer state by the number of ranks); set it to "
                 "False");
  return keys;
}

// Rules across keys (each value alone is fine), as torchtune's recipes check them.
std::vector<Problem> cross_key_problems(const Node& resolved, Flavor flavor) {
  std::vector<Problem> problems;
  auto value = [&](const char* key) { return resolved.find(key); };
  auto is_true = [&](const char* key) {
    const Node* n = value(key);
    return n != nullptr && n->as_bool().value_or(false);
  };
  auto set = [&](const char* key) {
    const Node* n = value(key);
    return n != nullptr && !n->is_null();
  };
  auto add = [&](const char* key, std::string message) {
    const Node* n = value(key);
    problems.push_back(
        Problem{n ? config::where_of(*n, key) : std::string(key), std::move(message)});
  };
  if (is_true("optimizer_in_bwd") && flavor != Flavor::kDistributed) {
    if (set("clip_grad_norm"))
      add("clip_grad_norm",
          "Gradient clipping is not supported with optimizer in bwd. Please set "
          "clip_grad_norm=None, "
          "or optimizer_in_bwd=False.");
    const Node* accum = value("gradient_accumulation_steps");
    if (accum != nullptr && accum->as_int().value_or(1) != 1)
      add("gradient_accumulation_steps",
          "Gradient accumulation is not supported with optimizer in bwd. Please set "
          "gradient_accumulation_steps=1, or optimizer_in_bwd=False.");
  }
  // ac_mode / ac_option against enable_activation_checkpointing and torchtune's quirks.
  if (std::optional<config::Problem> p = training::activation_checkpointing(resolved).problem)
    problems.push_back(*p);
  if (is_true("enable_activation_offloading")) {
    const Node* device = value("device");
    if (device != nullptr && device->text.rfind("cuda", 0) != 0)
      add("enable_activation_offloading",
          "enable_activation_offloading should only be True when training on CUDA");
    if (!is_true("enable_activation_checkpointing"))
      add("enable_activation_offloading",
          "enable_activation_offloading should only be True when enable_activation_checkpointing "
          "is True");
  }
  if (flavor == Flavor::kDistributed) {
    const Node* opt = resolved.find_path("optimizer._component_");
    if (opt != nullptr && opt->text == "bitsandbytes.optim.PagedAdamW8bit")
      problems.push_back(
          Problem{config::where_of(*opt, "optimizer._component_"),
                  "8-bit optimizer state is not supported by the distributed recipe; use "
                  "torch.optim.AdamW or bitsandbytes.optim.PagedAdamW"});
  }
  return problems;
}

Flavor flavor_of(const RecipeInfo& recipe) {
  if (recipe.name == "full_finetune_single_device") return Flavor::kSingle;
  if (recipe.name == "full_finetune_distributed") return Flavor::kDistributed;
  return Flavor::kEither;
}

}  // namespace

const std::vector<RecipeInfo>& builtin_recipes() {
  // Both full fine-tuning programs are one recipe with a different seam (recipes/).
  static const std::vector<std::string> kFullFinetuneSources = {
      "full_finetune.h", "full_finetune.cpp", "processes.cpp"};
  static const std::vector<RecipeInfo> recipes = {
      {"full_finetune_single_device",
       "full_finetune_single_device.cpp",
       {"llama2/7B_full_low_memory", "llama2/tiny_full"},
       false,
       recipe_keys(Flavor::kSingle),
       kFullFinetuneSources},
      {"full_finetune_distributed",
       "full_finetune_distributed.cpp",
       {"llama2/7B_full", "llama2/13B_full"},
       true,
       recipe_keys(Flavor::kDistributed),
       kFullFinetuneSources},
      // torchtune_cpp's addition: one name for both; runs the single-device recipe alone and
      // the distributed one under a multi-process launch.
      {"full_finetune", "", {}, true, recipe_keys(Flavor::kEither)},
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

const RecipeInfo& any_recipe() {
  return *find_recipe("full_finetune");
}

std::vector<std::string> key_names(const RecipeInfo& recipe) {
  std::vector<std::string> names;
  for (const ArgSpec& k : recipe.keys) names.push_back(k.name);
  return names;
}

config::ValidationReport check_recipe_config(const Node& raw, const std::string& origin,
                                             const RecipeInfo& recipe, MachineChecks machine) {
  config::ValidationReport report = config::validate_recipe_config(raw, recipe.keys, origin);
  Node resolved;
  try {
    resolved = config::resolve_all(raw);
  } catch (const Error&) {
    return report;  // reported by validate_recipe_config
  }
  if (!report.ok()) return report;  // the rules below assume well-formed values
  for (Problem& p : cross_key_problems(resolved, flavor_of(recipe)))
    report.errors.push_back(std::move(p));
  // The distributed recipe checks the device of its LOCAL_RANK itself, when it starts.
  const bool rank_checks_device =
      flavor_of(recipe) == Flavor::kDistributed && machine == MachineChecks::kError;
  if (const Node* device = resolved.find("device"); device != nullptr && !rank_checks_device) {
    if (auto why = training::device_unavailable(device->text)) {
      Problem p{config::where_of(*device, "device"), *why};
      if (machine == MachineChecks::kError)
        report.errors.push_back(std::move(p));
      else
        report.warnings.push_back(Problem{p.where, "on this machine: " + p.message});
    }
  }
  return report;
}

void enforce_recipe_config(const config::Config& cfg, const std::string& recipe_name) {
  const RecipeInfo* recipe = find_recipe(recipe_name);
  TT_CHECK(recipe != nullptr, recipe_name, "is not a built-in recipe");
  config::enforce(check_recipe_config(cfg.raw(), cfg.origin(), *recipe, MachineChecks::kError));
}

}  // namespace tt::cli
