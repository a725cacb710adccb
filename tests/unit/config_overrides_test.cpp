// Overrides, interpolation and typed access: torchtune's command-line rules.
#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/unit/test_util.h"
#include "torchtune_cpp/config/config.h"
#include "torchtune_cpp/config/interpolate.h"
#include "torchtune_cpp/config/overrides.h"
#include "torchtune_cpp/config/parse.h"
#include "torchtune_cpp/config/yaml_io.h"

namespace tt::config {
namespace {

const char* kBase =
    "output_dir: /tmp/run\n"
    "seed: null\n"
    "batch_size: 2\n"
    "model:\n"
    "  _component_: torchtune.models.llama2.llama2_7b\n"
    "optimizer:\n"
    "  _component_: torch.optim.AdamW\n"
    "  lr: 2e-5\n"
    "  fused: True\n"
    "checkpointer:\n"
    "  _component_: torchtune.training.FullModelHFCheckpointer\n"
    "  checkpoint_files: [a.bin, b.bin]\n"
    "  output_dir: ${output_dir}\n"
    "metric_logger:\n"
    "  log_dir: ${output_dir}/logs\n"
    "profiler:\n"
    "  extra:\n"
    "    only: 1\n";

Node with(const std::vector<std::string>& overrides) {
  Node root = parse_yaml(kBase, "base.yaml");
  apply_overrides(root, overrides);
  return root;
}

TEST(Overrides, NestedSetAndCreate) {
  Node n = with({"optimizer.lr=3e-4", "new.deep.key=5", "batch_size=8"});
  EXPECT_DOUBLE_EQ(*n.find_path("optimizer.lr")->as_double(), 3e-4);
  EXPECT_EQ(*n.find_path("new.deep.key")->as_int(), 5);
  EXPECT_EQ(*n.find("batch_size")->as_int(), 8);
  EXPECT_TRUE(*n.find_path("optimizer.fused")->as_bool());  // untouched siblings stay
  EXPECT_EQ(n.find_path("optimizer.lr")->loc.origin, "command-line override 'optimizer.lr=3e-4'");
}

TEST(Overrides, ListsNullAndStrings) {
  Node n = with({"checkpointer.checkpoint_files=[x.bin,y.bin,z.bin]", "seed=None",
                 "batch_size=null", "output_dir=/new/dir"});
  const Node* files = n.find_path("checkpointer.checkpoint_files");
  ASSERT_TRUE(files->is_list());
  ASSERT_EQ(files->items.size(), 3u);
  EXPECT_EQ(files->items[2].text, "z.bin");
  EXPECT_TRUE(n.find("seed")->is_null());
  EXPECT_TRUE(n.find("batch_size")->is_null());
}

TEST(Overrides, MaxFilenameKeepsLeadingZeros) {
  Node n = with({"sharded.checkpoint_files.max_filename=00005", "other=00005"});
  EXPECT_EQ(*n.find("other")->as_int(), 5);  // elsewhere YAML 1.1 reads an octal int
  const Node* v = n.find_path("sharded.checkpoint_files.max_filename");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->scalar_type(), ScalarType::kString);
  EXPECT_EQ(v->text, "00005");
}

TEST(Overrides, TopLevelComponentSwap) {
  Node n = with({"optimizer=bitsandbytes.optim.PagedAdamW8bit"});
  EXPECT_EQ(n.find_path("optimizer._component_")->text, "bitsandbytes.optim.PagedAdamW8bit");
  EXPECT_DOUBLE_EQ(*n.find_path("optimizer.lr")->as_double(), 2e-5);
}

TEST(Overrides, Deletion) {
  Node n = with({"~batch_size", "~optimizer.fused", "~profiler.extra.only"});
  EXPECT_EQ(n.find("batch_size"), nullptr);
  EXPECT_EQ(n.find_path("optimizer.fused"), nullptr);
  EXPECT_EQ(n.find("profiler"), nullptr);  // parents left empty go too
  testing::expect_error(
      [] { with({"~optimizer"}); },
      {"'~optimizer'", "Removing components from CLI is not supported: ~optimizer"});
  testing::expect_error([] { with({"~optimizer._component_"}); }, {"Removing components"});
  testing::expect_error([] { with({"~nope.key"}); },
                        {"Could not find key nope.key in yaml config to remove"});
}

TEST(Overrides, BadSyntax) {
  testing::expect_error([] { with({"a=b=c"}); },
                        {"Command-line overrides must be in the form of key=value, got a=b=c"});
  testing::expect_error([] { with({"justakey"}); }, {"key=value"});
  testing::expect_error([] { with({"a..b=1"}); }, {"not a dotted name"});
  testing::expect_error([] { with({"k=[1, 2"}); },
                        {"command-line override 'k=[1, 2'", "malformed YAML"});
}

TEST(Interpolation, LateAndTyped) {
  Node n = with({"output_dir=/elsewhere"});
  Node r = resolve_all(n);
  EXPECT_EQ(r.find_path("checkpointer.output_dir")->text, "/elsewhere");
  EXPECT_EQ(r.find_path("metric_logger.log_dir")->text, "/elsewhere/logs");
  Node t = resolve_all(
      parse_yaml("a: 3\nb: ${a}\nc: x${a}\nd: ['${a}']\ne:\n  f: ${.g}\n  g: 1\nh: 007\ni: 1e-5\n"
                 "j: r${h}_${i}_${k}_${l}\nk: 2.50\nl: yes\n",
                 "t.yaml"));
  EXPECT_EQ(t.find("b")->scalar_type(), ScalarType::kInt);  // whole-value keeps the type
  EXPECT_EQ(t.find("c")->scalar_type(), ScalarType::kString);
  EXPECT_EQ(t.find("c")->text, "x3");
  EXPECT_EQ(t.find_path("d.0")->text, "3");
  EXPECT_EQ(t.find_path("e.f")->text, "1");
  EXPECT_EQ(t.find("j")->text, "r7_1e-05_2.5_True");  // joined as Python's str() prints them
}

TEST(Interpolation, EnvironmentVariables) {
  setenv("TTCPP_UNIT_VAR", "from_env", 1);
  unsetenv("TTCPP_UNSET_VAR");
  Node r = resolve_all(
      parse_yaml("a: ${oc.env:TTCPP_UNIT_VAR}\nb: ${oc.env:TTCPP_UNSET_VAR,fallback}\nc: "
                 "${oc.env:TTCPP_UNSET_VAR,null}\n",
                 "t.yaml"));
  EXPECT_EQ(r.find("a")->text, "from_env");
  EXPECT_EQ(r.find("b")->text, "fallback");
  EXPECT_TRUE(r.find("c")->is_null());
  testing::expect_error([] { resolve_all(parse_yaml("a: ${oc.env:TTCPP_UNSET_VAR}\n", "e.yaml")); },
                        {"e.yaml:1:4", "TTCPP_UNSET_VAR", "is not set"});
}

TEST(Interpolation, Errors) {
  testing::expect_error([] { resolve_all(parse_yaml("a: ${missing.key}\n", "m.yaml")); },
                        {"m.yaml:1:4", "refers to key 'missing.key'", "not in the config"});
  testing::expect_error([] { resolve_all(parse_yaml("a: ${b}\nb: ${a}\n", "c.yaml")); },
                        {"interpolation cycle"});
  testing::expect_error([] { resolve_all(parse_yaml("a: x${b}\nb: {c: 1}\n", "s.yaml")); },
                        {"cannot be joined into text"});
  testing::expect_error([] { resolve_all(parse_yaml("a: ${oc.decode:1}\n", "r.yaml")); },
                        {"unsupported resolver"});
  Node esc = resolve_all(parse_yaml("a: \\${b}\n", "t.yaml"));
  EXPECT_EQ(esc.find("a")->text, "${b}");
}

TEST(ConfigAccess, TypedGettersNameKeyAndLine) {
  Config cfg(with({"batch_size=two"}), "base.yaml");
  EXPECT_EQ(cfg.get_string("output_dir"), "/tmp/run");
  EXPECT_DOUBLE_EQ(cfg.get_double("optimizer.lr"), 2e-5);
  EXPECT_EQ(cfg.get_int_or("gradient_accumulation_steps", 1), 1);
  EXPECT_EQ(cfg.get_optional_int("seed"), std::nullopt);
  EXPECT_FALSE(cfg.has("seed"));
  testing::expect_error(
      [&] { cfg.get_int("batch_size"); },
      {"batch_size (command-line override 'batch_size=two')", "expected an integer", "'two'"});
  testing::expect_error([&] { cfg.get_int("epochs"); },
                        {"base.yaml", "missing required key 'epochs'"});
  testing::expect_error([&] { cfg.get_bool("optimizer.lr"); },
                        {"optimizer.lr (base.yaml:8:7)", "True or False"});
  // An integer beyond 64 bits is an integer still, but too large: say so.
  Config big(with({"batch_size=99999999999999999999"}), "base.yaml");
  testing::expect_error([&] { big.get_int("batch_size"); },
                        {"batch_size (command-line override",
                         "'99999999999999999999' is outside the 64-bit integer range"});
}

TEST(RecipeArgs, ParsesConfigAndOverrides) {
  const char* argv[] = {"recipe", "--config", "x.yaml", "a=1", "~b"};
  RecipeArgs a = parse_recipe_args(5, const_cast<char**>(argv));
  EXPECT_EQ(a.config_path, "x.yaml");
  EXPECT_EQ(a.overrides, (std::vector<std::string>{"a=1", "~b"}));
  const char* argv2[] = {"recipe", "--config=y.yaml"};
  EXPECT_EQ(parse_recipe_args(2, const_cast<char**>(argv2)).config_path, "y.yaml");
  const char* bad[] = {"recipe", "--config", "x.yaml", "--foo", "--bar=1"};
  testing::expect_error(
      [&] { parse_recipe_args(5, const_cast<char**>(bad)); },
      {"Additional flag arguments not supported: ['--foo', '--bar=1']. Please use "
       "--config or key=value overrides"});
  const char* none[] = {"recipe", "a=1"};
  testing::expect_error([&] { parse_recipe_args(2, const_cast<char**>(none)); },
                        {"The '--config' argument is required."});
}

}  // namespace
}  // namespace tt::config

namespace tt::config {
namespace {

TEST(Overrides, ListElementsCannotBeSetByIndex) {
  testing::expect_error([] { with({"checkpointer.checkpoint_files.0=x.bin"}); },
                        {"cannot set single elements of the list 'checkpointer.checkpoint_files'"});
}

TEST(ConfigNode, PythonStrOfScalars) {
  auto str_of = [](const std::string& v) { return Node::scalar(v).python_str(); };
  EXPECT_EQ(str_of("1e-5"), "1e-05");
  EXPECT_EQ(str_of("2e-5"), "2e-05");
  EXPECT_EQ(str_of("1e16"), "1e+16");
  EXPECT_EQ(str_of("1.5e16"), "1.5e+16");
  EXPECT_EQ(str_of("1000."), "1000.0");
  EXPECT_EQ(str_of("0.0001"), "0.0001");
  EXPECT_EQ(str_of("-2.5e-3"), "-0.0025");
  EXPECT_EQ(str_of("0.1"), "0.1");
  EXPECT_EQ(str_of("123456789.125"), "123456789.125");
  EXPECT_EQ(str_of("0x10"), "16");
  EXPECT_EQ(str_of("off"), "False");
  EXPECT_EQ(str_of("~"), "None");
}

}  // namespace
}  // namespace tt::config
