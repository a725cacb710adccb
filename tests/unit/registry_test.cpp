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
      ComponentSpec{"test.optim.AdamW",
                    "optimizer",
                    "AdamW",
                    {"params"},
                    {arg("lr", ArgType::kFloat, "0.001", ""),
                     arg("betas", ArgType::kNumberList, "[0.9, 0.999]", ""),
                     arg("fused", ArgType::kBool, "null", "")},
                    {"test.legacy.AdamW"}},
      [](const Kwargs& kw, std::vector<int> params) {
        return std::make_shared<FakeOptimizer>(
            FakeOptimizer{std::move(params), kw.get_double("lr"), kw.get_number_list("betas"),
                          kw.has("fused") && kw.get_bool("fused")});
      });
  register_component<FakeCheckpointer>(
      ComponentSpec{"test.Checkpointer",
                    "checkpointer",
                    "",
                    {},
                    {arg("checkpoint_dir", ArgType::kString),
                     arg("should_load_recipe_state", ArgType::kBool, "False", "")}},
      [](const Kwargs& kw) {
        return FakeCheckpointer{kw.get_string("checkpoint_dir"),
                                kw.get_bool("should_load_recipe_state")};
      });
  register_unsupported("test.WandBLogger", "Use TensorBoardLogger instead.");
}

class Registry : public ::testing::Test {
 protected:
  void SetUp() override { register_fakes(); }
  static Config cfg(const std::string& yaml) {
    return Config(parse_yaml(yaml, "c.yaml"), "c.yaml");
  }
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
  Config c =
      cfg("dir: /ckpt\nck:\n  _component_: test.Checkpointer\n  checkpoint_dir: ${dir}\n"
          "  should_load_recipe_state: False\n");
  Node kwargs = Node::map();
  kwargs.set("should_load_recipe_state", Node::scalar("True"));
  FakeCheckpointer ck = instantiate<FakeCheckpointer>(c, "ck", kwargs);
  EXPECT_EQ(ck.dir, "/ckpt");
  EXPECT_TRUE(ck.load_state);
}

TEST_F(Registry, ErrorsNameKeyLineAndFix) {
  testing::expect_error(
      [] {
        instantiate<OptimizerPtr, std::vector<int>>(
            cfg("optimizer:\n  _component_: test.optim.AdamW\n  lrr: 0.1\n"), "optimizer",
            Node::map(), {});
      },
      {"optimizer.lrr (c.yaml:3:8): ", "unexpected keyword argument 'lrr'", "Did you mean 'lr'?",
       "Accepted keywords: lr, betas, fused"});
  testing::expect_error(
      [] {
        instantiate<OptimizerPtr, std::vector<int>>(
            cfg("optimizer:\n  _component_: test.optim.AdamW\n  lr: fast\n"), "optimizer",
            Node::map(), {});
      },
      {"optimizer.lr (c.yaml:3:7): ", "needs a number for 'lr', got a string 'fast'"});
  testing::expect_error(
      [] {
        instantiate<OptimizerPtr, std::vector<int>>(
            cfg("optimizer:\n  _component_: test.optim.AdamWW\n"), "optimizer", Node::map(), {});
      },
      {"optimizer._component_ (c.yaml:2:16): ", "unknown component 'test.optim.AdamWW'",
       "Did you mean 'test.optim.AdamW'"});
  testing::expect_error(
      [] {
        instantiate<FakeCheckpointer>(cfg("ck:\n  _component_: test.Checkpointer\n"), "ck",
                                      Node::map());
      },
      {"missing required argument 'checkpoint_dir'"});
  testing::expect_error(
      [] { instantiate<FakeCheckpointer>(cfg("ck:\n  checkpoint_dir: x\n"), "ck", Node::map()); },
      {"Cannot instantiate specified object", "_component_"});
  testing::expect_error([] { instantiate<FakeCheckpointer>(cfg("a: 1\n"), "ck", Node::map()); },
                        {"missing component 'ck'"});
  testing::expect_error(
      [] {
        instantiate<FakeCheckpointer>(cfg("ck:\n  _component_: test.WandBLogger\n"), "ck",
                                      Node::map());
      },
      {"'test.WandBLogger' is a component torchtune configs use that torchtune_cpp does not "
       "provide yet",
       "TensorBoardLogger"});
  testing::expect_error(
      [] {
        instantiate<OptimizerPtr, std::vector<int>>(
            cfg("o:\n  _component_: test.optim.AdamW\n  params: [1]\n"), "o", Node::map(), {});
      },
      {"'params' of test.optim.AdamW is passed by the recipe"});
  // A component of the wrong kind for the slot.
  testing::expect_error(
      [] {
        instantiate<FakeCheckpointer>(cfg("ck:\n  _component_: test.optim.AdamW\n"), "ck",
                                      Node::map());
      },
      {"'test.optim.AdamW' builds a component of kind 'optimizer'"});
  testing::expect_error(
      [] {
        instantiate<OptimizerPtr, std::vector<int>>(
            cfg("o:\n  _component_: test.optim.AdamW\n  fused: maybe\n"), "o", Node::map(), {});
      },
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
  EXPECT_EQ(r.errors[3].where.rfind("datasets.0._component_ (v.yaml:8:16)", 0), 0u)
      << r.errors[3].where;
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].where.rfind("v.yaml:9:", 0), 0u) << r.warnings[0].where;
  EXPECT_NE(r.warnings[0].message.find("Did you mean 'batch_size'?"), std::string::npos);
  testing::expect_error([&] { fail_with(r.errors); },
                        {"4 problems in the config:", "optimizer.lrr (v.yaml:3:8)"});
}

// Value constraints declared with an argument are checked wherever the type is: by
// `tune validate` (validate_config) and at instantiation, with the same message.
TEST_F(Registry, ValueConstraintsAreCheckedByValidateAndInstantiateAlike) {
  Constraint betas = in_half_open(0, 1, "Invalid beta parameter");
  betas.length = 2;
  ComponentSpec spec{
      "test.optim.Checked",
      "optimizer",
      "",
      {"params"},
      {arg("lr", ArgType::kFloat, "0.001", "", at_least(0, "Invalid learning rate")),
       arg("betas", ArgType::kNumberList, "[0.9, 0.999]", "", betas),
       arg("steps", ArgType::kInt, "1", "", with_hint(at_least(1), "null disables it")),
       arg("mode", ArgType::kString, "a", "", one_of({"a", "b"})),
       arg("nesterov", ArgType::kBool, "False", ""), arg("momentum", ArgType::kFloat, "0", "")}};
  spec.cross_check = [](const Kwargs& kw) {
    std::vector<Problem> p;
    if (kw.get_bool("nesterov") && kw.get_double("momentum") <= 0)
      p.push_back(Problem{kw.where("nesterov"),
                          "Nesterov momentum requires a momentum and zero dampening"});
    return p;
  };
  register_component<OptimizerPtr, std::vector<int>>(spec, [](const Kwargs& kw, std::vector<int>) {
    return std::make_shared<FakeOptimizer>(
        FakeOptimizer{{}, kw.get_double("lr"), kw.get_number_list("betas"), false});
  });
  struct Case {
    std::string field, want;
  };
  const std::vector<Case> cases = {
      {"lr: -1", "optimizer.lr (c.yaml:3:7): Invalid learning rate: -1; it must be at least 0"},
      {"lr: .nan",
       "optimizer.lr (c.yaml:3:7): Invalid learning rate: nan; it must be a finite number at least "
       "0"},
      {"lr: .inf", "Invalid learning rate: inf; it must be a finite number at least 0"},
      {"betas: [0.9, 1.0]",
       "optimizer.betas (c.yaml:3:10): Invalid beta parameter at index 1: 1.0; it must be in [0, "
       "1)"},
      {"betas: [-0.1, 0.9]", "Invalid beta parameter at index 0: -0.1"},
      {"betas: [0.9]", "expected a list of 2 values, got 1"},
      {"steps: 0", "optimizer.steps (c.yaml:3:10): must be at least 1, got 0; null disables it"},
      {"steps: 99999999999999999999", "'99999999999999999999' is outside the 64-bit integer range"},
      {"mode: c", "'c' is not accepted; use one of: a, b."},
      {"nesterov: True", "optimizer.nesterov (c.yaml:3:13): Nesterov momentum requires a momentum"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    const std::string yaml = "optimizer:\n  _component_: test.optim.Checked\n  " + c.field + "\n";
    ValidationReport r = validate_config(parse_yaml(yaml, "c.yaml"), {});
    ASSERT_EQ(r.errors.size(), 1u);
    EXPECT_NE((r.errors[0].where + ": " + r.errors[0].message).find(c.want), std::string::npos)
        << r.errors[0].where << ": " << r.errors[0].message;
    testing::expect_error(
        [&] {
          instantiate<OptimizerPtr, std::vector<int>>(cfg(yaml), "optimizer", Node::map(), {});
        },
        {c.want});
  }
  // Values within the bounds pass, the bounds themselves included.
  for (const std::string field :
       {"lr: 0", "betas: [0.0, 0.999]", "steps: 1", "mode: b", "momentum: 0.9"})
    EXPECT_TRUE(
        validate_config(
            parse_yaml("o:\n  _component_: test.optim.Checked\n  " + field + "\n", "c.yaml"), {})
            .ok())
        << field;
}

// A recipe's top-level keys, declared once, checked by validate_recipe_config.
TEST(RecipeKeys, RequiredTypedAndConstrained) {
  std::vector<ArgSpec> keys = {arg("epochs", ArgType::kInt, "passes over the data", at_least(1)),
                               arg("clip", ArgType::kFloat, "null", "", greater_than(0)),
                               arg("device", ArgType::kString, "", one_of({"cpu", "cuda"}))};
  ValidationReport r = validate_recipe_config(
      parse_yaml("epochs: 0\nclip: null\nextra: 1\n", "k.yaml"), keys, "k.yaml");
  ASSERT_EQ(r.errors.size(), 2u);
  EXPECT_EQ(r.errors[0].where, "epochs (k.yaml:1:9)");
  EXPECT_EQ(r.errors[0].message, "must be at least 1, got 0");
  EXPECT_EQ(r.errors[1].where, "device (k.yaml)");
  EXPECT_NE(r.errors[1].message.find("missing required key 'device'"), std::string::npos);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].message.find("'extra' is not read"), std::string::npos);
  EXPECT_TRUE(validate_recipe_config(parse_yaml("epochs: 2\nclip: 1.0\ndevice: cpu\n", "k.yaml"),
                                     keys, "k.yaml")
                  .ok());
}

TEST(Components, BuiltinTableNamesTorchtuneAlternatives) {
  register_builtin_components();
  auto alt = unsupported_alternative("torchtune.training.metric_logging.WandBLogger");
  ASSERT_TRUE(alt.has_value());
  EXPECT_NE(alt->find("TensorBoardLogger"), std::string::npos);
  EXPECT_NE(alt->find("post_save_command"), std::string::npos);
  EXPECT_TRUE(unsupported_alternative("torchtune.models.llama2.lora_llama2_7b").has_value());
}

// A real torchtune component not provided here is named as such, with what we have of its
// kind, and no did-you-mean toward a sibling family; a typo gets a did-you-mean.
TEST(Components, TorchtuneComponentsNotProvidedAndTypos) {
  register_builtin_components();
  auto problem = [](const std::string& name) {
    std::vector<Problem> p =
        check_component(parse_yaml("_component_: " + name + "\n", "t.yaml"), "x", false);
    return p.empty() ? std::string() : p[0].message;
  };
  std::string m = problem("torchtune.models.llama3.llama3_tokenizer");
  EXPECT_NE(m.find("'torchtune.models.llama3.llama3_tokenizer' is a torchtune tokenizer that "
                   "torchtune_cpp does not "
                   "provide yet"),
            std::string::npos)
      << m;
  EXPECT_NE(
      m.find("torchtune_cpp's tokenizer components: torchtune.models.llama2.llama2_tokenizer."),
      std::string::npos)
      << m;
  EXPECT_EQ(m.find("Did you mean"), std::string::npos) << m;
  m = problem("torchtune.models.llama3_1.llama3_1_8b");
  EXPECT_NE(m.find("is a torchtune model that torchtune_cpp does not provide yet"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("torchtune.models.llama2.llama2_7b"), std::string::npos) << m;
  m = problem("torch.optim.RMSprop");
  EXPECT_NE(m.find("is an optimizer torchtune configs use"), std::string::npos) << m;
  EXPECT_NE(m.find("torch.optim.AdamW"), std::string::npos) << m;
  // Not a torchtune name: a did-you-mean only when close on the whole dotted name.
  m = problem("torchtune.models.llama2.llama2_7B");
  EXPECT_NE(m.find("Did you mean 'torchtune.models.llama2.llama2_7b'?"), std::string::npos)
      << m;  // only the closest
  m = problem("torchtune.training.metric_logging.DiskLoger");
  EXPECT_NE(m.find("Did you mean 'torchtune.training.metric_logging.DiskLogger'?"),
            std::string::npos)
      << m;
  m = problem("torchtune.dataset.alpaca_dataset");
  EXPECT_NE(m.find("Did you mean 'torchtune.datasets.alpaca_dataset'?"), std::string::npos) << m;
  m = problem("torchtune.models.llama9.llama9_8b");
  EXPECT_NE(m.find("unknown component"), std::string::npos) << m;
  EXPECT_EQ(m.find("Did you mean"), std::string::npos) << m;
}

}  // namespace
}  // namespace tt::config
