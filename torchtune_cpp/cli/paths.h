// Where `tune` finds what ships with it, relative to its own executable so a build tree
// and an installed prefix both work:
//   build tree:  build/tune, build/share/torchtune_cpp/{configs,recipes}, build/recipes/<recipe>
//   installed:   bin/tune,   share/torchtune_cpp/{configs,recipes},      libexec/torchtune_cpp/<recipe>
// TTCPP_DATA_DIR and TTCPP_RECIPE_DIR override the two locations.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace tt::cli {

namespace fs = std::filesystem;

fs::path executable_dir();
// Folder holding configs/ and recipes/ (the sources); a tt::Error if none is found.
fs::path data_dir();
// The built executable of a built-in recipe, if present.
std::optional<fs::path> recipe_executable(const std::string& recipe_name);

// A built-in config name ("llama2/7B_full") maps to its shipped file; anything else is a
// path. Returns nullopt for a name that is neither a built-in config nor an existing file.
std::optional<fs::path> builtin_config_path(const std::string& name);
fs::path resolve_config(const std::string& name_or_path);

}  // namespace tt::cli
