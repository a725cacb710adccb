// The component registry: declared arguments, every error path, call-site keywords and
// whole-config validation. Components here are test doubles registered by the test.
#include <gtest/gtest.h>

#include <memory>

#include "tests/unit/test_util.h"
#include "torchtune_cpp/components.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/config/validate.h"
#include "torchtune_cpp/config/yaml_io.h"

namespace tt::config {
namespace {

struct FakeOptimizer {
  std::vector<int> params;
  double lr;
  std::vector<double> betas;
  bool fused;
};
using OptimizerPtr = std::shared_ptr<FakeOptimizer>;

struct FakeCheckpointer {
  std::string dir;
  bool load_state;
};

void register_fakes() {
  register_component<OptimizerPtr, std::vector<int>>(
      ComponentSpec{"test.optim.AdamW", "optimizer", "AdamW", {"params"},
                    {arg("lr", ArgType::kFloat, "0.001", ""),
                     arg("betas", ArgType::kNumberList, "[0.9, 0.999]", ""),
                     arg("fused", ArgType::kBool, "null", "")},
                    {"test.legacy.AdamW"}},
      [](const Kwargs& kw, std::vector<int> params) {
        return std::make_shared<FakeOptimizer>(FakeOptimizer{
            std::move(params), kw.get_double("lr"), kw.get_number_list("betas"),
            kw.has("fused") && kw.get_bool("fused")});
      });
  register_component<FakeCheckpointer>(
      ComponentSpec{"test.Checkpointer", "checkpointer", "", {},
                    {arg("checkpoint_dir", ArgType::kString),
                     arg("should_load_recipe_state", ArgType::kBool, "False", "")}},
      [](const Kwargs& kw) {
        return FakeCheckpointer{kw.get_string("checkpoint_dir"), kw.get_bool("should_load_recipe_state")};
      });
  register_unsupported("test.WandBLogger", "Use TensorBoardLogger instead.");
}

class Registry : public ::testing::Test {
 protected:
  void SetUp() override { register_fakes(); }
  static Config cfg(const std::string& yaml) { return Config(parse_yaml(yaml, "c.yaml"), "c.yaml"); }
};

TEST_F(Registry, InstantiatesWithPositionalDefaultsAndAliases) {
  Config c = cfg("optimizer:\n  _component_: test.legacy.AdamW\n  lr: 2e-5\n  fused: True\n");
  auto opt = instantiate<OptimizerPtr, std::vector<int>>(c, "optimizer", Node::map(), {1, 2, 3});
  EXPECT_EQ(opt->params, (std::vector<int>{1, 2, 3}));
  EXPECT_DOUBLE_EQ(opt->lr, 2e-5);
  EXPECT_EQ(opt->betas, (std::vector<double>{0.9, 0.999}));
  EXPECT_TRUE(opt->fused);
}

TEST_F(Registry, CallSiteKeywordsOverrideConfig) {
  Config c = cfg("dir: /ckpt\nck:\n  _component_: test.Checkpointer\n  checkpoint_dir: ${dir}\n"
                 "  should_load_recipe_state: False\n");
  Node kwargs = Node::map();
  kwargs.set("should_load_recipe_state", Node::scalar("True"));
  FakeCheckpointer ck = instantiate<FakeCheckpointer>(c, "ck", kwargs);
  EXPECT_EQ(ck.dir, "/ckpt");
  EXPECT_TRUE(ck.load_state);
}

TEST_F(Registry, ErrorsNameKeyLineAndFix) {
  testing::expect_error(
      [] { instantiate<OptimizerPtr, std::vector<int>>(cfg("optimizer:\n  _component_: test.optim.AdamW\n  lrr: 0.1\n"),
                                                        "optimizer", Node::map(), {}); },
      {"c.yaml:3:8", "optimizer.lrr", "unexpected keyword argument 'lrr'", "Did you mean 'lr'?",
       "Accepted keywords: lr, betas, fused"});
  testing::expect_error(
      [] { instantiate<OptimizerPtr, std::vector<int>>(cfg("optimizer:\n  _component_: test.optim.AdamW\n  lr: fast\n"),
                                                        "optimizer", Node::map(), {}); },
      {"c.yaml:3:7", "needs a number for 'lr', got a string 'fast'"});
  testing::expect_error(
      [] { instantiate<OptimizerPtr, std::vector<int>>(cfg("optimizer:\n  _component_: test.optim.AdamWW\n"),
                                                        "optimizer", Node::map(), {}); },
      {"c.yaml:2:16", "unknown component 'test.optim.AdamWW'", "Did you mean 'test.optim.AdamW'"});
  testing::expect_error([] { instantiate<FakeCheckpointer>(cfg("ck:\n  _component_: test.Checkpointer\n"), "ck", Node::map()); },
                        {"missing required argument 'checkpoint_dir'"});
  testing::expect_error([] { instantiate<FakeCheckpointer>(cfg("ck:\n  checkpoint_dir: x\n"), "ck", Node::map()); },
                        {"Cannot instantiate specified object", "_component_"});
  testing::expect_error([] { instantiate<FakeCheckpointer>(cfg("a: 1\n"), "ck", Node::map()); },
                        {"missing component 'ck'"});
  testing::expect_error([] { instantiate<FakeCheckpointer>(cfg("ck:\n  _component_: test.WandBLogger\n"), "ck", Node::map()); },
                        {"'test.WandBLogger' is a torchtune component that torchtune_cpp does not provide",
                         "TensorBoardLogger"});
  testing::expect_error(
      [] { instantiate<OptimizerPtr, std::vector<int>>(cfg("o:\n  _component_: test.optim.AdamW\n  params: [1]\n"),
                                                        "o", Node::map(), {}); },
      {"'params' of test.optim.AdamW is passed by the recipe"});
  // A component of the wrong kind for the slot.
  testing::expect_error([] { instantiate<FakeCheckpointer>(cfg("ck:\n  _component_: test.optim.AdamW\n"), "ck", Node::map()); },
                        {"'test.optim.AdamW' builds a component of kind 'optimizer'"});
  testing::expect_error(
      [] { instantiate<OptimizerPtr, std::vector<int>>(cfg("o:\n  _component_: test.optim.AdamW\n  fused: maybe\n"),
                                                        "o", Node::map(), {}); },
      {"needs a boolean (True/False) for 'fused'"});
}

TEST_F(Registry, ValidateReportsEveryProblemAndWarnsOnUnusedKeys) {
  Node raw = parse_yaml(
      "optimizer:\n  _component_: test.optim.AdamW\n  lrr: 1\n  betas: [a]\n"
      "ck:\n  _component_: test.Checkpointer\n"
      "datasets:\n- _component_: test.Nope\n"
      "batch_sise: 4\nused_by_interp: 3\nother: ${used_by_interp}\n",
      "v.yaml");
  ValidationReport r = validate_config(raw, {"optimizer", "ck", "datasets", "batch_size", "other"});
  ASSERT_EQ(r.errors.size(), 4u);
  EXPECT_NE(r.errors[0].message.find("lrr"), std::string::npos);
  EXPECT_NE(r.errors[1].message.find("betas"), std::string::npos);
  EXPECT_NE(r.errors[2].message.find("checkpoint_dir"), std::string::npos);
  EXPECT_NE(r.errors[3].message.find("datasets.0"), std::string::npos);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].where.rfind("v.yaml:9:", 0), 0u) << r.warnings[0].where;
  EXPECT_NE(r.warnings[0].message.find("Did you mean 'batch_size'?"), std::string::npos);
  testing::expect_error([&] { fail_with(r.errors); }, {"4 problems in the config:", "v.yaml:3:8"});
}

TEST(Components, BuiltinTableNamesTorchtuneAlternatives) {
  register_builtin_components();
  auto alt = unsupported_alternative("torchtune.training.metric_logging.WandBLogger");
  ASSERT_TRUE(alt.has_value());
  EXPECT_NE(alt->find("TensorBoardLogger"), std::string::npos);
  EXPECT_NE(alt->find("post_save_command"), std::string::npos);
  EXPECT_TRUE(unsupported_alternative("torchtune.models.llama2.lora_llama2_7b").has_value());
}

}  // namespace
}  // namespace tt::config
