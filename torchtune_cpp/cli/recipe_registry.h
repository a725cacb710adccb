// The built-in recipes `tune` knows: torchtune's names, the configs each owns (as in
// torchtune's _recipe_registry.py), whether it runs under a multi-process launch, and the
// top-level config keys it reads (so other keys get an "unused key" warning).
#pragma once

#include <string>
#include <vector>

namespace tt::cli {

struct RecipeInfo {
  std::string name;                      // "full_finetune_single_device"
  std::string source;                    // "full_finetune_single_device.cpp" (in share/recipes)
  std::vector<std::string> configs;      // built-in config names it owns: "llama2/7B_full"
  bool supports_distributed = false;
  std::vector<std::string> keys;         // top-level config keys the recipe reads
};

const std::vector<RecipeInfo>& builtin_recipes();
const RecipeInfo* find_recipe(const std::string& name);
// The recipe that owns a built-in config name, or nullptr.
const RecipeInfo* config_owner(const std::string& config_name);
// Every top-level key some built-in recipe reads (for configs of unknown ownership).
std::vector<std::string> all_recipe_keys();

}  // namespace tt::cli
