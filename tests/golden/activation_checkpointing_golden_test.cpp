// Which layers activation checkpointing recomputes, against torchtune 0.6.1 itself:
// tests/scripts/make_activation_checkpointing_fixtures.py ran its distributed recipe's code
// (apply_selective_activation_checkpointing / set_activation_checkpointing) on a 6-layer
// model for each combination of enable_activation_checkpointing, ac_mode and ac_option and
// recorded the layers it wrapped, or the error it raised. We must checkpoint the same layers,
// and refuse where torchtune fails; where torchtune silently checkpoints nothing for keys
// that ask for something, or truncates a fractional interval, we refuse too (deliberately,
// docs/compatibility.md).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/training/activation_checkpointing.h"

namespace tt::training {
namespace {

using nlohmann::json;

json load_cases() {
  std::ifstream in(std::string(TT_SOURCE_DIR) +
                   "/tests/assets/golden/activation_checkpointing/cases.json");
  EXPECT_TRUE(in.good())
      << "missing fixture; run tests/scripts/make_activation_checkpointing_fixtures.py";
  return json::parse(in);
}

// A case's keys as the YAML a user writes (a string option quoted, as in the fixture).
std::string yaml_of(const json& c) {
  auto scalar = [](const json& v) -> std::string {
    if (v.is_null()) return "null";
    if (v.is_boolean()) return v.get<bool>() ? "True" : "False";
    if (v.is_string())
      return v.get<std::string>() == "op" ? "op" : "'" + v.get<std::string>() + "'";
    return v.dump();
  };
  return "enable_activation_checkpointing: " + scalar(c["enable_activation_checkpointing"]) +
         "\nac_mode: " + (c["ac_mode"].is_string() ? c["ac_mode"].get<std::string>() : "null") +
         "\nac_option: " + scalar(c["ac_option"]) + "\n";
}

// Keys torchtune accepts but that would train differently from what they say.
bool deliberately_refused(const json& c) {
  const bool mode_set = c["ac_mode"].is_string();
  if (c["enable_activation_checkpointing"].get<bool>() && mode_set) return true;  // no layer
  if (mode_set) {
    const std::string m = c["ac_mode"].get<std::string>();
    if (m != "full" && m != "selective" && m != "none") return true;  // no layer
  }
  return c["ac_option"].is_number_float();  // int(2.5) == 2
}

TEST(ActivationCheckpointingGolden, SameLayersAsTorchtuneAndRefusedWhereItFailsOrIgnores) {
  const json fixture = load_cases();
  const int64_t num_layers = fixture["num_layers"].get<int64_t>();
  int same = 0, refused = 0;
  for (const json& c : fixture["cases"]) {
    const std::string yaml = yaml_of(c);
    SCOPED_TRACE(yaml);
    const CheckpointingChoice got = activation_checkpointing(config::parse_yaml(yaml, "ac.yaml"));
    if (c.contains("error") || deliberately_refused(c)) {
      ASSERT_TRUE(got.problem.has_value()) << "torchtune: " << c.value("error", "no layer");
      // The message names the key and its line in the file.
      EXPECT_NE(got.problem->where.find("ac.yaml:"), std::string::npos) << got.problem->where;
      EXPECT_TRUE(got.problem->where.find("ac_mode") != std::string::npos ||
                  got.problem->where.find("ac_option") != std::string::npos)
          << got.problem->where;
      ++refused;
      continue;
    }
    ASSERT_FALSE(got.problem.has_value()) << got.problem->message;
    std::vector<bool> want(static_cast<size_t>(num_layers), false);
    for (const json& i : c["layers"]) want[i.get<size_t>()] = true;
    EXPECT_EQ(checkpointed_layers(got.interval, num_layers), want);
    ++same;
  }
  // The fixture covers both sides: layers chosen and keys refused.
  EXPECT_GE(same, 10);
  EXPECT_GE(refused, 7);
}

TEST(ActivationCheckpointingGolden, DescribesThePlanForTheLog) {
  EXPECT_EQ(describe_checkpointed_layers(checkpointed_layers(2, 6)), "layers 2, 4, 6 (3 of 6)");
  EXPECT_EQ(describe_checkpointed_layers(checkpointed_layers(1, 6)), "every layer");
  EXPECT_EQ(describe_checkpointed_layers(checkpointed_layers(0, 6)), "no layer");
  EXPECT_EQ(describe_checkpointed_layers(checkpointed_layers(7, 6)), "no layer");
}

}  // namespace
}  // namespace tt::training
