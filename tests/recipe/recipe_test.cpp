// The main job end to end: `tune run full_finetune_single_device --config llama2/tiny_full`
// fine-tunes the embedded default model on the project's dataset on the CPU; the loss falls
// (mean of the last 10 logged steps <= 0.6 x the first 10), and the final checkpoint loads in
// transformers with logits equal to ours within 1e-5. A diverging run (NaN loss) stops.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <gtest/gtest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "recipe/recipe_helpers.h"
#include "torchtune_cpp/checkpointing/safetensors.h"
#include "torchtune_cpp/checkpointing/safetensors_writer.h"
#include "torchtune_cpp/models/llama2/convert_weights.h"
#include "torchtune_cpp/models/llama2/model_builders.h"
#include "torchtune_cpp/modules/transformer.h"

namespace tt {
namespace {

using namespace tt::recipe_test;

std::vector<double> logged_losses(const fs::path& log_dir) {
  std::vector<double> losses;
  for (const auto& [step, values] : read_disk_logs(log_dir)) losses.push_back(values.at("loss"));
  return losses;
}

TEST(Recipe, TinyFullTrainsAndItsCheckpointLoadsInTransformers) {
  fs::path out = fs::temp_directory_path() / "tt_recipe_tiny_full";
  fs::remove_all(out);
  Result r = shell(
      "cd " + std::string(TT_SOURCE_DIR) + " && " + std::string(TT_BINARY_DIR) +
      "/tune run full_finetune_single_device --config llama2/tiny_full output_dir=" + out.string());
  ASSERT_EQ(r.status, 0) << r.out;
  std::vector<double> losses = logged_losses(out / "logs");
  ASSERT_GE(losses.size(), 20u) << r.out;
  double first = 0, last = 0;
  for (size_t i = 0; i < 10; ++i) {
    first += losses[i] / 10;
    last += losses[losses.size() - 10 + i] / 10;
  }
  EXPECT_LE(last, 0.6 * first) << "first 10 steps " << first << ", last 10 " << last;
  EXPECT_TRUE(fs::exists(out / "torchtune_config.yaml"));

  // The final checkpoint: HF layout, next to the copied config.json.
  fs::path final_dir;
  for (const auto& e : fs::directory_iterator(out))
    if (e.path().filename().string().rfind("epoch_", 0) == 0 &&
        (final_dir.empty() || e.path().filename().string() > final_dir.filename().string()))
      final_dir = e.path();
  ASSERT_FALSE(final_dir.empty());
  ASSERT_TRUE(fs::exists(final_dir / "config.json"));
  std::ifstream cfg_in(final_dir / "config.json");
  auto c = nlohmann::json::parse(cfg_in);
  llama2::HfShape shape{c["num_attention_heads"], c["num_key_value_heads"], c["hidden_size"],
                        std::nullopt};
  StateDict hf;
  for (const auto& e : fs::directory_iterator(final_dir))
    if (e.path().extension() == ".safetensors")
      for (auto& kv : checkpointing::SafetensorsFile(e.path().string()).state_dict())
        hf.push_back(kv);
  StateDict tune = llama2::hf_to_tune(hf, shape);
  auto model = modules::make_decoder(llama2::llama2_args(512, 2, 4, 4, 64, 512, 0.0, 176));
  modules::materialize(*model, at::kCPU, at::kFloat, &tune, {});
  at::NoGradGuard no_grad;
  at::Tensor tokens = at::arange(1, 33, at::kLong).view({2, 16});
  checkpointing::save_safetensors(
      (out / "ours.safetensors").string(),
      {{"tokens", tokens}, {"logits", modules::forward(*model, {tokens})}});
  Result py = shell(std::string(TT_TEST_PYTHON) + " " + TT_SOURCE_DIR +
                    "/tests/interop/check_hf_checkpoint.py " + final_dir.string() + " " +
                    (out / "ours.safetensors").string());
  EXPECT_EQ(py.status, 0) << py.out;
  fs::remove_all(out);
}

// A learning rate of 1e10 makes the loss NaN at step 2 (step 1 is computed from the loaded
// weights). torchtune trains on and saves NaN weights; here the run stops at once, names the
// step and the last good checkpoint, and never writes a checkpoint after it.
TEST(Recipe, ANonFiniteLossStopsTheRunAndNoCheckpointHoldsIt) {
  const std::string config = "tests/assets/golden/recipe/configs/hf.yaml";
  const std::string diverging = "optimizer.lr=1e10";
  struct Case {
    std::string overrides, what;
    bool saved_step_1;
  };
  for (const Case& c : {
           Case{"save_every_n_steps=1", "step 2: the loss is not finite (NaN or Inf)", true},
           // Not a log step: found before the epoch's checkpoint, still named by its step.
           Case{"log_every_n_steps=5", "step 2: the loss is not finite (NaN or Inf)", false},
           // With clipping the gradient norm is on the host every step: found before the update.
           Case{"clip_grad_norm=1.0", "step 2: the gradient norm is nan", false},
       }) {
    SCOPED_TRACE(c.overrides);
    fs::path out = fresh("tt_recipe_nonfinite");
    Result r = tune_run(config, out, diverging + " " + c.overrides);
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("error: " + c.what), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(c.saved_step_1 ? "Last good checkpoint: " + (out / "step_1").string()
                                        : std::string("Last good checkpoint: none yet")),
              std::string::npos)
        << r.out;
    std::vector<std::string> folders;
    for (const auto& e : fs::directory_iterator(out))
      if (e.is_directory() && e.path().filename() != "logs" &&
          e.path().filename() != "recipe_state")
        folders.push_back(e.path().filename().string());
    EXPECT_EQ(folders,
              c.saved_step_1 ? std::vector<std::string>{"step_1"} : std::vector<std::string>{});
    fs::remove_all(out);
  }
  // stop_on_nonfinite_loss=False: torchtune's behaviour, training goes on to the end.
  fs::path out = fresh("tt_recipe_nonfinite_on");
  Result r = tune_run(config, out, diverging + " stop_on_nonfinite_loss=False");
  EXPECT_EQ(r.status, 0) << r.out;
  const StepLog log = read_disk_logs(out / "logs");
  ASSERT_EQ(log.size(), 6u);
  EXPECT_TRUE(std::isnan(log.at(2).at("loss")));
  EXPECT_TRUE(fs::exists(out / "epoch_1"));
  fs::remove_all(out);
}

}  // namespace
}  // namespace tt
