// The activation checkpointing keys, read as torchtune 0.6.1's distributed recipe and
// training/activations.py read them, with its failures and silent no-ops made clear errors.
#include "torchtune_cpp/training/activation_checkpointing.h"

#include <cctype>
#include <cstdlib>

#include "torchtune_cpp/utils/check.h"

namespace tt::training {

namespace {

// A whole number written as one, or as a string of one (torchtune calls int() on it).
std::optional<int64_t> whole_number(const config::Node& v) {
  if (!v.is_scalar()) return std::nullopt;
  if (!v.quoted) {
    if (v.as_bool()) return std::nullopt;  // int(True) is 1 in Python; not a layer interval
    return v.as_int();
  }
  size_t i = 0, n = v.text.size();
  while (i < n && std::isspace(static_cast<unsigned char>(v.text[i]))) ++i;
  while (n > i && std::isspace(static_cast<unsigned char>(v.text[n - 1]))) --n;
  const std::string t = v.text.substr(i, n - i);
  size_t digits = t.size() > 0 && (t[0] == '-' || t[0] == '+') ? 1 : 0;
  if (digits == t.size() || t.size() > 18) return std::nullopt;
  for (size_t k = digits; k < t.size(); ++k)
    if (!std::isdigit(static_cast<unsigned char>(t[k]))) return std::nullopt;
  return std::strtoll(t.c_str(), nullptr, 10);
}

}  // namespace

CheckpointingChoice activation_checkpointing(const config::Node& root) {
  CheckpointingChoice out;
  auto fail = [&](const char* key, const config::Node* at, std::string message) {
    out.problem =
        config::Problem{at ? config::where_of(*at, key) : std::string(key), std::move(message)};
    return out;
  };
  const config::Node* enable = root.find("enable_activation_checkpointing");
  const bool all = enable != nullptr && enable->as_bool().value_or(false);
  const config::Node* mode = root.find("ac_mode");
  const config::Node* option = root.find("ac_option");
  if (mode == nullptr || mode->is_null()) {
    out.interval = all ? 1 : 0;
    return out;
  }
  if (all)
    return fail("ac_mode", mode,
                "is ignored when enable_activation_checkpointing is True (torchtune 0.6.1 then "
                "checkpoints no layer at all); set enable_activation_checkpointing: False to "
                "choose layers with ac_mode, or remove ac_mode to checkpoint every layer");
  const std::string m = mode->is_scalar() ? mode->text : std::string();
  if (m == "full") {
    out.interval = 1;
  } else if (m == "none") {
    out.interval = 0;
  } else if (m == "selective") {
    if (option == nullptr || option->is_null())
      return fail("ac_option", option ? option : mode,
                  "ac_mode: selective needs ac_option, the layer interval k: layers k, 2k, ... "
                  "are checkpointed (1 or 0: every layer); torchtune 0.6.1 fails without it");
    if (option->is_scalar() && option->text == "op")
      return fail("ac_option", option,
                  "'op' (selective checkpointing of operations) is not supported: torchtune "
                  "0.6.1 documents it but fails on it; give a layer interval k instead (layers "
                  "k, 2k, ... are checkpointed)");
    const std::optional<int64_t> k = whole_number(*option);
    if (!k)
      return fail("ac_option", option,
                  str("must be a whole number of layers, the interval k (layers k, 2k, ... are "
                      "checkpointed; 1 or 0: every layer), got ",
                      option->text));
    if (*k < 0)
      return fail(
          "ac_option", option,
          str("must be 0 or more (the layer interval; torchtune 0.6.1 refuses it too), got ", *k));
    out.interval = *k == 0 ? 1 : *k;  // torchtune: 0 checkpoints every layer
  } else {
    return fail("ac_mode", mode,
                str("must be full, selective or none, got '", mode->text,
                    "' (torchtune 0.6.1 checkpoints no layer for it)"));
  }
  return out;
}

std::vector<bool> checkpointed_layers(int64_t interval, int64_t num_layers) {
  std::vector<bool> layers(static_cast<size_t>(num_layers), false);
  if (interval <= 0) return layers;
  for (int64_t i = 0; i < num_layers; ++i) layers[i] = (i + 1) % interval == 0;
  return layers;
}

std::string describe_checkpointed_layers(const std::vector<bool>& layers) {
  std::string list;
  size_t count = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    if (!layers[i]) continue;
    list += (count++ ? ", " : "") + std::to_string(i + 1);
  }
  if (count == 0) return "no layer";
  if (count == layers.size()) return "every layer";
  return str("layers ", list, " (", count, " of ", layers.size(), ")");
}

}  // namespace tt::training
