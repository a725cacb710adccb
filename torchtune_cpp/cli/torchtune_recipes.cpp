// torchtune 0.6.1's recipes and configs, and the messages for those not provided.
#include "torchtune_cpp/cli/torchtune_recipes.h"

#include <algorithm>

#include "torchtune_cpp/cli/recipe_registry.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::cli {

const std::vector<TorchtuneRecipe>& torchtune_recipes() {
  static const std::vector<TorchtuneRecipe> recipes = {
      {"full_finetune_single_device",
       {"llama2/7B_full_low_memory", "code_llama2/7B_full_low_memory",
        "llama3/8B_full_single_device", "llama3_1/8B_full_single_device",
        "llama3_2/1B_full_single_device", "llama3_2/3B_full_single_device",
        "mistral/7B_full_low_memory", "phi3/mini_full_low_memory", "phi4/14B_full_low_memory",
        "qwen2/7B_full_single_device", "qwen2/0.5B_full_single_device",
        "qwen2/1.5B_full_single_device", "qwen2_5/0.5B_full_single_device",
        "qwen2_5/1.5B_full_single_device", "qwen2_5/3B_full_single_device",
        "qwen2_5/7B_full_single_device", "llama3_2_vision/11B_full_single_device"}},
      {"full_finetune_distributed", {"llama2/7B_full",          "llama2/13B_full",
                                     "llama3/8B_full",          "llama3_1/8B_full",
                                     "llama3_2/1B_full",        "llama3_2/3B_full",
                                     "llama3/70B_full",         "llama3_1/70B_full",
                                     "llama3_3/70B_full",       "llama3_3/70B_full_multinode",
                                     "mistral/7B_full",         "gemma/2B_full",
                                     "gemma/7B_full",           "gemma2/2B_full",
                                     "gemma2/9B_full",          "gemma2/27B_full",
                                     "phi3/mini_full",          "phi4/14B_full",
                                     "qwen2/7B_full",           "qwen2/0.5B_full",
                                     "qwen2/1.5B_full",         "qwen2_5/0.5B_full",
                                     "qwen2_5/1.5B_full",       "qwen2_5/3B_full",
                                     "qwen2_5/7B_full",         "llama3_2_vision/11B_full",
                                     "llama3_2_vision/90B_full"}},
      {"lora_finetune_single_device",
       {"llama2/7B_lora_single_device",           "llama2/7B_qlora_single_device",
        "code_llama2/7B_lora_single_device",      "code_llama2/7B_qlora_single_device",
        "llama3/8B_lora_single_device",           "llama3_1/8B_lora_single_device",
        "llama3/8B_qlora_single_device",          "llama3_2/1B_lora_single_device",
        "llama3_2/3B_lora_single_device",         "llama3/8B_dora_single_device",
        "llama3/8B_qdora_single_device",          "llama3_1/8B_qlora_single_device",
        "llama3_2/1B_qlora_single_device",        "llama3_2/3B_qlora_single_device",
        "llama2/13B_qlora_single_device",         "mistral/7B_lora_single_device",
        "mistral/7B_qlora_single_device",         "gemma/2B_lora_single_device",
        "gemma/2B_qlora_single_device",           "gemma/7B_lora_single_device",
        "gemma/7B_qlora_single_device",           "gemma2/2B_lora_single_device",
        "gemma2/2B_qlora_single_device",          "gemma2/9B_lora_single_device",
        "gemma2/9B_qlora_single_device",          "gemma2/27B_lora_single_device",
        "gemma2/27B_qlora_single_device",         "phi3/mini_lora_single_device",
        "phi3/mini_qlora_single_device",          "phi4/14B_lora_single_device",
        "phi4/14B_qlora_single_device",           "qwen2/7B_lora_single_device",
        "qwen2/0.5B_lora_single_device",          "qwen2/1.5B_lora_single_device",
        "qwen2_5/0.5B_lora_single_device",        "qwen2_5/1.5B_lora_single_device",
        "qwen2_5/3B_lora_single_device",          "qwen2_5/7B_lora_single_device",
        "qwen2_5/14B_lora_single_device",         "llama3_2_vision/11B_lora_single_device",
        "llama3_2_vision/11B_qlora_single_device"}},
      {"lora_dpo_single_device",
       {"llama2/7B_lora_dpo_single_device", "llama3_1/8B_lora_dpo_single_device"}},
      {"lora_dpo_distributed", {"llama2/7B_lora_dpo", "llama3_1/8B_lora_dpo"}},
      {"full_dpo_distributed", {"llama3_1/8B_full_dpo"}},
      {"ppo_full_finetune_single_device", {"mistral/7B_full_ppo_low_memory"}},
      {"lora_finetune_distributed",
       {"llama2/7B_lora",
        "llama2/13B_lora",
        "llama2/70B_lora",
        "llama2/7B_qlora",
        "llama2/70B_qlora",
        "llama3/8B_dora",
        "llama3/70B_lora",
        "llama3_1/70B_lora",
        "llama3_3/70B_lora",
        "llama3_3/70B_qlora",
        "llama3/8B_lora",
        "llama3_1/8B_lora",
        "llama3_2/1B_lora",
        "llama3_2/3B_lora",
        "llama3_1/405B_qlora",
        "mistral/7B_lora",
        "gemma/2B_lora",
        "gemma/7B_lora",
        "gemma2/2B_lora",
        "gemma2/9B_lora",
        "gemma2/27B_lora",
        "phi3/mini_lora",
        "phi4/14B_lora",
        "qwen2/7B_lora",
        "qwen2/0.5B_lora",
        "qwen2/1.5B_lora",
        "qwen2_5/0.5B_lora",
        "qwen2_5/1.5B_lora",
        "qwen2_5/3B_lora",
        "qwen2_5/7B_lora",
        "qwen2_5/32B_lora",
        "qwen2_5/72B_lora",
        "llama3_2_vision/11B_lora",
        "llama3_2_vision/11B_qlora",
        "llama3_2_vision/90B_lora",
        "llama3_2_vision/90B_qlora"}},
      {"dev/lora_finetune_distributed_multi_dataset", {"dev/11B_lora_multi_dataset"}},
      {"generate", {"generation"}},
      {"dev/generate_v2", {"llama2/generation_v2", "llama3_2_vision/11B_generation_v2"}},
      {"dev/generate_v2_distributed",
       {"llama3/70B_generation_distributed", "llama3_1/70B_generation_distributed",
        "llama3_3/70B_generation_distributed"}},
      {"dev/early_exit_finetune_distributed", {"llama2/7B_full_early_exit"}},
      {"eleuther_eval",
       {"eleuther_evaluation", "llama3_2_vision/11B_evaluation", "qwen2/evaluation",
        "qwen2_5/evaluation", "gemma/evaluation", "phi4/evaluation", "phi3/evaluation",
        "mistral/evaluation", "llama3_2/evaluation", "code_llama2/evaluation"}},
      {"quantize", {"quantization"}},
      {"qat_distributed", {"llama2/7B_qat_full", "llama3/8B_qat_full"}},
      {"qat_lora_finetune_distributed",
       {"llama3/8B_qat_lora", "llama3_1/8B_qat_lora", "llama3_2/1B_qat_lora",
        "llama3_2/3B_qat_lora"}},
      {"knowledge_distillation_single_device",
       {"qwen2/1.5_to_0.5B_KD_lora_single_device", "llama3_2/8B_to_1B_KD_lora_single_device"}},
      {"knowledge_distillation_distributed",
       {"qwen2/1.5_to_0.5B_KD_lora_distributed", "llama3_2/8B_to_1B_KD_lora_distributed"}},
  };
  return recipes;
}

namespace {

// How to run torchtune's own recipe on what torchtune_cpp wrote: the output folders are in
// torchtune's format.
std::string how_to_run_in_python(const std::string& recipe) {
  return str(
      "torchtune_cpp's checkpoints are in torchtune's format, so Python torchtune can run it on "
      "them: "
      "`tune run ",
      recipe,
      " --config <its config> checkpointer.checkpoint_dir=<our output_dir>/epoch_N` "
      "(with the checkpointer and model_type of the run that wrote it). torchtune_cpp runs "
      "full_finetune_single_device and full_finetune_distributed (`tune ls`)");
}

}  // namespace

std::optional<std::string> recipe_not_provided(const std::string& name) {
  if (find_recipe(name) != nullptr) return std::nullopt;
  bool known = name.rfind("dev/", 0) == 0;
  for (const TorchtuneRecipe& r : torchtune_recipes()) known |= r.name == name;
  if (!known) return std::nullopt;
  return str("'", name, "' is a torchtune recipe that torchtune_cpp does not provide (yet). ",
             how_to_run_in_python(name));
}

std::optional<std::string> config_not_provided(const std::string& name) {
  for (const TorchtuneRecipe& r : torchtune_recipes()) {
    if (std::find(r.configs.begin(), r.configs.end(), name) == r.configs.end()) continue;
    if (find_recipe(r.name) != nullptr)
      return str("'", name, "' is a config of torchtune's ", r.name,
                 " that torchtune_cpp does not ship (it ships configs for the Llama2 family; `tune "
                 "ls` lists them)");
    return str("'", name, "' is a config of torchtune's ", r.name,
               " recipe, which torchtune_cpp does not provide (yet). ",
               how_to_run_in_python(r.name));
  }
  return std::nullopt;
}

}  // namespace tt::cli
