// `tune cat <config> [--sort]`: prints a built-in or local config as YAML.
#include <iostream>

#include "torchtune_cpp/cli/commands.h"
#include "torchtune_cpp/cli/paths.h"
#include "torchtune_cpp/cli/recipe_registry.h"
#include "torchtune_cpp/cli/torchtune_recipes.h"
#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::cli {

int cmd_cat(const Args& args) {
  std::string name;
  bool sort = false;
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") {
      std::cout << "usage: tune cat [-h] [--sort] config_name\n\n"
                   "Print out the contents of a built-in config (e.g. llama2/7B_full) or a local\n"
                   "YAML file.\n\n"
                   "  --sort   print the keys in sorted order\n";
      return 0;
    }
    if (a == "--sort") {
      sort = true;
    } else {
      TT_CHECK(a.rfind("-", 0) != 0, "tune cat", "unrecognized option '", a, "'");
      TT_CHECK(name.empty(), "tune cat", "expected one config name, got '", name, "' and '", a,
               "'");
      name = a;
    }
  }
  TT_CHECK(!name.empty(), "tune cat", "name a config, e.g. `tune cat llama2/7B_full`");
  TT_CHECK(find_recipe(name) == nullptr, "tune cat " + name, "'", name,
           "' is a recipe, not a config; `tune ls` lists the configs");
  fs::path path = resolve_config(name);
  if (!fs::exists(path)) {
    if (auto why = recipe_not_provided(name)) throw Error("tune cat " + name, *why);
    if (auto why = config_not_provided(name)) throw Error("tune cat " + name, *why);
  }
  TT_CHECK(path.extension() == ".yaml" || path.extension() == ".yml", name,
           "is neither a built-in config (see `tune ls`) nor a .yaml/.yml file");
  TT_CHECK(fs::is_regular_file(path), path.string(), "no such config file");
  config::Node root = config::load_yaml_file(path.string());
  std::cout << config::emit_yaml(root, config::EmitOptions{4, sort});
  return 0;
}

}  // namespace tt::cli
