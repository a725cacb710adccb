// The built-in recipes `tune` knows: torchtune's names, the configs each owns (as in
// torchtune's _recipe_registry.py), whether it runs under a multi-process launch, and the
// top-level config keys it reads, declared once (type, default, value constraint) so that
// `tune validate` and the recipe's own start-up make the same checks:
//
//   tt::cli::enforce_recipe_config(cfg, "full_finetune_single_device");  // first thing a recipe
//   does
#pragma once

#include <string>
#include <vector>

#include "torchtune_cpp/config/config.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/config/validate.h"

namespace tt::cli {

struct RecipeInfo {
  std::string name;                  // "full_finetune_single_device"
  std::string source;                // "full_finetune_single_device.cpp" (in share/recipes)
  std::vector<std::string> configs;  // built-in config names it owns: "llama2/7B_full"
  bool supports_distributed = false;
  std::vector<config::ArgSpec> keys;  // top-level config keys the recipe reads
  // Sources beside `source` that the program is built from (the shared loop and its seam);
  // `tune cp` copies them too.
  std::vector<std::string> shared_sources;
};

const std::vector<RecipeInfo>& builtin_recipes();
const RecipeInfo* find_recipe(const std::string& name);
// The recipe that owns a built-in config name, or nullptr.
const RecipeInfo* config_owner(const std::string& config_name);
// The recipe whose declarations check a config of unknown ownership (`tune validate
// my.yaml`): full_finetune, which runs either recipe.
const RecipeInfo& any_recipe();
std::vector<std::string> key_names(const RecipeInfo& recipe);

// Checks of this machine (is the CUDA device there?): errors for `tune run`, warnings for
// `tune validate`, which may run elsewhere.
enum class MachineChecks { kWarn, kError };

// Every check `recipe` makes of a config before any work: components against their
// builders' declarations, the recipe's declared keys, rules across keys (optimizer_in_bwd
// with clip_grad_norm, ...), and the device on this machine. `raw` as given (unresolved),
// `origin` the file.
config::ValidationReport check_recipe_config(const config::Node& raw, const std::string& origin,
                                             const RecipeInfo& recipe, MachineChecks machine);

// What a built-in recipe calls first: check_recipe_config with machine errors; prints the
// warnings and throws one tt::Error listing every problem.
void enforce_recipe_config(const config::Config& cfg, const std::string& recipe_name);

}  // namespace tt::cli
