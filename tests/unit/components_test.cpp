// The built-in component table: losses and the profiler from YAML, and every shipped config
// validating against the registered builders (as `tune validate` does).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/unit/test_util.h"
#include "torchtune_cpp/cli/recipe_registry.h"
#include "torchtune_cpp/components.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/config/validate.h"
#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/modules/loss.h"
#include "torchtune_cpp/training/lr_schedulers.h"
#include "torchtune_cpp/training/profiler.h"

namespace tt {
namespace {

config::Config yaml(const std::string& text) {
  return config::Config(config::parse_yaml(text, "c.yaml"), "c.yaml");
}

TEST(Components, LossesFromYaml) {
  register_builtin_components();
  auto loss = [](const std::string& body) {
    return config::instantiate<modules::LossSpec>(yaml("loss:\n" + body), "loss",
                                                  config::Node::map());
  };
  modules::LossSpec chunked =
      loss("  _component_: torchtune.modules.loss.CEWithChunkedOutputLoss\n");
  EXPECT_EQ(chunked.kind, modules::LossSpec::Kind::kChunked);
  EXPECT_EQ(chunked.num_output_chunks, 8);
  EXPECT_EQ(chunked.ignore_index, -100);
  EXPECT_EQ(loss("  _component_: torchtune_cpp.modules.loss.FusedCEWithChunkedOutputLoss\n  "
                 "num_output_chunks: 4\n")
                .num_output_chunks,
            4);
  EXPECT_EQ(loss("  _component_: torch.nn.CrossEntropyLoss\n").kind,
            modules::LossSpec::Kind::kPlain);
  testing::expect_error(
      [&] { loss("  _component_: torch.nn.CrossEntropyLoss\n  reduction: sum\n"); },
      {"c.yaml:3:14", "only reduction: mean"});
  testing::expect_error(
      [&] {
        loss(
            "  _component_: torchtune.modules.loss.CEWithChunkedOutputLoss\n  num_output_chunks: "
            "0\n");
      },
      {"loss.num_output_chunks (c.yaml:3:22): must be at least 1, got 0"});
}

TEST(Components, ProfilerFollowsTorchtunesSchedule) {
  register_builtin_components();
  auto cfg = yaml(
      "profiler:\n  _component_: torchtune.training.setup_torch_profiler\n  enabled: False\n"
      "  output_dir: /tmp/p\n  cpu: True\n  wait_steps: 5\n");
  EXPECT_FALSE(
      config::instantiate<training::ProfilerPtr>(cfg, "profiler", config::Node::map())->enabled());
  // wait 1, warmup 1, active 2, two cycles over 9 steps: windows end at steps 4 and 8.
  const std::string dir = (std::filesystem::temp_directory_path() / "tt_profiler_test").string();
  std::filesystem::remove_all(dir);
  auto on = yaml(
      "profiler:\n  _component_: torchtune.training.setup_torch_profiler\n  enabled: True\n"
      "  output_dir: " +
      dir + "\n  wait_steps: 1\n  warmup_steps: 1\n  active_steps: 2\n  num_cycles: 2\n");
  training::ProfilerPtr p =
      config::instantiate<training::ProfilerPtr>(on, "profiler", config::Node::map());
  for (int s = 0; s < 9; ++s) {
    at::Tensor a = at::randn({64, 64});
    (void)at::mm(a, a);
    p->step();
  }
  p->stop();
  ASSERT_EQ(p->traces().size(), 2u);
  EXPECT_NE(p->traces()[0].find(dir + "/iteration_4/r0-"), std::string::npos) << p->traces()[0];
  EXPECT_NE(p->traces()[1].find(dir + "/iteration_8/r0-"), std::string::npos) << p->traces()[1];
  // A Chrome trace holding the recorded matmuls.
  std::ifstream in(p->traces()[0]);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"traceEvents\""), std::string::npos);
  EXPECT_NE(text.find("aten::mm"), std::string::npos);
  std::filesystem::remove_all(dir);
}

// The scheduler's num_training_steps comes from the recipe: optional in a config checked on
// its own, required when building.
TEST(Components, RecipePassedKeywordsAreRequiredOnlyAtTheCallSite) {
  register_builtin_components();
  const std::string text =
      "lr_scheduler:\n  _component_: "
      "torchtune.training.lr_schedulers.get_cosine_schedule_with_warmup\n"
      "  num_warmup_steps: 2\n";
  EXPECT_TRUE(config::validate_config(config::parse_yaml(text, "s.yaml"), {}).ok());
  auto opt = std::make_shared<training::Optimizer>(StateDict{{"p", at::zeros({1})}},
                                                   training::OptimizerOptions{});
  auto cfg = yaml(text);
  testing::expect_error(
      [&] {
        config::instantiate<training::LRSchedulerPtr, training::OptimizerPtr>(
            cfg, "lr_scheduler", config::Node::map(), opt);
      },
      {"missing required argument 'num_training_steps'"});
  config::Node kwargs = config::Node::map();
  kwargs.set("num_training_steps", config::Node::scalar("10"));
  auto sched = config::instantiate<training::LRSchedulerPtr, training::OptimizerPtr>(
      cfg, "lr_scheduler", kwargs, opt);
  EXPECT_EQ(sched->last_epoch(), 0);
  EXPECT_EQ(opt->lr(), 0.0);  // warm-up starts at 0
}

// Components a shipped config names that are not available yet, with the message expected
// (none at present; keep the mechanism for the next one).
const std::vector<std::pair<std::string, std::string>> kPending = {};

// Every shipped config is well-formed for its recipe, as `tune validate` checks it: each
// component registered, every keyword declared, well-typed and within its bounds, the
// recipe's keys present and valid, no stray keys.
TEST(Components, EveryShippedConfigValidates) {
  register_builtin_components();
  namespace fs = std::filesystem;
  size_t count = 0;
  for (const auto& entry :
       fs::recursive_directory_iterator(std::string(TT_SOURCE_DIR) + "/configs")) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    std::string name = fs::relative(entry.path(), std::string(TT_SOURCE_DIR) + "/configs")
                           .replace_extension()
                           .string();
    const cli::RecipeInfo* owner = cli::config_owner(name);
    ASSERT_NE(owner, nullptr) << name << " has no owning recipe in the recipe table";
    config::ValidationReport r =
        cli::check_recipe_config(config::load_yaml_file(entry.path().string()),
                                 entry.path().string(), *owner, cli::MachineChecks::kWarn);
    for (const auto& e : r.errors) {
      bool pending = false;
      for (const auto& [config_name, message] : kPending)
        pending |= config_name == name && e.message.find(message) != std::string::npos;
      if (pending) continue;
      ADD_FAILURE() << e.where << ": " << e.message;
    }
    for (const auto& w : r.warnings)  // a GPU config on a machine without one is fine here
      if (w.message.rfind("on this machine: ", 0) != 0)
        ADD_FAILURE() << "warning " << w.where << ": " << w.message;
    ++count;
  }
  EXPECT_GE(count, 3u);
}

}  // namespace
}  // namespace tt
