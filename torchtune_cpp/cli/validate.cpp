// `tune validate <config>`: checks every component against its builder's declared
// arguments and reports every problem at once.
#include <iostream>

#include "torchtune_cpp/cli/commands.h"
#include "torchtune_cpp/cli/paths.h"
#include "torchtune_cpp/cli/recipe_registry.h"
#include "torchtune_cpp/components.h"
#include "torchtune_cpp/config/validate.h"
#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::cli {

int cmd_validate(const Args& args) {
  std::string name;
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") {
      std::cout << "usage: tune validate [-h] config\n\n"
                   "Validate a config and ensure that it is well-formed: every component is\n"
                   "registered and given only keywords of the declared types, required ones\n"
                   "included; interpolations resolve. Keys no recipe reads are warnings.\n";
      return 0;
    }
    TT_CHECK(a.rfind("-", 0) != 0, "tune validate", "unrecognized option '", a, "'");
    TT_CHECK(name.empty(), "tune validate", "expected one config, got '", name, "' and '", a, "'");
    name = a;
  }
  TT_CHECK(!name.empty(), "tune validate", "name a config, e.g. `tune validate llama2/7B_full`");
  register_builtin_components();
  fs::path path = resolve_config(name);
  config::Node root = config::load_yaml_file(path.string());
  TT_CHECK(root.is_map(), path.string(), "a config must be a YAML mapping, found ",
           config::describe_type(root));
  const RecipeInfo* owner = config_owner(name);
  config::ValidationReport report =
      config::validate_config(root, owner ? owner->keys : all_recipe_keys());
  for (const auto& w : report.warnings) std::cerr << "warning: " << w.where << ": " << w.message << "\n";
  if (!report.ok()) config::fail_with(report.errors);
  std::cout << "Config is well-formed!\n";
  return 0;
}

}  // namespace tt::cli
