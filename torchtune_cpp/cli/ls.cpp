// `tune ls`: the RECIPE/CONFIG table, laid out as torchtune prints it.
#include <cstdio>
#include <iostream>

#include "torchtune_cpp/cli/commands.h"
#include "torchtune_cpp/cli/recipe_registry.h"
#include "torchtune_cpp/components.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::cli {

namespace {

void row(const std::string& recipe, const std::string& config) {
  std::printf("%-40s %-40s\n", recipe.c_str(), config.c_str());
}

void list_components() {
  register_builtin_components();
  std::printf("%-56s %s\n", "COMPONENT", "BUILDS");
  for (const std::string& name : config::registered_names()) {
    const config::RegisteredComponent* c = config::find_component(name);
    std::string kind = c->spec.kind;
    if (c->spec.name != name) kind += " (alias of " + c->spec.name + ")";
    std::printf("%-56s %s\n", name.c_str(), kind.c_str());
  }
}

}  // namespace

int cmd_ls(const Args& args) {
  bool components = false;
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") {
      std::cout << "usage: tune ls [-h] [--components]\n\n"
                   "List all built-in recipes and configs.\n\n"
                   "  --components  list the registered config components instead\n";
      return 0;
    }
    TT_CHECK(a == "--components", "tune ls", "unrecognized argument '", a,
             "'; `tune ls` takes only --components");
    components = true;
  }
  if (components) {
    list_components();
    return 0;
  }
  row("RECIPE", "CONFIG");
  for (const RecipeInfo& r : builtin_recipes()) {
    if (r.configs.empty()) {
      row(r.name, "<>");
      continue;
    }
    for (size_t i = 0; i < r.configs.size(); ++i) row(i == 0 ? r.name : "", r.configs[i]);
  }
  return 0;
}

}  // namespace tt::cli
