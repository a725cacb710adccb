// Command-line overrides with torchtune's rules (`tune run ... key=value ~key`):
//   a.b.c=value        set (creating missing maps); value read as YAML ("[1,2]" is a list)
//   ~a.b               delete a key from the YAML first (not a component; parents left empty go)
//   optimizer=x.y.Z    for a top-level component key: swap its `_component_`
//   k=None             null
//   *max_filename*=0003 kept as a string, so leading zeros survive
// A value containing '=' is refused, as torchtune refuses it.
#pragma once

#include <string>
#include <vector>

#include "torchtune_cpp/config/node.h"

namespace tt::config {

// Applies `overrides` to `root` in torchtune's order: deletions on the YAML, then the
// remaining overrides merged over it (the command line wins).
void apply_overrides(Node& root, const std::vector<std::string>& overrides);

// Recursive merge: maps merge key by key, anything else replaces.
void merge_into(Node& base, const Node& update);

}  // namespace tt::config
