// The config tree: YAML typing rules, located parse errors, navigation and emission.
#include <gtest/gtest.h>

#include "tests/unit/test_util.h"
#include "torchtune_cpp/config/node.h"
#include "torchtune_cpp/config/yaml_io.h"

namespace tt::config {
namespace {

ScalarType type_of(const std::string& yaml_value) {
  return parse_yaml("k: " + yaml_value, "t.yaml").find("k")->scalar_type();
}

TEST(ConfigNode, ScalarTypesFollowOmegaConfRules) {
  for (const char* s : {"null", "~", "Null", "NULL", ""})
    EXPECT_EQ(type_of(s), ScalarType::kNull) << s;
  for (const char* s : {"True", "true", "FALSE", "yes", "off"})
    EXPECT_EQ(type_of(s), ScalarType::kBool) << s;
  for (const char* s : {"0", "-3", "1_000", "0x1F", "010"})
    EXPECT_EQ(type_of(s), ScalarType::kInt) << s;
  for (const char* s : {"2e-5", "1E5", ".5", "2.0", "-1.5e+3", ".inf", ".nan"})
    EXPECT_EQ(type_of(s), ScalarType::kFloat) << s;
  for (const char* s : {"'1'", "\"true\"", "!!str 3", "abc", "1e", "08", "/tmp/x"})
    EXPECT_EQ(type_of(s), ScalarType::kString) << s;
}

TEST(ConfigNode, ScalarValues) {
  Node n = parse_yaml("a: 2e-5\nb: 010\nc: 0x10\nd: on\ne: 1_000\nf: -7", "t.yaml");
  EXPECT_DOUBLE_EQ(*n.find("a")->as_double(), 2e-5);
  EXPECT_EQ(*n.find("b")->as_int(), 8);  // YAML 1.1 octal, as PyYAML reads it
  EXPECT_EQ(*n.find("c")->as_int(), 16);
  EXPECT_TRUE(*n.find("d")->as_bool());
  EXPECT_EQ(*n.find("e")->as_int(), 1000);
  EXPECT_EQ(*n.find("f")->as_int(), -7);
  EXPECT_DOUBLE_EQ(*n.find("f")->as_double(), -7.0);  // ints widen to floats
  EXPECT_FALSE(n.find("a")->as_int().has_value());
}

TEST(ConfigNode, LocationsAreOneBased) {
  Node n = parse_yaml("a: 1\nmodel:\n  _component_: x.y\n  dim: 4\n", "cfg.yaml");
  EXPECT_EQ(n.find_path("model.dim")->loc.str(), "cfg.yaml:4:8");
  EXPECT_EQ(n.find_path("model._component_")->text, "x.y");
  EXPECT_TRUE(n.find("model")->is_component());
  EXPECT_EQ(n.find_path("model.nope"), nullptr);
}

TEST(ConfigNode, FindPathIndexesLists) {
  Node n = parse_yaml("files: [a.bin, b.bin]\nds:\n- {x: 1}\n- {x: 2}\n", "t.yaml");
  EXPECT_EQ(n.find_path("files.1")->text, "b.bin");
  EXPECT_EQ(n.find_path("ds.1.x")->text, "2");
  EXPECT_EQ(n.find_path("files.2"), nullptr);
}

TEST(ConfigNode, MalformedYamlNamesFileLineAndColumn) {
  testing::expect_error([] { parse_yaml("a: 1\nb: [1, 2\nc: 3\n", "bad.yaml"); },
                        {"bad.yaml:", "malformed YAML"});
  testing::expect_error([] { parse_yaml("a: 1\nmodel:\n  x: 1\n   y: 2\n", "indent.yaml"); },
                        {"indent.yaml:", "malformed YAML"});
}

TEST(ConfigNode, DuplicateKeysAreRefused) {
  testing::expect_error([] { parse_yaml("a: 1\nb: 2\na: 3\n", "dup.yaml"); },
                        {"dup.yaml:3:1", "duplicate key 'a'", "line 1"});
}

TEST(ConfigNode, MissingFileIsNamed) {
  testing::expect_error([] { load_yaml_file("/nonexistent/cfg.yaml"); },
                        {"/nonexistent/cfg.yaml", "cannot open"});
}

TEST(ConfigNode, EmitsBlockYamlAndRoundTrips) {
  const std::string text =
      "output_dir: /tmp/out\n"
      "model:\n"
      "  _component_: torchtune.models.llama2.llama2_7b\n"
      "checkpointer:\n"
      "  checkpoint_files:\n"
      "  - a.bin\n"
      "  - b.bin\n"
      "  max_filename: '00003'\n"
      "  empty: []\n"
      "seed: null\n"
      "lr: 2e-5\n"
      "flag: true\n"
      "items:\n"
      "- name: x\n"
      "  size: 1\n";
  Node n = parse_yaml(text, "t.yaml");
  std::string out = emit_yaml(n, EmitOptions{2, false});
  EXPECT_EQ(out, text);
  Node back = parse_yaml(out, "out.yaml");
  EXPECT_TRUE(same_value(n, back));
  std::string four = emit_yaml(n, EmitOptions{4, true});
  EXPECT_NE(four.find("checkpointer:\n    checkpoint_files:\n    - a.bin\n"), std::string::npos)
      << four;
  EXPECT_LT(four.find("checkpointer:"), four.find("output_dir:"));  // sorted
  EXPECT_NE(four.find("-   name: x\n    size: 1\n"), std::string::npos) << four;
}

TEST(ConfigNode, EmitQuotesTextThatWouldChangeType) {
  EXPECT_EQ(emit_scalar(Node::scalar("00003", true)), "'00003'");
  EXPECT_EQ(emit_scalar(Node::scalar("true", true)), "'true'");
  EXPECT_EQ(emit_scalar(Node::scalar("a: b", true)), "'a: b'");
  EXPECT_EQ(emit_scalar(Node::scalar("", true)), "''");
  EXPECT_EQ(emit_scalar(Node::scalar("it's", true)), "it's");
  EXPECT_EQ(emit_scalar(Node::scalar("True")), "true");
  EXPECT_EQ(emit_scalar(Node::scalar("~")), "null");
}

}  // namespace
}  // namespace tt::config
