// Config loading, overrides and interpolation against Python torchtune 0.6.1 itself:
// tests/scripts/make_config_fixtures.py ran torchtune's own argument parser, override merge
// and OmegaConf resolution on the cases below and recorded the resolved configs (types and
// key order included) or the error each raised. We must produce the same values, and an
// error wherever torchtune raised one, with torchtune's text for the messages torchtune
// itself defines.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "torchtune_cpp/config/config.h"
#include "torchtune_cpp/config/parse.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::config {
namespace {

using nlohmann::json;

// Where torchtune_cpp deliberately differs from torchtune 0.6.1.
const std::map<std::string, std::string> kIntendedDifferences = {
    {"delete_component_node",
     "both refuse; we say 'Removing components from CLI is not supported'"},
    {"max_filename_none",
     "torchtune's '!!str !!null' rewrite is a YAML syntax error; we read null"},
};

// Messages torchtune defines itself (rather than OmegaConf or PyYAML): we match their text.
const std::vector<std::string> kTorchtuneMessages = {
    "Command-line overrides must be in the form of key=value",
    "Additional flag arguments not supported", "Could not find key",
    "Removing components from CLI is not supported"};

// The resolved config as JSON with Python's types (int, float, bool, None, str).
template <class Json>
Json to_json(const Node& n) {
  if (n.is_map()) {
    Json out = Json::object();
    for (const auto& [k, v] : n.entries) out[k] = to_json<Json>(v);
    return out;
  }
  if (n.is_list()) {
    Json out = Json::array();
    for (const Node& item : n.items) out.push_back(to_json<Json>(item));
    return out;
  }
  switch (n.scalar_type()) {
    case ScalarType::kNull:
      return nullptr;
    case ScalarType::kBool:
      return *n.as_bool();
    case ScalarType::kInt:
      return *n.as_int();
    case ScalarType::kFloat:
      return *n.as_double();
    case ScalarType::kString:
      return n.text;
  }
  return nullptr;
}

// Compares values, types and key order; reports the first difference by path.
std::string diff(const json& want, const json& got, const std::string& path) {
  if (want.type() != got.type())
    return path + ": type " + want.type_name() + " expected, got " + got.type_name() + " (" +
           got.dump() + ")";
  if (want.is_object()) {
    std::vector<std::string> wk, gk;
    for (auto it = want.begin(); it != want.end(); ++it) wk.push_back(it.key());
    for (auto it = got.begin(); it != got.end(); ++it) gk.push_back(it.key());
    if (wk != gk)
      return path + ": keys differ: want " + json(wk).dump() + " got " + json(gk).dump();
    for (const auto& k : wk) {
      std::string d = diff(want[k], got[k], path + "." + k);
      if (!d.empty()) return d;
    }
    return "";
  }
  if (want.is_array()) {
    if (want.size() != got.size()) return path + ": list length differs";
    for (size_t i = 0; i < want.size(); ++i) {
      std::string d = diff(want[i], got[i], path + "[" + std::to_string(i) + "]");
      if (!d.empty()) return d;
    }
    return "";
  }
  if (want != got) return path + ": want " + want.dump() + " got " + got.dump();
  return "";
}

// nlohmann::json sorts object keys; key order matters here, so fixtures are read ordered.
using ordered = nlohmann::ordered_json;

// Exact comparison (values, int/float/bool/null types, key order); on a mismatch, names
// the first differing path.
std::string compare(const ordered& want, const ordered& got) {
  if (want.dump() == got.dump()) return "";
  std::string d = diff(json::parse(want.dump()), json::parse(got.dump()), "");
  return d.empty() ? "key order differs:\n want " + want.dump() + "\n got  " + got.dump() : d;
}

TEST(ConfigGolden, MatchesTorchtuneOnEveryRecordedCase) {
  std::ifstream in(std::string(TT_SOURCE_DIR) + "/tests/assets/golden/config/cases.json");
  ASSERT_TRUE(in.good());
  ordered fixture = ordered::parse(in);
  ASSERT_EQ(fixture["versions"]["torchtune"].get<std::string>().substr(0, 5), "0.6.1");
  ASSERT_EQ(chdir(TT_SOURCE_DIR), 0);
  size_t checked = 0;
  for (const auto& c : fixture["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    for (const auto& var : fixture["env_unset"]) unsetenv(var.get<std::string>().c_str());
    if (c.contains("env"))
      for (auto it = c["env"].begin(); it != c["env"].end(); ++it)
        setenv(it.key().c_str(), it.value().get<std::string>().c_str(), 1);
    std::vector<std::string> overrides = c["overrides"].get<std::vector<std::string>>();
    // `--flag` leftovers are refused by the recipe's argument parser, before loading.
    std::vector<std::string> argv_s{"recipe", "--config", c["config"].get<std::string>()};
    argv_s.insert(argv_s.end(), overrides.begin(), overrides.end());
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());

    std::string error;
    ordered got;
    try {
      RecipeArgs args = parse_recipe_args(static_cast<int>(argv.size()), argv.data());
      got = to_json<ordered>(Config::load(args.config_path, args.overrides).resolved());
    } catch (const Error& e) {
      error = e.what();
    }
    ++checked;
    if (kIntendedDifferences.count(name)) continue;
    if (c.contains("error")) {
      EXPECT_FALSE(error.empty()) << "torchtune raised: " << c["error"].get<std::string>();
      std::string want = c["error"].get<std::string>();
      want = want.substr(0, want.find('\n'));
      for (const std::string& prefix : kTorchtuneMessages) {
        if (want.rfind(prefix, 0) == 0) {
          EXPECT_NE(error.find(want), std::string::npos) << "want: " << want << "\n got: " << error;
        }
      }
    } else {
      ASSERT_TRUE(error.empty()) << error;
      std::string d = compare(c["resolved"], got);
      EXPECT_TRUE(d.empty()) << d;
    }
  }
  EXPECT_GE(checked, 50u);
}

}  // namespace
}  // namespace tt::config
