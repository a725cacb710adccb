// The config tree: an ordered YAML-like tree of maps, lists and scalars that remembers
// where every value came from (file:line:column or the command-line override), so every
// error can point at the line to change.
//
// Scalars keep their text; their type is decided when read, with the rules torchtune's
// YAML loader (OmegaConf over PyYAML) applies: `null`/`~` are null, `True`/`false`/`yes`
// are booleans, `2e-5` and `.5` are floats (OmegaConf's float rule), and a quoted scalar
// is always a string.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tt::config {

// Where a value was written. `origin` is a file path or a description such as
// "command-line override 'optimizer.lr=1e-4'"; line and column are 1-based, 0 if unknown.
struct SourceLoc {
  std::string origin;
  int line = 0;
  int column = 0;

  std::string str() const;
};

enum class NodeKind { kNull, kScalar, kList, kMap };

// The type a scalar resolves to.
enum class ScalarType { kNull, kBool, kInt, kFloat, kString };

struct Node {
  NodeKind kind = NodeKind::kNull;
  std::string text;                                   // scalar text as written
  bool quoted = false;                                // quoted or tagged !!str: always a string
  std::vector<Node> items;                            // kList
  std::vector<std::pair<std::string, Node>> entries;  // kMap, in file order
  SourceLoc loc;

  static Node null(SourceLoc loc = {});
  static Node scalar(std::string text, bool quoted = false, SourceLoc loc = {});
  static Node map(SourceLoc loc = {});
  static Node list(SourceLoc loc = {});

  bool is_null() const { return kind == NodeKind::kNull || scalar_type() == ScalarType::kNull; }
  bool is_scalar() const { return kind == NodeKind::kScalar; }
  bool is_map() const { return kind == NodeKind::kMap; }
  bool is_list() const { return kind == NodeKind::kList; }

  ScalarType scalar_type() const;
  std::optional<bool> as_bool() const;
  std::optional<int64_t> as_int() const;
  std::optional<double> as_double() const;  // ints widen to double

  // The scalar as Python's str() prints its value: "7" for 007, "1e-05" for 1e-5, "True",
  // "None". Used where OmegaConf joins a value into text ("run_${epochs}").
  std::string python_str() const;

  // Map access. find() returns nullptr when absent; set() keeps the key's position.
  const Node* find(const std::string& key) const;
  Node* find(const std::string& key);
  Node& set(const std::string& key, Node value);
  bool erase(const std::string& key);
  std::vector<std::string> keys() const;

  // Dotted-path access ("checkpointer.checkpoint_files.0"); numeric segments index lists.
  const Node* find_path(const std::string& dotted) const;
  Node* find_path(const std::string& dotted);

  // True when this is a map holding `_component_`.
  bool is_component() const;
};

// Human name of a kind or scalar type, for messages: "a list", "a float", ...
std::string describe_type(const Node& node);

// How deep a config may nest (YAML, dotted keys): real configs use a few levels; the bound
// keeps every recursive walk of the tree shallow.
constexpr size_t kMaxNesting = 256;

// Splits "a.b.c" into {"a","b","c"}; more than kMaxNesting parts is a tt::Error.
std::vector<std::string> split_dotted(const std::string& dotted);

// Deep equality of value (ignores locations).
bool same_value(const Node& a, const Node& b);

}  // namespace tt::config
