// Locating shipped configs, recipe sources and recipe executables.
#include "torchtune_cpp/cli/paths.h"

#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "torchtune_cpp/utils/check.h"

namespace tt::cli {

fs::path executable_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  TT_CHECK(!ec, "/proc/self/exe", "cannot locate the running executable (", ec.message(), ")");
  return exe.parent_path();
}

namespace {

std::vector<fs::path> data_dir_candidates() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("TTCPP_DATA_DIR")) candidates.emplace_back(env);
  fs::path exe = executable_dir();
  candidates.push_back(exe / "share" / "torchtune_cpp");
  candidates.push_back(exe.parent_path() / "share" / "torchtune_cpp");
  return candidates;
}

std::optional<fs::path> find_data_dir(const std::vector<fs::path>& candidates) {
  for (const fs::path& c : candidates)
    if (fs::is_directory(c / "configs")) return c;
  return std::nullopt;
}

}  // namespace

fs::path data_dir() {
  const std::vector<fs::path> candidates = data_dir_candidates();
  if (auto found = find_data_dir(candidates)) return *found;
  std::string tried;
  for (const fs::path& c : candidates) tried += "\n  " + c.string();
  throw Error("torchtune_cpp installation",
              str("cannot find the shipped configs; looked in:", tried,
                  "\nreinstall, or set TTCPP_DATA_DIR to the folder holding configs/"));
}

std::optional<fs::path> assets_dir() {
  auto data = find_data_dir(data_dir_candidates());
  if (!data || !fs::is_directory(*data / "assets")) return std::nullopt;
  std::error_code ec;
  fs::path abs = fs::absolute(*data / "assets", ec);  // the recipe may run in another folder
  return ec ? *data / "assets" : abs.lexically_normal();
}

void export_assets_dir() {
  if (std::getenv("TTCPP_ASSETS_DIR") != nullptr) return;
  if (auto dir = assets_dir()) setenv("TTCPP_ASSETS_DIR", dir->c_str(), 0);
}

std::optional<fs::path> recipe_executable(const std::string& recipe_name) {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("TTCPP_RECIPE_DIR"))
    candidates.push_back(fs::path(env) / recipe_name);
  fs::path exe = executable_dir();
  candidates.push_back(exe / "recipes" / recipe_name);
  candidates.push_back(exe.parent_path() / "libexec" / "torchtune_cpp" / recipe_name);
  for (const fs::path& c : candidates)
    if (fs::is_regular_file(c) && access(c.c_str(), X_OK) == 0) return c;
  return std::nullopt;
}

std::optional<fs::path> builtin_config_path(const std::string& name) {
  if (name.empty() || name.find("..") != std::string::npos) return std::nullopt;
  fs::path candidate = data_dir() / "configs" / (name + ".yaml");
  if (fs::is_regular_file(candidate)) return candidate;
  return std::nullopt;
}

fs::path resolve_config(const std::string& name_or_path) {
  // A built-in name wins only when the name carries no file extension, as torchtune's
  // lookup does; everything else is a path.
  fs::path as_path(name_or_path);
  if (as_path.extension() != ".yaml" && as_path.extension() != ".yml") {
    if (auto builtin = builtin_config_path(name_or_path)) return *builtin;
  }
  return as_path;
}

}  // namespace tt::cli
