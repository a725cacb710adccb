// `tune cp <recipe|config> <destination> [-n] [--make-parents]`: copies a shipped config,
// or a recipe's C++ source plus a CMake snippet that builds it against the installed library.
#include <fstream>
#include <iostream>

#include "torchtune_cpp/cli/commands.h"
#include "torchtune_cpp/cli/paths.h"
#include "torchtune_cpp/cli/recipe_registry.h"
#include "torchtune_cpp/cli/torchtune_recipes.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::cli {

namespace {

const char* kUsage =
    "usage: tune cp [-h] [-n] [--make-parents] file destination\n\n"
    "Copy a built-in recipe or config to a local path.\n\n"
    "positional arguments:\n"
    "  file            recipe or config to copy (see `tune ls`)\n"
    "  destination     where to copy; the suffix .cpp (recipe) or .yaml (config) is enforced\n\n"
    "options:\n"
    "  -n, --no-clobber  do not overwrite an existing destination\n"
    "  --make-parents    create the destination's parent folders if needed\n\n"
    "A copied recipe comes with CMakeLists.txt (when the folder has none) that builds it\n"
    "against the installed torchtune_cpp; run it with `tune run ./build/<name> --config ...`.\n";

std::string cmake_snippet(const std::string& target, const std::string& sources) {
  return str("# Builds ", sources, " against an installed torchtune_cpp:\n",
             "#   cmake -B build -DCMAKE_PREFIX_PATH=\"<torchtune_cpp prefix>;$(python3 -c "
             "'import torch;print(torch.utils.cmake_prefix_path)')\"\n",
             "#   cmake --build build && tune run ./build/", target, " --config <config.yaml>\n",
             "cmake_minimum_required(VERSION 3.18)\n", "project(", target, " LANGUAGES CXX)\n",
             "find_package(torchtune_cpp REQUIRED)\n", "add_executable(", target, " ", sources,
             ")\n", "target_link_libraries(", target, " PRIVATE torchtune_cpp::torchtune_cpp)\n");
}

}  // namespace

int cmd_cp(const Args& args) {
  std::vector<std::string> positional;
  bool no_clobber = false, make_parents = false;
  for (const std::string& a : args) {
    if (a == "-h" || a == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (a == "-n" || a == "--no-clobber") {
      no_clobber = true;
    } else if (a == "--make-parents") {
      make_parents = true;
    } else {
      TT_CHECK(a.rfind("-", 0) != 0, "tune cp", "unrecognized option '", a, "'\n", kUsage);
      positional.push_back(a);
    }
  }
  TT_CHECK(positional.size() == 2, "tune cp",
           "expected a recipe or config name and a destination\n", kUsage);
  const std::string& name = positional[0];
  fs::path dest(positional[1]);

  const RecipeInfo* recipe = find_recipe(name);
  fs::path source;
  std::string suffix;
  if (recipe != nullptr) {
    TT_CHECK(!recipe->source.empty(), "tune cp " + name, "'", name,
             "' has no source of its own (it dispatches to full_finetune_single_device "
             "or full_finetune_distributed); copy one of those");
    source = data_dir() / "recipes" / recipe->source;
    suffix = ".cpp";
  } else if (auto config = builtin_config_path(name)) {
    source = *config;
    suffix = ".yaml";
  } else {
    if (auto why = recipe_not_provided(name)) throw Error("tune cp " + name, *why);
    if (auto why = config_not_provided(name)) throw Error("tune cp " + name, *why);
    throw Error("tune cp", str("Invalid file name: ", name,
                               ". Try `tune ls` to see all available files to copy."));
  }
  TT_CHECK(fs::is_regular_file(source), source.string(),
           "the recipe source is missing from this installation; reinstall torchtune_cpp");

  if (fs::is_directory(dest)) dest /= source.filename();
  if (dest.extension() != suffix) {
    std::cout << "Warning: Overwriting file suffix "
              << (dest.has_extension() ? dest.extension().string() : "''") << " to " << suffix
              << "\n";
    dest.replace_extension(suffix);
  }
  if (no_clobber && fs::exists(dest)) {
    std::cout << "File already exists at " << fs::absolute(dest).string() << ", not overwriting.\n";
    return 0;
  }
  fs::path parent = dest.has_parent_path() ? dest.parent_path() : fs::path(".");
  if (!fs::exists(parent)) {
    TT_CHECK(make_parents, dest.string(), "Cannot create regular file: '", dest.string(),
             "'. No such file or directory. If you want to create parent directories, use the "
             "--make-parents flag");
    fs::create_directories(parent);
  }
  fs::copy_file(source, dest, fs::copy_options::overwrite_existing);
  std::cout << "Copied file to " << dest.string() << "\n";

  if (recipe != nullptr) {
    // The sources the recipe is built from besides its own file go beside the copy (an
    // edited one already there is kept).
    std::string sources = dest.filename().string();
    for (const std::string& name : recipe->shared_sources) {
      const fs::path from = data_dir() / "recipes" / name, to = parent / name;
      if (fs::exists(to)) {
        std::cout << "Kept the existing " << to.string() << "\n";
      } else {
        TT_CHECK(fs::is_regular_file(from), from.string(),
                 "the recipe source is missing from this installation; reinstall torchtune_cpp");
        fs::copy_file(from, to);
        std::cout << "Copied file to " << to.string() << "\n";
      }
      if (fs::path(name).extension() == ".cpp") sources += " " + name;
    }
    std::string target = dest.stem().string();
    std::string snippet = cmake_snippet(target, sources);
    fs::path cmake = parent / "CMakeLists.txt";
    if (fs::exists(cmake)) {
      std::cout << cmake.string() << " already exists; add these lines to build the recipe:\n"
                << snippet;
    } else {
      std::ofstream(cmake) << snippet;
      std::cout << "Wrote " << cmake.string() << " to build it against torchtune_cpp\n";
    }
  }
  return 0;
}

}  // namespace tt::cli
