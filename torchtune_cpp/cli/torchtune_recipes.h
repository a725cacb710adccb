// torchtune 0.6.1's recipe registry (torchtune/_recipe_registry.py): the recipes and shipped
// configs this project does not provide, so `tune run lora_finetune_single_device`, `tune cat
// llama3/8B_full` and the like say so, and say how to run them on our checkpoints (which are
// in torchtune's format), instead of "no such file".
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace tt::cli {

struct TorchtuneRecipe {
  std::string name;                  // "lora_finetune_single_device"
  std::vector<std::string> configs;  // its configs: "llama2/7B_lora_single_device", ...
};

// Every recipe of torchtune 0.6.1 with its configs, the two provided here included.
const std::vector<TorchtuneRecipe>& torchtune_recipes();

// The message for a torchtune recipe this project does not provide (any dev/ recipe
// included); nullopt for other names.
std::optional<std::string> recipe_not_provided(const std::string& name);

// The message for a torchtune config this project does not ship; nullopt for other names.
std::optional<std::string> config_not_provided(const std::string& name);

}  // namespace tt::cli
