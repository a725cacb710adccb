// `tune run [launcher options] <recipe|path> --config <name|path> [key=value ...]`:
// resolves a built-in recipe to its executable and a built-in config name to its file. One
// process: this process becomes the recipe (so signals and exit status are the recipe's).
// Several (--nproc_per_node, --nnodes): the launcher starts this node's workers with
// torchrun's environment (distributed/launcher.h).
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>

#include "torchtune_cpp/cli/commands.h"
#include "torchtune_cpp/cli/paths.h"
#include "torchtune_cpp/cli/recipe_registry.h"
#include "torchtune_cpp/cli/torchtune_recipes.h"
#include "torchtune_cpp/distributed/launcher.h"
#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/strings.h"

namespace tt::cli {

namespace {

const char* kUsage =
    "usage: tune run [-h] [--nnodes N] [--nproc_per_node G] [--node_rank R]\n"
    "                [--master_addr A] [--master_port P] [--rdzv_endpoint H:P]\n"
    "                recipe --config CONFIG [key=value ...] [~key ...]\n\n"
    "Run a recipe. `recipe` is a built-in name from `tune ls` or the path of a recipe\n"
    "program built against torchtune_cpp. CONFIG is a built-in config name\n"
    "(llama2/7B_full) or a path to a YAML file. key=value overrides follow torchtune's rules.\n";

// torchrun's launcher options, in both spellings, and whether each takes a value.
const std::map<std::string, bool>& launcher_options() {
  static const std::map<std::string, bool> options = {
      {"--nnodes", true},        {"--nproc_per_node", true}, {"--nproc-per-node", true},
      {"--node_rank", true},     {"--node-rank", true},      {"--master_addr", true},
      {"--master-addr", true},   {"--master_port", true},    {"--master-port", true},
      {"--rdzv_endpoint", true}, {"--rdzv-endpoint", true},  {"--rdzv_backend", true},
      {"--rdzv-backend", true},  {"--rdzv_id", true},        {"--rdzv-id", true},
      {"--max_restarts", true},  {"--max-restarts", true},   {"--standalone", false}};
  return options;
}

std::string canonical(std::string option) {
  for (auto& c : option)
    if (c == '-') c = '_';
  return option.substr(2);  // "--nproc-per-node" -> "nproc_per_node"
}

}  // namespace

int cmd_run(const Args& args) {
  std::map<std::string, std::string> launch;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (a.rfind("--", 0) != 0) break;
    std::string opt = a.substr(0, a.find('='));
    auto it = launcher_options().find(opt);
    std::vector<std::string> known;
    for (const auto& kv : launcher_options()) known.push_back(kv.first);
    TT_CHECK(it != launcher_options().end(), "tune run", "unknown launcher option '", a, "'.",
             did_you_mean(opt, known), " Recipe options go after the recipe name.");
    std::string value = "1";
    if (it->second) {
      if (a.find('=') != std::string::npos) {
        value = a.substr(a.find('=') + 1);
      } else {
        TT_CHECK(i + 1 < args.size(), "tune run", "option ", a, " needs a value");
        value = args[++i];
      }
    }
    launch[canonical(opt)] = value;
  }
  TT_CHECK(i < args.size(), "tune run", "name a recipe (see `tune ls`) or a recipe program\n",
           kUsage);
  std::string recipe = args[i++];
  Args recipe_args(args.begin() + static_cast<long>(i), args.end());

  const distributed::LaunchOptions launch_options = distributed::launch_options_from(launch);
  const bool distributed = launch_options.world_size() > 1;

  // Resolve the recipe.
  std::string exe;
  const RecipeInfo* info = find_recipe(recipe);
  if (info != nullptr) {
    std::string target = info->name;
    if (target == "full_finetune")
      target = distributed ? "full_finetune_distributed" : "full_finetune_single_device";
    TT_CHECK(!distributed || find_recipe(target)->supports_distributed, "tune run " + recipe,
             "Recipe ", recipe,
             " does not support distributed training.Please run without "
             "torchrun commands.");
    auto found = recipe_executable(target);
    TT_CHECK(found.has_value(), "tune run " + recipe, "the recipe '", target,
             "' is not built in this installation (looked next to `tune` in recipes/ and in "
             "../libexec/torchtune_cpp/); rebuild torchtune_cpp with its recipes");
    exe = found->string();
  } else {
    fs::path p(recipe);
    std::vector<std::string> names;
    for (const RecipeInfo& r : builtin_recipes()) names.push_back(r.name);
    if (!fs::is_regular_file(p))
      if (auto why = recipe_not_provided(recipe)) throw Error("tune run " + recipe, *why);
    TT_CHECK(fs::is_regular_file(p), "tune run " + recipe,
             "not a built-in recipe and no such file.", did_you_mean(recipe, names),
             " `tune ls` lists the built-in recipes; a recipe of your own is given by its path "
             "(./my_recipe)");
    TT_CHECK(access(p.c_str(), X_OK) == 0, recipe,
             "is not an executable program; build the recipe first (its .cpp is compiled with "
             "the CMakeLists.txt from `tune cp`) and pass the built program");
    exe = p.string();
  }

  // Resolve --config: a built-in name becomes its shipped path; one of torchtune's configs
  // that is not shipped here says so.
  auto config_path = [](const std::string& name) {
    fs::path path = resolve_config(name);
    if (!fs::exists(path))
      if (auto why = config_not_provided(name)) throw Error("--config " + name, *why);
    return path.string();
  };
  std::vector<std::string> argv_strings{exe};
  bool has_config = false;
  for (size_t k = 0; k < recipe_args.size(); ++k) {
    const std::string& a = recipe_args[k];
    if (a == "--config" && k + 1 < recipe_args.size()) {
      argv_strings.push_back("--config");
      argv_strings.push_back(config_path(recipe_args[++k]));
      has_config = true;
    } else if (a.rfind("--config=", 0) == 0) {
      argv_strings.push_back("--config=" + config_path(a.substr(9)));
      has_config = true;
    } else {
      argv_strings.push_back(a);
    }
  }
  bool wants_help = false;
  for (const auto& a : recipe_args) wants_help |= (a == "-h" || a == "--help");
  TT_CHECK(has_config || wants_help, "tune run " + recipe, "The '--config' argument is required.");

  if (distributed) return distributed::run_workers(launch_options, argv_strings);
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  std::cout.flush();
  execv(exe.c_str(), argv.data());
  throw Error(exe, str("could not start the recipe: ", std::strerror(errno)));
}

}  // namespace tt::cli
