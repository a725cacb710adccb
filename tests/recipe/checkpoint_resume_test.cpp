// Checkpoints and resume end to end, on the tiny HF model in fp32 on the CPU:
//   - a run resumed from a mid-epoch step_N/ checkpoint logs the same values and writes the
//     same final weights, byte for byte, as the run that was never interrupted;
//   - a save killed (SIGKILL) mid-way leaves the earlier checkpoints intact, no visible half
//     folder, and the resumed run still ends byte-identical;
//   - SIGTERM saves at the next step boundary and exits cleanly; resuming ends identical;
//   - keep_last_n_checkpoints, post_save_command (also failing), hub-id checkpoint_dir;
//   - a second run on a busy output_dir is refused naming the first; a run that fails to
//     start changes nothing in output_dir; a full disk (injected) at any write of a save, or
//     too little free space before it, stops the run with what the save needed, leaving the
//     earlier checkpoints and no half-written file;
//   - our recipe_state.pt loads in Python (weights_only) and its optimizer state into
//     torch.optim.AdamW.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "recipe/recipe_helpers.h"
#include "torchtune_cpp/checkpointing/checkpointer.h"
#include "torchtune_cpp/utils/check.h"

extern char** environ;

namespace tt {
namespace {

using namespace tt::recipe_test;

const std::string kConfig = "tests/assets/golden/recipe/configs/hf.yaml";
// Accumulation, clipping and a schedule, so every piece of state matters on resume.
const std::string kRun =
    "gradient_accumulation_steps=2 clip_grad_norm=1.0 "
    "lr_scheduler._component_=torchtune.training.lr_schedulers.get_cosine_schedule_with_warmup "
    "lr_scheduler.num_warmup_steps=2 save_every_n_steps=1";
const std::string kFinal = "epoch_1/model-00001-of-00001.safetensors";

std::vector<std::string> visible_entries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// The uninterrupted run every resumed one must reproduce (one folder per test: CTest runs
// them in parallel).
fs::path reference_run(const std::string& name, const std::string& overrides = kRun) {
  fs::path ref = fresh("tt_resume_reference_" + name);
  Result r = tune_run(kConfig, ref, overrides);
  EXPECT_EQ(r.status, 0) << r.out;
  return ref;
}

void expect_same_steps(const StepLog& resumed, const StepLog& full, int first_step) {
  ASSERT_FALSE(resumed.empty());
  EXPECT_EQ(resumed.begin()->first, first_step);
  for (const auto& [step, values] : resumed) {
    ASSERT_TRUE(full.count(step)) << step;
    for (const auto& [k, v] : values)
      if (k != "tokens_per_second_per_gpu" && k != "data_wait_s") {  // timings
        EXPECT_EQ(v, full.at(step).at(k)) << "step " << step << " " << k;
      }
  }
  EXPECT_EQ(resumed.rbegin()->first, full.rbegin()->first);
}

TEST(RecipeCheckpoints, ResumingMidEpochReproducesTheUninterruptedRun) {
  fs::path ref = reference_run("mid_epoch");
  // Intermediate checkpoints every step but where the epoch's own checkpoint falls.
  EXPECT_EQ(visible_entries(ref),
            (std::vector<std::string>{"epoch_0", "epoch_1", "logs", "recipe_state", "step_1",
                                      "step_2", "step_4", "step_5", "torchtune_config.yaml"}));
  EXPECT_TRUE(fs::exists(ref / "step_2/recipe_state.pt"));
  EXPECT_FALSE(fs::exists(ref / "epoch_1/recipe_state.pt"));  // final: weights only
  EXPECT_EQ(read_file(ref / "recipe_state/recipe_state.pt"),
            read_file(ref / "step_5/recipe_state.pt"));

  // Only step_2 survives (mid-epoch 0): the resumed run must pick it and continue exactly.
  fs::path run = fresh("tt_resume_mid_epoch");
  fs::create_directories(run);
  fs::copy(ref / "step_2", run / "step_2", fs::copy_options::recursive);
  Result r = tune_run(kConfig, run, kRun + " resume_from_checkpoint=True");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("global step 2, micro-batch 4"), std::string::npos) << r.out;
  expect_same_steps(read_disk_logs(run / "logs"), read_disk_logs(ref / "logs"), 3);
  EXPECT_EQ(read_file(run / kFinal), read_file(ref / kFinal));

  // Our recipe_state.pt in Python: weights_only load, torchtune's keys, AdamW takes the state.
  Result py = shell(std::string(TT_TEST_PYTHON) + " " + TT_SOURCE_DIR +
                    "/tests/interop/check_recipe_state.py " + (ref / "step_2").string());
  EXPECT_EQ(py.status, 0) << py.out;
  fs::remove_all(run);
  fs::remove_all(ref);
}

// Hidden leftovers of a save; a killed run's lock file does not count (the kernel released
// the lock, and the next run takes the file over).
bool has_hidden(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string()[0] == '.' && e.path().filename() != ".torchtune_cpp.lock")
      return true;
  return false;
}

TEST(RecipeCheckpoints, AKilledSaveLosesNothing) {
  fs::path ref = reference_run("killed");
  // The third save (epoch_0) dies at each point; step_1 and step_2 were complete.
  for (const std::string point : {"mid_weights:3", "before_rename:3", "after_rename:3"}) {
    fs::path run = fresh("tt_resume_killed");
    Result r = tune_run(kConfig, run, kRun, "TORCHTUNE_CPP_CRASH_AT=" + point);
    EXPECT_EQ(r.status, 128 + SIGKILL) << point << "\n" << r.out;
    std::vector<checkpointing::CheckpointFolder> found =
        checkpointing::list_checkpoints(run.string());
    const bool placed = point.rfind("after_rename", 0) == 0;  // epoch_0 in place, mirror not yet
    ASSERT_EQ(found.size(), placed ? 3u : 2u) << point;
    EXPECT_EQ(found.back().name, placed ? "epoch_0" : "step_2") << point;
    EXPECT_EQ(fs::exists(run / "epoch_0"), placed) << point;
    EXPECT_EQ(has_hidden(run), !placed) << point << ": the half-written folder is hidden";
    Result resumed = tune_run(kConfig, run, kRun + " resume_from_checkpoint=True");
    ASSERT_EQ(resumed.status, 0) << point << "\n" << resumed.out;
    EXPECT_FALSE(has_hidden(run)) << point << ": leftovers of the killed save are cleared";
    EXPECT_EQ(read_file(run / kFinal), read_file(ref / kFinal)) << point;
    fs::remove_all(run);
  }
  fs::remove_all(ref);
}

TEST(RecipeCheckpoints, RollingBackToAnEarlierCheckpointKeepsTheNewOnes) {
  // Resume from step_1 while later checkpoints of the first run exist: the new saves are the
  // latest (by save time, not step), so keep_last_n keeps them and removes the stale ones;
  // replacing an existing folder is one atomic exchange.
  fs::path ref = reference_run("rollback");
  const std::string rollback =
      kRun +
      " resume_from_checkpoint=True checkpointer.keep_last_n_checkpoints=1 "
      "'checkpointer.checkpoint_files=[step_1/model-00001-of-00001.safetensors]'";
  for (const std::string point : {"before_rename:2", "after_exchange:1", "mid_prune:1"}) {
    fs::path run = fresh("tt_rollback");
    fs::copy(ref, run, fs::copy_options::recursive);
    fs::remove_all(run / "epoch_1");
    fs::remove_all(run / "logs");
    Result r = tune_run(kConfig, run, rollback, "TORCHTUNE_CPP_CRASH_AT=" + point);
    EXPECT_EQ(r.status, 128 + SIGKILL) << point << "\n" << r.out;
    std::vector<checkpointing::CheckpointFolder> found =
        checkpointing::list_checkpoints(run.string());
    ASSERT_FALSE(found.empty()) << point;
    // The rolled-back run's own step_2 is the latest; nothing newer was removed before it.
    EXPECT_EQ(found.back().name, "step_2") << point;
    EXPECT_EQ(found.back().global_step, 2) << point;
    Result resumed = tune_run(
        kConfig, run, kRun + " resume_from_checkpoint=True checkpointer.keep_last_n_checkpoints=1");
    ASSERT_EQ(resumed.status, 0) << point << "\n" << resumed.out;
    EXPECT_NE(resumed.out.find("Resuming from " + (run / "step_2").string()), std::string::npos)
        << resumed.out;
    EXPECT_FALSE(has_hidden(run)) << point;
    EXPECT_EQ(read_file(run / kFinal), read_file(ref / kFinal)) << point;
    fs::remove_all(run);
  }
  fs::remove_all(ref);
}

TEST(RecipeCheckpoints, SigtermSavesAtTheNextStepAndTheRunResumesExactly) {
  // 16 steps per epoch, 2 epochs: long enough to be interrupted.
  const std::string overrides = "max_steps_per_epoch=null gradient_accumulation_steps=1";
  fs::path ref = reference_run("sigterm", overrides);
  fs::path run = fresh("tt_resume_sigterm");
  fs::create_directories(run);
  std::vector<std::string> args = {std::string(TT_BINARY_DIR) + "/tune",
                                   "run",
                                   "full_finetune_single_device",
                                   "--config",
                                   kConfig,
                                   "output_dir=" + run.string(),
                                   "max_steps_per_epoch=null",
                                   "gradient_accumulation_steps=1"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = (run / "stdout.txt").string();
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  ASSERT_EQ(chdir(TT_SOURCE_DIR), 0);
  pid_t pid = -1;
  ASSERT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  // Interrupt once step 3 is logged.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (read_disk_logs(run / "logs").size() < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string out = read_file(log);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  ASSERT_NE(out.find("Stopped at step"), std::string::npos) << out;
  std::vector<checkpointing::CheckpointFolder> found =
      checkpointing::list_checkpoints(run.string());
  ASSERT_EQ(found.size(), 1u) << out;
  EXPECT_TRUE(found[0].resumable);
  EXPECT_LT(found[0].global_step, 32);
  Result resumed = tune_run(kConfig, run, overrides + " resume_from_checkpoint=True");
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  EXPECT_EQ(read_file(run / kFinal), read_file(ref / kFinal));
  fs::remove_all(run);
  fs::remove_all(ref);
}

TEST(RecipeCheckpoints, KeepLastNAndPostSaveCommand) {
  fs::path run = fresh("tt_keep_last_n");
  fs::create_directories(run);
  const fs::path hooks = run / "hooks.txt";
  Result r = tune_run(
      kConfig, run,
      kRun + " checkpointer.keep_last_n_checkpoints=2 'checkpointer.post_save_command=echo >> " +
          hooks.string() + "'");
  ASSERT_EQ(r.status, 0) << r.out;
  // The two newest intermediate checkpoints and the final one remain.
  std::vector<std::string> kept;
  for (const auto& f : checkpointing::list_checkpoints(run.string())) kept.push_back(f.name);
  EXPECT_EQ(kept, (std::vector<std::string>{"epoch_1", "step_4", "step_5"}));
  std::string expected;
  for (const char* f : {"step_1", "step_2", "epoch_0", "step_4", "step_5", "epoch_1"})
    expected += (run / f).string() + "\n";
  EXPECT_EQ(read_file(hooks), expected);

  // A failing hook is reported and changes nothing else.
  fs::path failing = fresh("tt_post_save_fails");
  Result f = tune_run(kConfig, failing, "'checkpointer.post_save_command=exit 3; true'");
  ASSERT_EQ(f.status, 0) << f.out;
  EXPECT_NE(f.out.find("post_save_command failed for " + (failing / "epoch_1").string() +
                       " (exit status 3)"),
            std::string::npos)
      << f.out;
  EXPECT_TRUE(fs::exists(failing / kFinal));
  fs::remove_all(run);
  fs::remove_all(failing);
}

TEST(RecipeCheckpoints, HubIdFromTheLocalHuggingFaceCache) {
  fs::path cache = fresh("tt_hf_cache");
  fs::path snapshot = cache / "models--local-org--tiny-llama2/snapshots/0123abcd";
  fs::create_directories(snapshot);
  fs::create_directories(cache / "models--local-org--tiny-llama2/refs");
  std::ofstream(cache / "models--local-org--tiny-llama2/refs/main") << "0123abcd";
  for (const auto& e : fs::directory_iterator(fs::path(TT_SOURCE_DIR) / "assets/tiny_llama2"))
    fs::create_symlink(e.path(), snapshot / e.path().filename());  // the cache links to blobs
  fs::path run = fresh("tt_hub_id");
  Result r = tune_run(kConfig, run, "checkpointer.checkpoint_dir=local-org/tiny-llama2",
                      "HF_HUB_CACHE=" + cache.string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Resolved checkpoint_dir local-org/tiny-llama2 to " + snapshot.string()),
            std::string::npos);
  EXPECT_TRUE(fs::exists(run / "epoch_1/config.json"));

  Result missing =
      tune_run(kConfig, fresh("tt_hub_id_missing"), "checkpointer.checkpoint_dir=local-org/absent",
               "HF_HUB_CACHE=" + cache.string());
  EXPECT_EQ(missing.status, 1) << missing.out;
  EXPECT_NE(missing.out.find("is neither a directory nor a model in the local Hugging Face cache"),
            std::string::npos)
      << missing.out;
  fs::remove_all(run);
  fs::remove_all(cache);
}

TEST(RecipeCheckpoints, ResumingWithNothingToResumeFromIsAClearError) {
  fs::path run = fresh("tt_resume_nothing");
  Result r = tune_run(kConfig, run, "resume_from_checkpoint=True");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("nothing to resume from"), std::string::npos) << r.out;
  EXPECT_TRUE(checkpointing::list_checkpoints(run.string()).empty());
  fs::remove_all(run);
}

}  // namespace
}  // namespace tt

namespace tt {
namespace {

const std::string kPlain = "gradient_accumulation_steps=1";

TEST(RecipeOptimizers, InBackwardAndPagedAdamWComputeWhatTheRegularStepComputes) {
  // optimizer_in_bwd updates each parameter from its gradient hook: same maths, so the same
  // weights, bit for bit (fp32, CPU); its per-parameter optimizer state resumes a regular run.
  fs::path regular = fresh("tt_opt_regular"), in_bwd = fresh("tt_opt_in_bwd");
  Result a = tune_run(kConfig, regular, kPlain);
  ASSERT_EQ(a.status, 0) << a.out;
  Result b = tune_run(kConfig, in_bwd, kPlain + " optimizer_in_bwd=True");
  ASSERT_EQ(b.status, 0) << b.out;
  EXPECT_EQ(read_file(in_bwd / kFinal), read_file(regular / kFinal));
  const StepLog la = read_disk_logs(regular / "logs"), lb = read_disk_logs(in_bwd / "logs");
  ASSERT_EQ(la.size(), lb.size());
  for (const auto& [step, v] : la) EXPECT_EQ(v.at("loss"), lb.at(step).at("loss")) << step;
  EXPECT_TRUE(lb.begin()->second.count("data_wait_s"));

  // The in-backward checkpoint (per-parameter layout) resumed without it, and the reverse.
  for (const std::string flag : {"False", "True"}) {
    fs::path run = fresh("tt_opt_layouts");
    fs::create_directories(run);
    fs::copy((flag == "False" ? in_bwd : regular) / "epoch_0", run / "epoch_0",
             fs::copy_options::recursive);
    Result r =
        tune_run(kConfig, run, kPlain + " resume_from_checkpoint=True optimizer_in_bwd=" + flag);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(read_file(run / kFinal), read_file(regular / kFinal)) << "optimizer_in_bwd=" << flag;
    fs::remove_all(run);
  }

  // bitsandbytes.optim.PagedAdamW: AdamW's maths with fp32 state kept on the host; on the CPU
  // in fp32 it is the fused AdamW kernel, bit for bit.
  fs::path fused = fresh("tt_opt_fused"), paged = fresh("tt_opt_paged");
  Result c = tune_run(kConfig, fused, kPlain + " optimizer.fused=True");
  ASSERT_EQ(c.status, 0) << c.out;
  Result d = tune_run(kConfig, paged,
                      kPlain +
                          " optimizer._component_=bitsandbytes.optim.PagedAdamW '~optimizer.fused' "
                          "optimizer_in_bwd=True");
  ASSERT_EQ(d.status, 0) << d.out;
  EXPECT_EQ(read_file(paged / kFinal), read_file(fused / kFinal));

  // PagedAdamW8bit: 8-bit block-wise state; the loss falls as with fp32 state, and a run
  // resumed mid-epoch from its step_2 checkpoint (optimizer in backward, per-parameter
  // layout of 8-bit state) ends bit-identical.
  fs::path eight = fresh("tt_opt_8bit");
  const std::string e8 =
      kPlain +
      " optimizer._component_=bitsandbytes.optim.PagedAdamW8bit '~optimizer.fused' "
      "optimizer_in_bwd=True save_every_n_steps=1";
  Result h = tune_run(kConfig, eight, e8);
  ASSERT_EQ(h.status, 0) << h.out;
  const StepLog l8 = read_disk_logs(eight / "logs"), l32 = read_disk_logs(paged / "logs");
  // hf.yaml: epochs 2 x max_steps_per_epoch 3 (16 batches of 4 per epoch), one log line per
  // step: a run that logged nothing must not pass the comparison below.
  const size_t steps = 2 * 3;
  ASSERT_EQ(l8.size(), steps) << h.out;
  ASSERT_EQ(l32.size(), steps) << d.out;
  for (const auto& [step, v] : l8)
    EXPECT_NEAR(v.at("loss"), l32.at(step).at("loss"), 0.01 * v.at("loss")) << step;
  fs::path resumed = fresh("tt_opt_8bit_resumed");
  fs::create_directories(resumed);
  fs::copy(eight / "step_2", resumed / "step_2", fs::copy_options::recursive);
  Result i = tune_run(kConfig, resumed, e8 + " resume_from_checkpoint=True");
  ASSERT_EQ(i.status, 0) << i.out;
  EXPECT_EQ(read_file(resumed / kFinal), read_file(eight / kFinal));
  fs::remove_all(eight);
  fs::remove_all(resumed);

  // torchtune's refusals.
  Result e = tune_run(kConfig, fresh("tt_opt_refused"),
                      "optimizer_in_bwd=True gradient_accumulation_steps=2");
  EXPECT_EQ(e.status, 1);
  EXPECT_NE(e.out.find("Gradient accumulation is not supported with optimizer in bwd"),
            std::string::npos)
      << e.out;
  Result f = tune_run(kConfig, fresh("tt_opt_refused"), "optimizer_in_bwd=True clip_grad_norm=1.0");
  EXPECT_NE(f.out.find("Gradient clipping is not supported with optimizer in bwd"),
            std::string::npos)
      << f.out;
  Result g = tune_run(kConfig, fresh("tt_opt_refused"),
                      "enable_activation_offloading=True enable_activation_checkpointing=True");
  EXPECT_NE(g.out.find("enable_activation_offloading should only be True when training on CUDA"),
            std::string::npos)
      << g.out;
  Result k =
      tune_run(kConfig, fresh("tt_opt_refused"), "collate_fn=torchtune.data.left_pad_sequence");
  EXPECT_EQ(k.status, 1);
  EXPECT_NE(k.out.find("left_pad_sequence collator is only for inference."), std::string::npos)
      << k.out;
  for (const fs::path& p : {regular, in_bwd, fused, paged}) fs::remove_all(p);
}

TEST(RecipeCheckpoints, ConfigAndCheckpointDisagreeingBehaveAsTorchtune) {
  fs::path run = fresh("tt_resume_mismatch");
  Result a = tune_run(kConfig, run, kPlain);
  ASSERT_EQ(a.status, 0) << a.out;
  fs::remove_all(run / "epoch_1");
  // Seed and max_steps_per_epoch come from the checkpoint, epochs from the config.
  Result r = tune_run(
      kConfig, run, kPlain + " resume_from_checkpoint=True seed=7 max_steps_per_epoch=2 epochs=3");
  ASSERT_EQ(r.status, 0) << r.out;
  for (const char* w : {"Config value for seed does not match the checkpoint value, using the "
                        "checkpoint value: 1234",
                        "Config value for max_steps_per_epoch does not match the checkpoint value, "
                        "using the checkpoint value: 3",
                        "Config value for total_epochs does not match the checkpoint value, using "
                        "the config value: 3"})
    EXPECT_NE(r.out.find(w), std::string::npos) << w << "\n" << r.out;
  const StepLog log = read_disk_logs(run / "logs");
  EXPECT_EQ(log.rbegin()->first, 9);  // 3 epochs of 3 steps
  EXPECT_TRUE(fs::exists(run / "epoch_2"));
  fs::remove_all(run);
}

}  // namespace
}  // namespace tt

namespace tt {
namespace {

TEST(RecipeData, BadDataStopsTheRunBeforeAnythingIsWrittenAndListsOfDatasetsTrain) {
  fs::path run = fresh("tt_bad_data");
  Result r = tune_run(
      kConfig, run,
      "dataset._component_=torchtune.datasets.chat_dataset dataset.conversation_style=sharegpt "
      "dataset.conversation_column=conversations '~dataset.packed' "
      "dataset.data_files=tests/assets/data/bad/chat_unknown_role.json");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("chat_unknown_role.json:"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(run)) << "nothing may be written to output_dir";

  // `dataset:` as a list (torchtune's ConcatDataset): an instruct and a chat dataset.
  const fs::path config = fs::temp_directory_path() / "tt_dataset_list.yaml";
  std::string text = read_file(fs::path(TT_SOURCE_DIR) / kConfig);
  const size_t at = text.find("dataset:");
  const size_t end = text.find("\nseed:", at);
  text = text.substr(0, at) +
         "dataset:\n"
         "- _component_: torchtune.datasets.instruct_dataset\n  source: csv\n"
         "  data_files: tests/assets/data/instruct_qa.csv\n  column_map: {input: question, output: "
         "answer}\n"
         "- _component_: torchtune.datasets.chat_dataset\n  source: json\n"
         "  data_files: tests/assets/data/chat_openai.jsonl\n  conversation_column: messages\n"
         "  conversation_style: openai\n" +
         text.substr(end);
  std::ofstream(config) << text;
  fs::path list_run = fresh("tt_dataset_list_run");
  Result l = tune_run(config.string(), list_run, "batch_size=2");
  ASSERT_EQ(l.status, 0) << l.out;
  EXPECT_NE(l.out.find("18 samples"), std::string::npos) << l.out;  // 10 + 8
  EXPECT_EQ(read_disk_logs(list_run / "logs").size(), 6u);
  fs::remove_all(list_run);
}

}  // namespace
}  // namespace tt

// ---- runtime safety: one run per output_dir, nothing written by a run that never started,
// a full disk (injected, TORCHTUNE_CPP_FAIL_AT / TORCHTUNE_CPP_FREE_BYTES) loses nothing.

namespace tt {
namespace {

// Every file and folder under `dir`: relative path -> size, modification time and contents.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string rel = e.path().lexically_relative(dir).string();
    const auto mtime = fs::last_write_time(e.path()).time_since_epoch().count();
    out[rel] = e.is_directory()
                   ? str("dir ", mtime)
                   : str(fs::file_size(e.path()), " bytes ", mtime, " ", read_file(e.path()));
  }
  return out;
}

std::vector<std::string> hidden_entries(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string()[0] == '.') found.push_back(e.path().string());
  return found;
}

std::vector<std::string> checkpoint_names(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& f : checkpointing::list_checkpoints(dir.string())) names.push_back(f.name);
  return names;
}

// `tune run full_finetune_single_device` in the background, output to `log`.
pid_t spawn_run(const fs::path& out, const std::vector<std::string>& overrides,
                const fs::path& log) {
  std::vector<std::string> args = {std::string(TT_BINARY_DIR) + "/tune",
                                   "run",
                                   "full_finetune_single_device",
                                   "--config",
                                   kConfig,
                                   "output_dir=" + out.string()};
  args.insert(args.end(), overrides.begin(), overrides.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  EXPECT_EQ(chdir(TT_SOURCE_DIR), 0);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

std::string host_name() {
  char name[256] = {0};
  gethostname(name, sizeof name - 1);
  return name;
}

TEST(RecipeSafety, ASecondRunOnTheSameOutputDirIsRefusedAndNamesTheFirst) {
  fs::path run = fresh("tt_lock_busy");
  fs::create_directories(run);
  const fs::path log = fs::temp_directory_path() / "tt_lock_busy_first.log";
  pid_t first = spawn_run(run, {"epochs=400"}, log);
  // The first run holds output_dir once it has started writing there (its logs).
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (read_disk_logs(run / "logs").empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_FALSE(read_disk_logs(run / "logs").empty()) << read_file(log);
  Result second = tune_run(kConfig, run, "seed=99");
  kill(first, SIGTERM);
  int status = 0;
  waitpid(first, &status, 0);
  EXPECT_EQ(second.status, 1) << second.out;
  EXPECT_NE(second.out.find("error: " + run.string() + ": is in use by another run (pid " +
                            std::to_string(first) + " on host " + host_name() + ")"),
            std::string::npos)
      << second.out;
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(log);
  // Only the first run's files: its config (seed 1234), its checkpoint; the lock is gone.
  EXPECT_NE(read_file(run / "torchtune_config.yaml").find("seed: 1234"), std::string::npos);
  EXPECT_FALSE(checkpoint_names(run).empty());
  EXPECT_TRUE(hidden_entries(run).empty());

  // A lock file left by a killed run blocks nothing: the kernel released its lock.
  std::ofstream(run / ".torchtune_cpp.lock") << "pid 999999 on host elsewhere\n";
  Result third = tune_run(kConfig, run, "epochs=1 max_steps_per_epoch=1");
  EXPECT_EQ(third.status, 0) << third.out;
  EXPECT_TRUE(hidden_entries(run).empty());
  fs::remove_all(run);
}

TEST(RecipeSafety, ARunThatFailsToStartLeavesOutputDirAsItWas) {
  fs::path run = fresh("tt_start_fails");
  Result first = tune_run(kConfig, run, "epochs=1 max_steps_per_epoch=1");
  ASSERT_EQ(first.status, 0) << first.out;
  // A checkpoint folder whose weights are cut short: it fails while being loaded.
  fs::path cut = fresh("tt_start_fails_ckpt");
  fs::copy(fs::path(TT_SOURCE_DIR) / "assets/tiny_llama2", cut);
  fs::resize_file(cut / "model.safetensors", fs::file_size(cut / "model.safetensors") / 2);
  const std::map<std::string, std::string> before = snapshot(run);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a rewrite would show in the times
  for (const std::string& bad :
       std::vector<std::string>{"'checkpointer.checkpoint_files=[absent.safetensors]'",
                                "checkpointer.checkpoint_dir=" + cut.string(),
                                "dataset.data_files=tests/assets/data/bad/absent.json",
                                "resume_from_checkpoint=True max_steps_per_epoch=7"}) {
    Result r = tune_run(kConfig, run, "epochs=1 " + bad);
    EXPECT_EQ(r.status, 1) << bad << "\n" << r.out;
    EXPECT_EQ(snapshot(run), before) << bad << ": output_dir changed\n" << r.out;
  }
  fs::remove_all(run);
  fs::remove_all(cut);
}

TEST(RecipeSafety, AFullDiskLeavesTheEarlierCheckpointsAndNoHalfWrittenFile) {
  // The second save (step_2) finds the disk full at each of its writes in turn.
  struct Case {
    std::string point;
    bool placed;  // the checkpoint folder itself was complete before the failure
  };
  for (const Case& c :
       {Case{"weights:2", false}, Case{"index:2", false}, Case{"side_files:5", false},
        Case{"recipe_state:2", false}, Case{"mirror:2", true}}) {
    SCOPED_TRACE(c.point);
    fs::path run = fresh("tt_full_disk");
    Result r = tune_run(kConfig, run, kRun, "TORCHTUNE_CPP_FAIL_AT=enospc:" + c.point);
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("no space left on " + run.string()), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("the save needed about "), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("Input/output error"), std::string::npos) << r.out;
    // "saved to" only for a folder that is in place.
    EXPECT_EQ(r.out.find("saved to " + (run / "step_2").string()) != std::string::npos, c.placed)
        << r.out;
    const std::vector<std::string> kept = c.placed ? std::vector<std::string>{"step_1", "step_2"}
                                                   : std::vector<std::string>{"step_1"};
    EXPECT_EQ(checkpoint_names(run), kept);
    EXPECT_TRUE(hidden_entries(run).empty()) << hidden_entries(run)[0];
    fs::remove_all(run);
  }

  // Leftovers of saves killed mid-way (a staging folder, a recipe-state copy) are cleared by
  // the next run, and it resumes from the complete checkpoint.
  fs::path run = fresh("tt_full_disk_leftovers");
  Result r = tune_run(kConfig, run, kRun, "TORCHTUNE_CPP_FAIL_AT=enospc:weights:2");
  ASSERT_EQ(r.status, 1) << r.out;
  const std::string dead = "2147483600";  // above Linux's pid_max: no process has it
  fs::create_directories(run / (".step_2.partial-" + dead));
  std::ofstream(run / "recipe_state" / (".recipe_state.pt.tmp-" + dead)) << "half";
  Result resumed = tune_run(kConfig, run, kRun + " resume_from_checkpoint=True");
  ASSERT_EQ(resumed.status, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("Resuming from " + (run / "step_1").string()), std::string::npos)
      << resumed.out;
  EXPECT_TRUE(hidden_entries(run).empty()) << hidden_entries(run)[0];
  fs::remove_all(run);
}

TEST(RecipeSafety, TooLittleFreeSpaceRefusesTheSaveBeforeWritingAnything) {
  // What one intermediate save really takes: its folder plus the recipe-state mirror.
  fs::path ref = fresh("tt_free_space_ref");
  Result a = tune_run(kConfig, ref, kRun);
  ASSERT_EQ(a.status, 0) << a.out;
  uint64_t used = fs::file_size(ref / "recipe_state/recipe_state.pt");
  for (const auto& e : fs::directory_iterator(ref / "step_1")) used += fs::file_size(e.path());

  fs::path run = fresh("tt_free_space");
  Result r = tune_run(kConfig, run, kRun, "TORCHTUNE_CPP_FREE_BYTES=" + std::to_string(used));
  EXPECT_EQ(r.status, 1) << r.out;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(r.out, m,
                        std::regex("no space left on " + run.string() +
                                   ": the save needed about ([0-9.]+) MiB, ([0-9.]+) MiB free")))
      << r.out;
  const double needed = std::stod(m[1]) * 1024 * 1024;
  EXPECT_GE(needed, static_cast<double>(used));                    // never less than it writes
  EXPECT_LE(needed, 1.5 * static_cast<double>(used) + (2 << 20));  // nor far more
  EXPECT_NEAR(std::stod(m[2]) * 1024 * 1024, static_cast<double>(used), 0.06 * 1024 * 1024);
  EXPECT_TRUE(checkpoint_names(run).empty());
  EXPECT_TRUE(hidden_entries(run).empty());
  EXPECT_FALSE(fs::exists(run / "step_1"));

  // With room for it, the same run completes.
  fs::path roomy = fresh("tt_free_space_roomy");
  Result ok = tune_run(kConfig, roomy, kRun,
                       "TORCHTUNE_CPP_FREE_BYTES=" + std::to_string(uint64_t{1} << 40));
  EXPECT_EQ(ok.status, 0) << ok.out;
  for (const fs::path& p : {ref, run, roomy}) fs::remove_all(p);
}

}  // namespace
}  // namespace tt
