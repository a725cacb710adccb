// Value constraints and their messages.
#include "torchtune_cpp/config/constraint.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/strings.h"

namespace tt::config {

namespace {

// A bound as a person writes it: "0", "1", "0.5", "1e-08".
std::string number_text(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

bool has_bounds(const Constraint& c) {
  return c.min.has_value() || c.max.has_value();
}

bool within(double v, const Constraint& c) {
  if (!std::isfinite(v)) return false;
  if (c.min && (c.min_open ? !(v > *c.min) : !(v >= *c.min))) return false;
  if (c.max && (c.max_open ? !(v < *c.max) : !(v <= *c.max))) return false;
  return true;
}

std::string with_tail(std::string message, const Constraint& c) {
  if (!c.hint.empty()) message += "; " + c.hint;
  return message;
}

// One number against the bounds; `what` names it in the label form ("at index 0").
std::optional<std::string> number_violation(const Node& value, const Constraint& c,
                                            const std::string& what) {
  std::optional<double> v = value.as_double();
  if (!v) return std::nullopt;  // not a number: the type check reports it
  if (within(*v, c)) return std::nullopt;
  const std::string shown = value.python_str();
  const std::string need = str(std::isfinite(*v) ? "" : "a finite number ", describe_bounds(c));
  if (!c.label.empty()) return with_tail(str(c.label, what, ": ", shown, "; it must be ", need), c);
  return with_tail(
      str("must be ", need, what.empty() ? "" : str(" (item", what, ")"), ", got ", shown), c);
}

}  // namespace

bool Constraint::empty() const {
  return !min && !max && !length && one_of.empty() && refused.empty() && !custom;
}

Constraint at_least(double v, std::string label) {
  Constraint c;
  c.min = v;
  c.label = std::move(label);
  return c;
}

Constraint greater_than(double v, std::string label) {
  Constraint c;
  c.min = v;
  c.min_open = true;
  c.label = std::move(label);
  return c;
}

Constraint in_half_open(double lo, double hi, std::string label) {
  Constraint c;
  c.min = lo;
  c.max = hi;
  c.max_open = true;
  c.label = std::move(label);
  return c;
}

Constraint one_of(std::vector<std::string> values) {
  Constraint c;
  c.one_of = std::move(values);
  return c;
}

Constraint satisfies(std::function<std::optional<std::string>(const Node&)> check) {
  Constraint c;
  c.custom = std::move(check);
  return c;
}

Constraint with_hint(Constraint c, std::string hint) {
  c.hint = std::move(hint);
  return c;
}

std::string describe_bounds(const Constraint& c) {
  if (c.min && c.max)
    return str("in ", c.min_open ? "(" : "[", number_text(*c.min), ", ", number_text(*c.max),
               c.max_open ? ")" : "]");
  if (c.min) return str(c.min_open ? "greater than " : "at least ", number_text(*c.min));
  if (c.max) return str(c.max_open ? "less than " : "at most ", number_text(*c.max));
  return "a number";
}

std::optional<std::string> violation(const Node& value, const Constraint& c) {
  if (value.is_list()) {
    if (c.length && value.items.size() != *c.length)
      return with_tail(str("expected a list of ", *c.length, " values, got ", value.items.size()),
                       c);
    if (has_bounds(c))
      for (size_t i = 0; i < value.items.size(); ++i)
        if (auto v = number_violation(value.items[i], c, str(" at index ", i))) return v;
  } else if (value.is_scalar() && !value.is_null()) {
    if (has_bounds(c))
      if (auto v = number_violation(value, c, "")) return v;
    for (const auto& [refused, message] : c.refused)
      if (value.text == refused) return with_tail(message, c);
    if (!c.one_of.empty() &&
        std::find(c.one_of.begin(), c.one_of.end(), value.text) == c.one_of.end())
      return with_tail(str("'", value.text, "' is not accepted; use one of: ", join(c.one_of, ", "),
                           ".", did_you_mean(value.text, c.one_of)),
                       c);
  }
  if (c.custom)
    if (auto v = c.custom(value)) return with_tail(*v, c);
  return std::nullopt;
}

}  // namespace tt::config
