// Whole-config checks run by `tune validate` and by every recipe before any work: every
// top-level component against its builder's declared arguments (all problems at once), the
// recipe's declared top-level keys (types and value constraints), and top-level keys that
// nothing reads (a warning with a did-you-mean, since torchtune configs carry keys a given
// recipe ignores).
#pragma once

#include <string>
#include <vector>

#include "torchtune_cpp/config/node.h"
#include "torchtune_cpp/config/registry.h"

namespace tt::config {

struct ValidationReport {
  std::vector<Problem> errors;
  std::vector<Problem> warnings;
  bool ok() const { return errors.empty(); }
};

// `raw`: the config as given (interpolations unresolved). `known_keys`: the top-level keys
// the recipe reads; empty means "do not check for unused keys".
ValidationReport validate_config(const Node& raw, const std::vector<std::string>& known_keys);

// The declared top-level keys of a recipe (registry.h's ArgSpec: type, default, constraint)
// against the resolved config: required keys present, types, constraints. `origin` (the
// file) names keys the config lacks.
std::vector<Problem> check_keys(const Node& resolved, const std::vector<ArgSpec>& keys,
                                const std::string& origin);

// validate_config, plus check_keys; the declared names are the keys the recipe reads.
ValidationReport validate_recipe_config(const Node& raw, const std::vector<ArgSpec>& keys,
                                        const std::string& origin);

// Prints warnings to stderr and throws one tt::Error listing every error.
void enforce(const ValidationReport& report);

}  // namespace tt::config
