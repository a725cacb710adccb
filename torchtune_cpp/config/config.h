// A recipe's configuration: the YAML file plus command-line overrides, with
// interpolations resolved, and typed access whose errors name the key and its line.
//
//   tt::config::Config cfg = tt::config::parse_recipe_args(argc, argv);
//   int64_t batch_size = cfg.get_int("batch_size");
//   bool ac = cfg.get_bool_or("enable_activation_checkpointing", false);
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "torchtune_cpp/config/node.h"

namespace tt::config {

class Config {
 public:
  Config() = default;
  // `raw`: the config as given (YAML merged with overrides), interpolations unresolved.
  // `origin`: the file it came from, for messages.
  Config(Node raw, std::string origin);

  // Loads a YAML file and applies torchtune-style overrides.
  static Config load(const std::string& path, const std::vector<std::string>& overrides = {});

  const Node& raw() const { return raw_; }
  const Node& resolved() const { return resolved_; }
  const std::string& origin() const { return origin_; }

  // Present and not null.
  bool has(const std::string& key) const;
  // The resolved node at a dotted key; a missing key is a tt::Error naming the file.
  const Node& node(const std::string& key) const;
  const Node* find(const std::string& key) const { return resolved_.find_path(key); }

  int64_t get_int(const std::string& key) const;
  double get_double(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::string get_string(const std::string& key) const;

  // As above, `fallback` when the key is absent or null (torchtune's cfg.get(key, default)).
  int64_t get_int_or(const std::string& key, int64_t fallback) const;
  double get_double_or(const std::string& key, double fallback) const;
  bool get_bool_or(const std::string& key, bool fallback) const;
  std::string get_string_or(const std::string& key, const std::string& fallback) const;
  std::optional<int64_t> get_optional_int(const std::string& key) const;
  std::optional<double> get_optional_double(const std::string& key) const;

  // "key (file:line:col)" for messages; "key (file)" for a key the config lacks.
  std::string where(const std::string& key) const;

 private:
  Node raw_;
  Node resolved_;
  std::string origin_;
};

// A config file's YAML: null when the file is empty, else a mapping. A folder, a file that
// cannot be read, malformed YAML or another top-level value is a tt::Error naming the file.
Node load_config_root(const std::string& path);

// torchtune's log_config text: "Running <recipe> with resolved config:" and the resolved
// config as YAML with sorted keys. Recipes print it at start.
std::string describe_resolved(const Config& cfg, const std::string& recipe_name);

// Writes the config as given (overrides merged, interpolations kept) to
// <dir>/torchtune_config.yaml, as torchtune's DiskLogger does; returns the path. Written to
// a temporary name and renamed, so the file is never half-written.
std::string save_as_given(const Config& cfg, const std::string& dir);

// Typed reads of a scalar node; `where` names it in the error.
int64_t to_int(const Node& node, const std::string& where);
double to_double(const Node& node, const std::string& where);
bool to_bool(const Node& node, const std::string& where);
std::string to_string(const Node& node, const std::string& where);
std::vector<std::string> to_string_list(const Node& node, const std::string& where);

}  // namespace tt::config
