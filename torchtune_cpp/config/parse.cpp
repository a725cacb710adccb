// Recipe command-line parsing.
#include "torchtune_cpp/config/parse.h"

#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/strings.h"

namespace tt::config {

RecipeArgs parse_recipe_args(int argc, char** argv) {
  RecipeArgs out;
  std::vector<std::string> unknown_flags;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      out.help = true;
    } else if (a == "--config") {
      TT_CHECK(i + 1 < argc, "--config", "expected a config path or built-in name after --config");
      out.config_path = argv[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      out.config_path = a.substr(9);
    } else if (a.rfind("--", 0) == 0) {
      unknown_flags.push_back("'" + a + "'");
    } else {
      out.overrides.push_back(a);
    }
  }
  if (out.help) return out;
  TT_CHECK(unknown_flags.empty(), "command line", "Additional flag arguments not supported: [",
           join(unknown_flags, ", "), "]. Please use --config or key=value overrides");
  TT_CHECK(!out.config_path.empty(), "command line", "The '--config' argument is required.");
  return out;
}

std::string recipe_usage(const std::string& recipe_name) {
  return str(
      "usage: ", recipe_name, " --config CONFIG [key=value ...] [~key ...]\n\n",
      "  --config CONFIG   path to a YAML config (tune run also accepts built-in names)\n",
      "  key=value         override a config value; a.b.c=v sets nested keys, k=[a,b] lists,\n",
      "                    k=None null; top_level_component=dotted.Name swaps its component\n",
      "  ~key              delete a key from the YAML\n");
}

}  // namespace tt::config
