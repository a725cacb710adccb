// Whole-config validation.
#include "torchtune_cpp/config/validate.h"

#include <algorithm>
#include <iostream>

#include "torchtune_cpp/config/interpolate.h"
#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/strings.h"

namespace tt::config {

ValidationReport validate_config(const Node& raw, const std::vector<std::string>& known_keys) {
  ValidationReport report;
  Node resolved;
  try {
    resolved = resolve_all(raw);
  } catch (const Error& e) {
    report.errors.push_back(Problem{e.where(), e.message()});
    return report;
  }
  for (const auto& [key, value] : resolved.entries) {
    if (value.is_component()) {
      for (Problem& p : check_component(value, key, false)) report.errors.push_back(std::move(p));
    } else if (value.is_list()) {
      for (size_t i = 0; i < value.items.size(); ++i)
        if (value.items[i].is_component())
          for (Problem& p : check_component(value.items[i], str(key, ".", i), false))
            report.errors.push_back(std::move(p));
    }
  }
  if (known_keys.empty()) return report;
  std::vector<std::string> referenced;
  collect_references(raw, referenced);
  for (const auto& [key, value] : raw.entries) {
    if (std::find(known_keys.begin(), known_keys.end(), key) != known_keys.end()) continue;
    bool used = std::any_of(referenced.begin(), referenced.end(), [&](const std::string& r) {
      return r == key || r.rfind(key + ".", 0) == 0;
    });
    if (used) continue;
    report.warnings.push_back(
        Problem{value.loc.origin.empty() ? str("key '", key, "'") : value.loc.str(),
                str("top-level key '", key,
                    "' is not read by this recipe and nothing "
                    "interpolates it; it has no effect.",
                    did_you_mean(key, known_keys))});
  }
  return report;
}

std::vector<Problem> check_keys(const Node& resolved, const std::vector<ArgSpec>& keys,
                                const std::string& origin) {
  std::vector<Problem> problems;
  for (const ArgSpec& k : keys) {
    const Node* value = resolved.find(k.name);
    if (value == nullptr) {
      if (k.required())
        problems.push_back(Problem{
            str(k.name, " (", origin, ")"),
            str("missing required key '", k.name, "' (", describe(k.type),
                k.help.empty() ? std::string() : ": " + k.help, "); add it to the config or pass ",
                k.name, "=<value> on the command line")});
      continue;
    }
    for (Problem& p : check_value(*value, k, k.name)) problems.push_back(std::move(p));
  }
  return problems;
}

ValidationReport validate_recipe_config(const Node& raw, const std::vector<ArgSpec>& keys,
                                        const std::string& origin) {
  std::vector<std::string> names;
  for (const ArgSpec& k : keys) names.push_back(k.name);
  ValidationReport report = validate_config(raw, names);
  Node resolved;
  try {
    resolved = resolve_all(raw);
  } catch (const Error&) {
    return report;  // validate_config reported it
  }
  std::vector<Problem> problems = check_keys(resolved, keys, origin);
  // Key problems first: they are what the file says at the top.
  problems.insert(problems.end(), report.errors.begin(), report.errors.end());
  report.errors = std::move(problems);
  return report;
}

void enforce(const ValidationReport& report) {
  for (const Problem& w : report.warnings)
    std::cerr << "warning: " << w.where << ": " << w.message << "\n";
  if (!report.errors.empty()) fail_with(report.errors);
}

}  // namespace tt::config
