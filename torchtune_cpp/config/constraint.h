// Value constraints declared next to an argument or a recipe key (its type, default and
// help), so `tune validate` and the code that builds or runs with the value check it from
// the same declaration:
//
//   arg("lr", ArgType::kFloat, "0.001", "", at_least(0, "Invalid learning rate"))
//   arg("log_every_n_steps", ArgType::kInt, "1", "", at_least(1))
//   arg("model_type", ArgType::kString, "", one_of({"LLAMA2", "LLAMA3", "MISTRAL"}))
//
// A violation is one sentence saying what is wrong and what is accepted; where torch or
// torchtune refuse the same value, their wording leads ("Invalid learning rate: -1").
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "torchtune_cpp/config/node.h"

namespace tt::config {

struct Constraint {
  // Numbers (and each item of a number list): NaN and infinities are refused whenever a
  // bound is set.
  std::optional<double> min;
  bool min_open = false;  // value > min rather than >=
  std::optional<double> max;
  bool max_open = false;         // value < max rather than <=
  std::optional<size_t> length;  // lists: exactly this many items
  // Text values: the accepted ones, and values refused with their own message.
  std::vector<std::string> one_of;
  std::vector<std::pair<std::string, std::string>> refused;
  // Anything else: returns the violation, or nullopt when the value is fine.
  std::function<std::optional<std::string>(const Node&)> custom;
  // The wording torch/torchtune use for a violation ("Invalid learning rate"), and what to
  // do instead, appended to every message ("null turns clipping off").
  std::string label;
  std::string hint;

  bool empty() const;
};

// >= v (finite).
Constraint at_least(double v, std::string label = {});
// > v (finite).
Constraint greater_than(double v, std::string label = {});
// In [lo, hi) (finite).
Constraint in_half_open(double lo, double hi, std::string label = {});
// One of the given text values.
Constraint one_of(std::vector<std::string> values);
// Any check of its own: returns the violation.
Constraint satisfies(std::function<std::optional<std::string>(const Node&)> check);
// The same constraint with `hint` appended to its messages.
Constraint with_hint(Constraint c, std::string hint);

// The violation of `c` by a (non-null, well-typed) value, or nullopt.
std::optional<std::string> violation(const Node& value, const Constraint& c);

// "at least 1", "greater than 0", "in [0, 1)": the bounds in words.
std::string describe_bounds(const Constraint& c);

}  // namespace tt::config
