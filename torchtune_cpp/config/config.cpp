// Config loading and typed access.
#include "torchtune_cpp/config/config.h"

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "torchtune_cpp/config/interpolate.h"
#include "torchtune_cpp/config/overrides.h"
#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::config {

Config::Config(Node raw, std::string origin)
    : raw_(std::move(raw)), resolved_(resolve_all(raw_)), origin_(std::move(origin)) {}

Node load_config_root(const std::string& path) {
  std::error_code ec;
  TT_CHECK(!std::filesystem::is_directory(path, ec), path,
           "is a folder, not a config file; pass a YAML file, or a built-in config name (`tune ls` "
           "lists them)");
  Node root = load_yaml_file(path);
  TT_CHECK(root.is_null() || root.is_map(), root.loc.str(),
           "a config must be a YAML mapping of keys to values, found ", describe_type(root));
  return root;
}

Config Config::load(const std::string& path, const std::vector<std::string>& overrides) {
  Node root = load_config_root(path);
  // An empty file is a config only when the command line gives every key.
  TT_CHECK(
      !root.is_null() || !overrides.empty(), path,
      "the config file is empty; copy a built-in config to start from (`tune cp llama2/7B_full "
      "my_config.yaml`)");
  if (root.is_null()) root = Node::map(SourceLoc{path, 0, 0});
  TT_CHECK(root.is_map(), root.loc.str(), "a config must be a YAML mapping of keys to values, ",
           "found ", describe_type(root));
  TT_CHECK(root.find("config") == nullptr,
           root.find("config") ? root.find("config")->loc.str() : path,
           "a config may not contain a top-level key named 'config' (it is reserved for --config); "
           "rename it");
  apply_overrides(root, overrides);
  return Config(std::move(root), path);
}

bool Config::has(const std::string& key) const {
  const Node* n = find(key);
  return n != nullptr && !n->is_null();
}

std::string Config::where(const std::string& key) const {
  const Node* n = find(key);
  if (n == nullptr || n->loc.origin.empty()) return str(key, " (", origin_, ")");
  return str(key, " (", n->loc.str(), ")");
}

const Node& Config::node(const std::string& key) const {
  const Node* n = find(key);
  TT_CHECK(n != nullptr, origin_, "missing required key '", key, "'; add it to the config or pass ",
           key, "=<value> on the command line");
  return *n;
}

std::string describe_resolved(const Config& cfg, const std::string& recipe_name) {
  return str("Running ", recipe_name, " with resolved config:\n\n",
             emit_yaml(cfg.resolved(), EmitOptions{2, true}));
}

std::string save_as_given(const Config& cfg, const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  TT_CHECK(!ec, dir, "cannot create the output folder (", ec.message(),
           "); choose a writable output_dir");
  fs::path path = fs::path(dir) / "torchtune_config.yaml";
  fs::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << emit_yaml(cfg.raw(), EmitOptions{2, false});
    out.flush();
    TT_CHECK(out.good(), tmp.string(), "could not write the config (disk full or read-only?)");
  }
  fs::rename(tmp, path, ec);
  TT_CHECK(!ec, path.string(), "could not move the config into place (", ec.message(), ")");
  return path.string();
}

int64_t to_int(const Node& node, const std::string& where) {
  auto v = node.as_int();
  // Written as an integer, but beyond what 64 bits hold.
  TT_CHECK(v.has_value() || !node.is_scalar() || node.scalar_type() != ScalarType::kInt, where, "'",
           node.text, "' is outside the 64-bit integer range (", INT64_MIN, " to ", INT64_MAX,
           "); write a smaller number");
  TT_CHECK(v.has_value(), where, "expected an integer, got ", describe_type(node),
           node.is_scalar() ? str(" '", node.text, "'") : std::string(), "; write a whole number");
  return *v;
}
double to_double(const Node& node, const std::string& where) {
  auto v = node.as_double();
  TT_CHECK(v.has_value(), where, "expected a number, got ", describe_type(node),
           node.is_scalar() ? str(" '", node.text, "'") : std::string(),
           "; write a number such as 2e-5");
  return *v;
}
bool to_bool(const Node& node, const std::string& where) {
  auto v = node.as_bool();
  TT_CHECK(v.has_value(), where, "expected True or False, got ", describe_type(node),
           node.is_scalar() ? str(" '", node.text, "'") : std::string());
  return *v;
}
std::string to_string(const Node& node, const std::string& where) {
  TT_CHECK(node.is_scalar() && !node.is_null(), where, "expected text, got ", describe_type(node));
  return node.text;
}
std::vector<std::string> to_string_list(const Node& node, const std::string& where) {
  TT_CHECK(node.is_list(), where, "expected a list such as [a, b], got ", describe_type(node));
  std::vector<std::string> out;
  for (size_t i = 0; i < node.items.size(); ++i)
    out.push_back(to_string(node.items[i], str(where, "[", i, "]")));
  return out;
}

int64_t Config::get_int(const std::string& key) const {
  return to_int(node(key), where(key));
}
double Config::get_double(const std::string& key) const {
  return to_double(node(key), where(key));
}
bool Config::get_bool(const std::string& key) const {
  return to_bool(node(key), where(key));
}
std::string Config::get_string(const std::string& key) const {
  return to_string(node(key), where(key));
}

int64_t Config::get_int_or(const std::string& key, int64_t fallback) const {
  return has(key) ? get_int(key) : fallback;
}
double Config::get_double_or(const std::string& key, double fallback) const {
  return has(key) ? get_double(key) : fallback;
}
bool Config::get_bool_or(const std::string& key, bool fallback) const {
  return has(key) ? get_bool(key) : fallback;
}
std::string Config::get_string_or(const std::string& key, const std::string& fallback) const {
  return has(key) ? get_string(key) : fallback;
}
std::optional<int64_t> Config::get_optional_int(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return get_int(key);
}
std::optional<double> Config::get_optional_double(const std::string& key) const {
  if (!has(key)) return std::nullopt;
  return get_double(key);
}

}  // namespace tt::config
