// Where `tune` finds what ships with it, relative to its own executable so a build tree
// and an installed prefix both work:
//   build tree:  build/tune, build/share/torchtune_cpp/{configs,recipes,assets},
//   build/recipes/<recipe> installed:   bin/tune,   share/torchtune_cpp/{configs,recipes,assets},
//   libexec/torchtune_cpp/<recipe>
// TTCPP_DATA_DIR and TTCPP_RECIPE_DIR override the two locations.
//
// assets/ holds the embedded default's files (tiny_llama2/, data/alpaca_tiny.json). Its config
// names them as ${oc.env:TTCPP_ASSETS_DIR,<source-tree path>}/...; `tune` exports
// TTCPP_ASSETS_DIR, so that config trains from any directory, while relative paths in any
// other config keep torchtune's meaning (relative to the working directory).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace tt::cli {

namespace fs = std::filesystem;

fs::path executable_dir();
// Folder holding configs/ and recipes/ (the sources); a tt::Error if none is found.
fs::path data_dir();
// The assets folder shipped with this `tune` (data_dir()/assets), if present.
std::optional<fs::path> assets_dir();
// Sets TTCPP_ASSETS_DIR to assets_dir() for the configs and recipes `tune` starts, unless the
// variable is already set or no assets are shipped.
void export_assets_dir();
// The built executable of a built-in recipe, if present.
std::optional<fs::path> recipe_executable(const std::string& recipe_name);

// A built-in config name ("llama2/7B_full") maps to its shipped file; anything else is a
// path. Returns nullopt for a name that is neither a built-in config nor an existing file.
std::optional<fs::path> builtin_config_path(const std::string& name);
fs::path resolve_config(const std::string& name_or_path);

}  // namespace tt::cli
