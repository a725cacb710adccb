// Reading YAML into the config tree (with file:line:column on every node) and writing a
// tree back as block-style YAML, the way PyYAML/OmegaConf print configs.
#pragma once

#include <string>

#include "torchtune_cpp/config/node.h"

namespace tt::config {

// Parses a YAML document. `origin` names it in messages (a file path or a description).
// Malformed YAML, duplicate keys, nesting deeper than kMaxNesting (node.h), more than a
// million values, more than 100,000 values copied through aliases, and an alias inside the
// value it names raise tt::Error at origin:line:column.
Node parse_yaml(const std::string& text, const std::string& origin);

// Reads and parses a YAML file; a missing or unreadable file is a tt::Error naming it.
Node load_yaml_file(const std::string& path);

struct EmitOptions {
  int indent = 2;          // spaces per nesting level of mappings
  bool sort_keys = false;  // sort mapping keys (torchtune's log_config and `tune cat --sort`)
};

// Block-style YAML: mappings nested by `indent`, list items "- " at their key's column,
// scalars quoted only where a plain scalar would read back as another type.
std::string emit_yaml(const Node& node, const EmitOptions& options = {});

// One scalar as YAML text (quoted when needed), for messages and flow output.
std::string emit_scalar(const Node& node);

}  // namespace tt::config
