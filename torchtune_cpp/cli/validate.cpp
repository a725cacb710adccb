// `tune validate <config>`: every check a recipe makes of its config before any work (the
// components against their builders' declarations, the recipe's declared keys, rules across
// keys), reporting every problem at once; a CUDA device missing on this machine is a warning.
#include <iostream>

#include "torchtune_cpp/cli/commands.h"
#include "torchtune_cpp/cli/paths.h"
#include "torchtune_cpp/cli/recipe_registry.h"
#include "torchtune_cpp/cli/torchtune_recipes.h"
#include "torchtune_cpp/components.h"
#include "torchtune_cpp/config/validate.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::cli {

int cmd_validate(const Args& args) {
  std::string name;
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") {
      std::cout << "usage: tune validate [-h] config\n\n"
                   "Validate a config and ensure that it is well-formed: every component is\n"
                   "registered and given only keywords of the declared types and values,\n"
                   "required ones included; the recipe's keys (epochs, batch_size, device, ...)\n"
                   "have valid values; interpolations resolve. These are the checks `tune run`\n"
                   "makes before any work. Keys no recipe reads are warnings.\n";
      return 0;
    }
    TT_CHECK(a.rfind("-", 0) != 0, "tune validate", "unrecognized option '", a, "'");
    TT_CHECK(name.empty(), "tune validate", "expected one config, got '", name, "' and '", a, "'");
    name = a;
  }
  TT_CHECK(!name.empty(), "tune validate", "name a config, e.g. `tune validate llama2/7B_full`");
  register_builtin_components();
  fs::path path = resolve_config(name);
  if (!fs::exists(path) && path.extension() != ".yaml" && path.extension() != ".yml")
    if (auto why = config_not_provided(name)) throw Error("tune validate " + name, *why);
  config::Node root = config::load_config_root(path.string());
  TT_CHECK(!root.is_null(), path.string(),
           "the config file is empty; copy a built-in config to start from "
           "(`tune cp llama2/7B_full my_config.yaml`)");
  // A built-in config is checked as its recipe reads it; any other as `full_finetune`
  // (either recipe) reads it.
  const RecipeInfo* owner = config_owner(name);
  config::ValidationReport report =
      check_recipe_config(root, path.string(), owner ? *owner : any_recipe(), MachineChecks::kWarn);
  for (const auto& w : report.warnings)
    std::cerr << "warning: " << w.where << ": " << w.message << "\n";
  if (!report.ok()) config::fail_with(report.errors);
  std::cout << "Config is well-formed!\n";
  return 0;
}

}  // namespace tt::cli
