// Optimizer state layouts (checkpointing/optimizer_state.h) and torch.optim's state_dict /
// load_state_dict (training/optimizer.h):
//   - indexed -> named -> per-parameter -> indexed gives back the identical state dict;
//   - recipe_state.pt written by Python torchtune 0.6.1 (tests/scripts/make_recipe_fixtures.py)
//     loads into our AdamW in every layout and comes back tensor for tensor;
//   - mismatches (parameter count, optimizer family, unknown names) are clear errors.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "torchtune_cpp/checkpointing/optimizer_state.h"
#include "torchtune_cpp/checkpointing/torch_save.h"
#include "torchtune_cpp/training/optimizer.h"

namespace tt {
namespace {

using testing::expect_error;

const std::string kGolden = std::string(TT_SOURCE_DIR) + "/tests/assets/golden/recipe/";

StateDict make_params(const std::vector<std::pair<std::string, std::vector<int64_t>>>& shapes) {
  StateDict params;
  for (const auto& [name, shape] : shapes)
    params.emplace_back(name, at::randn(shape, at::kFloat).requires_grad_(true));
  return params;
}

void step_all(training::Optimizer& opt, int steps, bool skip_last = false) {
  for (int s = 0; s < steps; ++s) {
    for (size_t i = 0; i < opt.params().size(); ++i) {
      at::Tensor p = opt.params()[i].second;
      if (skip_last && i + 1 == opt.params().size()) continue;
      p.mutable_grad() = at::randn_like(p);
    }
    opt.step();
    opt.zero_grad();
  }
}

std::vector<std::string> names_of(const StateDict& params) {
  std::vector<std::string> names;
  for (const auto& [k, v] : params) names.push_back(k);
  return names;
}

TEST(OptimizerState, LayoutsRoundTripExactly) {
  at::manual_seed(0);
  for (training::OptimizerKind kind :
       {training::OptimizerKind::kAdamW, training::OptimizerKind::kSGD}) {
    StateDict params = make_params({{"a.weight", {3, 2}}, {"b.scale", {4}}, {"c.weight", {2, 2}}});
    training::OptimizerOptions o;
    o.kind = kind;
    o.momentum = kind == training::OptimizerKind::kSGD ? 0.9 : 0.0;
    training::Optimizer opt(params, o);
    step_all(opt, 2, /*skip_last=*/true);  // a parameter without state survives too
    const std::vector<std::string> names = names_of(params);
    PickleValue indexed = opt.state_dict();
    ASSERT_EQ(checkpointing::detect_optimizer_layout(indexed, "t"),
              checkpointing::OptimizerLayout::kIndexed);
    PickleValue named = checkpointing::convert_optimizer_state(
        indexed, checkpointing::OptimizerLayout::kNamed, names, "t");
    ASSERT_EQ(checkpointing::detect_optimizer_layout(named, "t"),
              checkpointing::OptimizerLayout::kNamed);
    EXPECT_EQ(named.at("state").dict_items()[1].first, PickleValue("b.scale"));
    EXPECT_EQ(named.at("state").size(), 2u);
    PickleValue per = checkpointing::convert_optimizer_state(
        named, checkpointing::OptimizerLayout::kPerParameter, names, "t");
    ASSERT_EQ(checkpointing::detect_optimizer_layout(per, "t"),
              checkpointing::OptimizerLayout::kPerParameter);
    EXPECT_EQ(per.size(), 3u);
    EXPECT_EQ(per.at("c.weight").at("state").size(), 0u);
    EXPECT_EQ(per.at("a.weight").at("param_groups").items()[0].at("params"),
              PickleValue::list({int64_t{0}}));
    PickleValue back = checkpointing::convert_optimizer_state(
        per, checkpointing::OptimizerLayout::kIndexed, names, "t");
    EXPECT_TRUE(back == indexed) << back.repr() << "\nvs\n" << indexed.repr();

    // And into a fresh optimizer, which then continues exactly as the original.
    StateDict copies;
    for (const auto& [k, p] : params)
      copies.emplace_back(k, p.detach().clone().requires_grad_(true));
    training::Optimizer resumed(copies, o);
    resumed.load_state_dict(checkpointing::convert_optimizer_state(
                                per, checkpointing::OptimizerLayout::kIndexed, names, "t"),
                            "t");
    EXPECT_TRUE(resumed.state_dict() == indexed);
    for (size_t i = 0; i < params.size(); ++i) {
      at::Tensor g = at::randn_like(params[i].second);
      params[i].second.mutable_grad() = g;
      copies[i].second.mutable_grad() = g.clone();
    }
    opt.step();
    resumed.step();
    for (size_t i = 0; i < params.size(); ++i)
      EXPECT_TRUE(at::equal(params[i].second, copies[i].second));
  }
}

TEST(OptimizerState, TorchtuneWrittenRecipeStateLoadsInEveryLayout) {
  std::ifstream in(kGolden + "losses.json");
  auto golden = nlohmann::json::parse(in)["recipe_state"]["optimizer"];
  std::vector<std::string> names = golden["param_names"];
  PickleValue state =
      checkpointing::load_torch_file(kGolden + "torchtune_output/recipe_state/recipe_state.pt");
  const PickleValue& saved = state.at("optimizer");
  ASSERT_EQ(checkpointing::detect_optimizer_layout(saved, "f"),
            checkpointing::OptimizerLayout::kIndexed);
  StateDict params;
  for (size_t i = 0; i < names.size(); ++i) {
    std::vector<int64_t> shape = golden["state_shapes"][std::to_string(i)];
    params.emplace_back(names[i], at::zeros(shape).requires_grad_(true));
  }
  training::OptimizerOptions o;
  o.fused = false;
  for (checkpointing::OptimizerLayout layout :
       {checkpointing::OptimizerLayout::kIndexed, checkpointing::OptimizerLayout::kNamed,
        checkpointing::OptimizerLayout::kPerParameter}) {
    training::Optimizer opt(params, o);
    PickleValue converted = checkpointing::convert_optimizer_state(saved, layout, names, "f");
    opt.load_state_dict(checkpointing::convert_optimizer_state(
                            converted, checkpointing::OptimizerLayout::kIndexed, names, "f"),
                        "f");
    PickleValue ours = opt.state_dict();
    EXPECT_TRUE(ours.at("state") == saved.at("state")) << checkpointing::layout_name(layout);
    const PickleValue& g = ours.at("param_groups").items()[0];
    const PickleValue& t = saved.at("param_groups").items()[0];
    for (const char* k : {"lr", "eps", "weight_decay", "params"})
      EXPECT_TRUE(g.at(k) == t.at(k)) << k;
    EXPECT_DOUBLE_EQ(opt.options().beta2, 0.999);
  }
}

TEST(OptimizerState, MismatchesAreClearErrors) {
  StateDict params = make_params({{"a.weight", {3, 2}}, {"b.scale", {4}}});
  training::OptimizerOptions adamw;
  training::Optimizer opt(params, adamw);
  step_all(opt, 1);
  PickleValue sd = opt.state_dict();
  expect_error(
      [&] {
        checkpointing::convert_optimizer_state(sd, checkpointing::OptimizerLayout::kNamed,
                                               {"a.weight"}, "rs.pt");
      },
      {"rs.pt", "covers 2 parameters but the model has 1"});
  PickleValue named = checkpointing::convert_optimizer_state(
      sd, checkpointing::OptimizerLayout::kNamed, names_of(params), "rs.pt");
  expect_error(
      [&] {
        checkpointing::convert_optimizer_state(named, checkpointing::OptimizerLayout::kIndexed,
                                               {"a.weight", "x"}, "rs.pt");
      },
      {"rs.pt", "'b.scale'", "does not have"});
  training::OptimizerOptions sgd;
  sgd.kind = training::OptimizerKind::kSGD;
  training::Optimizer other(params, sgd);
  expect_error([&] { other.load_state_dict(sd, "rs.pt"); },
               {"rs.pt", "Adam-family", "torch.optim.SGD"});
  expect_error(
      [&] {
        checkpointing::detect_optimizer_layout(PickleValue::dict({{"x", int64_t{1}}}), "rs.pt");
      },
      {"rs.pt", "neither a torch.optim state dict"});
}

}  // namespace
}  // namespace tt
