// recipe_state.pt end to end, on the tiny HF model on the CPU:
//   - the `dataloader` entry of a mid-epoch checkpoint (second epoch, with accumulation;
//     and from two ranks) loads into torchdata's StatefulDataLoader built as torchtune builds
//     it, which then yields exactly the micro-batches our resumed run trains on next, on every
//     rank (tests/interop/check_dataloader_state.py); the resumed run logs what the
//     uninterrupted one logged;
//   - a recipe_state.pt with the earlier {'epoch', 'batches_in_epoch'} entry resumes at the
//     same micro-batch;
//   - an edited recipe_state.pt with a wrong type or an impossible value stops the run before
//     training, exit status 1, naming the file and the key.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "recipe/recipe_helpers.h"
#include "torchtune_cpp/data/sampler.h"

namespace tt {
namespace {

using namespace tt::recipe_test;
using nlohmann::json;

const std::string kConfig = "tests/assets/golden/recipe/configs/hf.yaml";
constexpr int64_t kSamples = 64;  // tests/assets/data/alpaca_tiny.json, shuffled (shuffle: true)

bool python_has_torchdata() {
  const std::string command =
      std::string(TT_TEST_PYTHON) + " -c 'import torchdata.stateful_dataloader' >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

// The micro-batches (sample indices) each of `world` ranks trains on in 0-based `epoch` from
// micro-batch `first` on: the recipes' own sampler and batching (recipes/*.cpp, train()).
json our_next_batches(int64_t epoch, int64_t first, int64_t batch_size, int world) {
  json ranks = json::array();
  for (int r = 0; r < world; ++r) {
    auto batches = data::batch_indices(
        data::distributed_sampler_indices(kSamples, epoch, {world, r, true, 0, false}), batch_size);
    ranks.push_back(
        json(std::vector<std::vector<int64_t>>(batches.begin() + first, batches.end())));
  }
  return ranks;
}

// Runs check_dataloader_state.py on `folder`/recipe_state.pt.
void expect_torchdata_resumes_like_us(const fs::path& folder, int64_t epoch, int64_t first,
                                      int64_t batch_size, int world) {
  const json want = {
      {"size", kSamples}, {"batch_size", batch_size},
      {"shuffle", true},  {"world_size", world},
      {"epoch", epoch},   {"ranks", our_next_batches(epoch, first, batch_size, world)}};
  const fs::path expected = folder.parent_path() / (folder.filename().string() + "_expected.json");
  std::ofstream(expected) << want.dump();
  Result py = shell(std::string(TT_TEST_PYTHON) + " " + TT_SOURCE_DIR +
                    "/tests/interop/check_dataloader_state.py " +
                    (folder / "recipe_state.pt").string() + " " + expected.string());
  EXPECT_EQ(py.status, 0) << py.out;
  EXPECT_NE(py.out.find("ok"), std::string::npos) << py.out;
}

void expect_same_losses(const StepLog& resumed, const StepLog& full, int first_step) {
  ASSERT_FALSE(resumed.empty());
  EXPECT_EQ(resumed.begin()->first, first_step);
  EXPECT_EQ(resumed.rbegin()->first, full.rbegin()->first);
  for (const auto& [step, values] : resumed) {
    ASSERT_TRUE(full.count(step)) << step;
    EXPECT_EQ(values.at("loss"), full.at(step).at("loss")) << "step " << step;
  }
}

// A copy of `checkpoint` alone in a fresh output_dir, so resuming takes it.
fs::path output_dir_with(const fs::path& checkpoint, const std::string& name) {
  fs::path out = fresh(name);
  fs::create_directories(out);
  fs::copy(checkpoint, out / checkpoint.filename(), fs::copy_options::recursive);
  return out;
}

// 64 samples in micro-batches of 8, two per step: 4 steps per epoch, a checkpoint every 3
// steps, so step_6 is micro-batch 4 of the second epoch.
const std::string kSingle =
    "batch_size=8 max_steps_per_epoch=null gradient_accumulation_steps=2 save_every_n_steps=3";

TEST(RecipeStateFile, TorchdataResumesTheSingleDeviceStateWhereWeDo) {
  if (!python_has_torchdata())
    GTEST_SKIP() << TT_TEST_PYTHON << " lacks torchdata (tests/requirements.txt)";
  fs::path ref = fresh("tt_recipe_state_single");
  Result r = tune_run(kConfig, ref, kSingle, "OMP_NUM_THREADS=1");
  ASSERT_EQ(r.status, 0) << r.out;
  fs::path run = output_dir_with(ref / "step_6", "tt_recipe_state_single_resumed");
  r = tune_run(kConfig, run, kSingle + " resume_from_checkpoint=True", "OMP_NUM_THREADS=1");
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_NE(r.out.find("at epoch 2, global step 6, micro-batch 4\n"), std::string::npos) << r.out;
  expect_same_losses(read_disk_logs(run / "logs"), read_disk_logs(ref / "logs"), 7);
  expect_torchdata_resumes_like_us(ref / "step_6", /*epoch=*/1, /*first=*/4, /*batch_size=*/8, 1);
  fs::remove_all(run);
  fs::remove_all(ref);
}

// A port nobody listens on now (CTest runs tests in parallel, each needs its own rendezvous).
int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

Result run_two_ranks(const fs::path& out, const std::string& overrides) {
  return shell("cd " + std::string(TT_SOURCE_DIR) + " && OMP_NUM_THREADS=1 " + TT_BINARY_DIR +
               "/tune run --nproc_per_node 2 --master_port " + std::to_string(free_port()) +
               " full_finetune_distributed --config " + kConfig + " output_dir=" + out.string() +
               " " + overrides);
}

TEST(RecipeStateFile, TorchdataResumesTheDistributedStateWhereWeDoOnEveryRank) {
  if (!python_has_torchdata())
    GTEST_SKIP() << TT_TEST_PYTHON << " lacks torchdata (tests/requirements.txt)";
  // Two ranks of 32 samples each, micro-batches of 4: 8 steps per epoch; step_12 is
  // micro-batch 4 of the second epoch. Rank 0 writes the entry; each rank reads it.
  const std::string overrides = "batch_size=4 max_steps_per_epoch=null save_every_n_steps=3";
  fs::path ref = fresh("tt_recipe_state_two_ranks");
  Result r = run_two_ranks(ref, overrides);
  ASSERT_EQ(r.status, 0) << r.out;
  fs::path run = output_dir_with(ref / "step_12", "tt_recipe_state_two_ranks_resumed");
  r = run_two_ranks(run, overrides + " resume_from_checkpoint=True");
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_NE(r.out.find("at epoch 2, global step 12, micro-batch 4\n"), std::string::npos) << r.out;
  expect_same_losses(read_disk_logs(run / "logs"), read_disk_logs(ref / "logs"), 13);
  expect_torchdata_resumes_like_us(ref / "step_12", /*epoch=*/1, /*first=*/4, /*batch_size=*/4, 2);
  fs::remove_all(run);
  fs::remove_all(ref);
}

// Rewrites `folder`/recipe_state.pt with Python: `edit` is Python over the loaded dict `s`.
void edit_recipe_state(const fs::path& folder, const std::string& edit) {
  const std::string script =
      "import sys, torch; p = sys.argv[1]; s = torch.load(p, weights_only=True); "
      "exec(sys.argv[2]); "
      "torch.save(s, p)";
  Result py = shell(std::string(TT_TEST_PYTHON) + " -c '" + script + "' " +
                    (folder / "recipe_state.pt").string() + " \"" + edit + "\"");
  ASSERT_EQ(py.status, 0) << edit << "\n" << py.out;
}

TEST(RecipeStateFile, EditedRecipeStatesStopTheRunNamingFileAndKey) {
  fs::path ref = fresh("tt_recipe_state_edits");
  Result r = tune_run(kConfig, ref, kSingle + " epochs=1", "OMP_NUM_THREADS=1");
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_TRUE(fs::exists(ref / "step_3/recipe_state.pt"));  // micro-batch 6 of the first epoch

  // The earlier layout of our own files still resumes at its micro-batch.
  fs::path run = output_dir_with(ref / "step_3", "tt_recipe_state_earlier_layout");
  edit_recipe_state(run / "step_3", "s['dataloader'] = {'epoch': 0, 'batches_in_epoch': 6}");
  r = tune_run(kConfig, run, kSingle + " epochs=1 resume_from_checkpoint=True",
               "OMP_NUM_THREADS=1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("at epoch 1, global step 3, micro-batch 6\n"), std::string::npos) << r.out;
  expect_same_losses(read_disk_logs(run / "logs"), read_disk_logs(ref / "logs"), 4);
  fs::remove_all(run);

  struct Case {
    std::string edit, message;
  };
  const std::vector<Case> cases = {
      {"s['global_step'] = -1", "key 'global_step': expected a non-negative integer, found int -1"},
      {"s['epochs_run'] = -1", "key 'epochs_run': expected an integer in [0, 1], found int -1"},
      {"s['seed'] = 2**40",
       "key 'seed': expected an integer in [0, 4294967295], found int 1099511627776"},
      {"s['dataloader']['_num_yielded'] = 'six'",
       "key 'dataloader._num_yielded': expected a non-negative integer, found str 'six'"},
      // Consistent in itself, but beyond the 8 micro-batches of this run's epoch.
      {"s['dataloader'] = dict(s['dataloader'], _num_yielded=40, _sampler_iter_yielded=40, "
       "_sampler_iter_state={'samples_yielded': 320, 'sampler_state': {'yielded': 320}})",
       "key 'dataloader': 40 micro-batches of epoch 1 are recorded as done, but this run's epoch "
       "has 8"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.edit);
    fs::path bad = output_dir_with(ref / "step_3", "tt_recipe_state_edited");
    edit_recipe_state(bad / "step_3", c.edit);
    r = tune_run(kConfig, bad, kSingle + " epochs=1 resume_from_checkpoint=True",
                 "OMP_NUM_THREADS=1");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("error: " + (bad / "step_3/recipe_state.pt").string() + ": " + c.message),
              std::string::npos)
        << r.out;
    EXPECT_FALSE(fs::exists(bad / "logs") && !read_disk_logs(bad / "logs").empty()) << "it trained";
    fs::remove_all(bad);
  }
  fs::remove_all(ref);
}

}  // namespace
}  // namespace tt
