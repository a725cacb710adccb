// `${...}` interpolation, resolved late: after CLI overrides are merged, so
// `output_dir=/x` on the command line flows into `${output_dir}/logs` everywhere.
//
// Supported, as OmegaConf does for torchtune configs:
//   ${a.b.c}                absolute path from the config root (numeric segments index lists)
//   ${.x} / ${..x}          relative to the node's own mapping / its parent
//   ${oc.env:VAR}           an environment variable (error when unset)
//   ${oc.env:VAR,default}   ... or the default when unset
//   text ${a}/${b} text     string interpolation; a whole-value "${a}" keeps a's type
//   \${a}                   a literal "${a}"
#pragma once

#include <string>

#include "torchtune_cpp/config/node.h"

namespace tt::config {

// Returns `node` (located at dotted `path` inside `root`) with every interpolation
// resolved against `root`. Missing keys, unset variables and cycles are tt::Errors
// naming the value's file:line.
Node resolve(const Node& node, const Node& root, const std::string& path);

// Resolves the whole tree.
inline Node resolve_all(const Node& root) {
  return resolve(root, root, "");
}

// True when the scalar text contains an unescaped "${".
bool has_interpolation(const std::string& text);

// Every absolute key path that `root` interpolates (for "is this key used?" checks).
void collect_references(const Node& root, std::vector<std::string>& out);

}  // namespace tt::config
