// A recipe's command line, as torchtune's `@config.parse` reads it:
//   <recipe> --config <file.yaml> [key=value ...] [~key ...]
// Any other --flag is refused with torchtune's message.
#pragma once

#include <string>
#include <vector>

namespace tt::config {

struct RecipeArgs {
  std::string config_path;
  std::vector<std::string> overrides;
  bool help = false;
};

RecipeArgs parse_recipe_args(int argc, char** argv);

// The usage text recipes print for --help.
std::string recipe_usage(const std::string& recipe_name);

}  // namespace tt::config
