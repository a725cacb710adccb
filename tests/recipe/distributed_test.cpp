// full_finetune_distributed end to end on the CPU (Gloo), one thread per process, against the
// single-process recipe on the tiny HF model in fp32:
//   - 2 and 4 ranks (activation checkpointing on and off, resharding after forward on and
//     off) log the per-step losses, gradient norms and learning rates of one process with the
//     same global batch, within 1e-5 relative, and save the same weights (HF, Meta and
//     torchtune formats);
//   - the optimizer state is saved in torchtune's distributed layout (keyed by parameter
//     name) and loads in Python; resuming is exact on the same rank count and moves between
//     rank counts (2 -> 1, 1 -> 2);
//   - sharded checkpoints (each rank writes its shard) resume on 2, 4 and 1 ranks;
//   - two launchers (--nnodes 2 --node_rank 0/1) over loopback, PyTorch's torchrun, and srun's
//     and mpirun's environments train as --nproc_per_node 2;
//   - a rank killed with SIGKILL makes the other exit non-zero within the collective timeout,
//     with one clear line; SIGTERM to the launcher makes every rank save at the next step and
//     stop cleanly; SIGKILL to the launcher stops its workers too;
//   - a NaN loss, a full disk, a busy output_dir or port on one rank stop every rank, each
//     with one line, and leave the earlier checkpoints.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <sstream>
#include <thread>

#include "recipe/recipe_helpers.h"
#include "torchtune_cpp/checkpointing/checkpointer.h"
#include "torchtune_cpp/checkpointing/safetensors.h"
#include "torchtune_cpp/checkpointing/torch_save.h"
#include "torchtune_cpp/utils/file_lock.h"

extern char** environ;

namespace tt {
namespace {

using namespace tt::recipe_test;

// CPU process groups need the Gloo headers at build time (libgloo-dev; the torch wheel ships
// Gloo's library, not its headers). Built without them, every DistributedCpu test reports
// skipped with this reason instead of failing: `if (!kHaveGloo) GTEST_SKIP() << kNoGloo;`.
#if defined(TT_HAVE_GLOO)
constexpr bool kHaveGloo = true;
#else
constexpr bool kHaveGloo = false;
#endif
const char* const kNoGloo =
    "built without Gloo headers: install libgloo-dev (or carry them: "
    "scripts/fetch_offline_deps.sh) and rebuild";

const std::string kConfig = "tests/assets/golden/recipe/configs/hf.yaml";
// 64 samples, a global batch of 8 in two micro-batches of 4 per accumulation window; 2 epochs
// of 4 steps; clipping and a schedule so that every piece of the step takes part.
// Prompts are masked: torchtune weights each micro-batch's mean loss by its token count
// before shifting, and with train_on_input=True (every sequence's first label counted) how a
// batch is split changes that weighting by ~1e-4, in Python torchtune as here; with masked
// prompts both counts agree and splitting a batch across ranks changes nothing.
const std::string kRun =
    "dataset.train_on_input=False gradient_accumulation_steps=2 clip_grad_norm=1.0 "
    "max_steps_per_epoch=null "
    "lr_scheduler._component_=torchtune.training.lr_schedulers.get_cosine_schedule_with_warmup "
    "lr_scheduler.num_warmup_steps=2";
const std::string kFinal = "epoch_1/model-00001-of-00001.safetensors";

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

// Per-rank micro-batch: the single-process run's batch divided by the rank count.
std::string launch(int nproc, const std::string& extra = "") {
  return std::string(TT_BINARY_DIR) + "/tune run --nproc_per_node " + std::to_string(nproc) +
         " --master_port " + std::to_string(free_port()) + " " + extra +
         " full_finetune_distributed";
}

Result run_distributed(int nproc, const fs::path& out, const std::string& overrides) {
  return shell("cd " + std::string(TT_SOURCE_DIR) + " && OMP_NUM_THREADS=1 " + launch(nproc) +
               " --config " + kConfig + " output_dir=" + out.string() +
               " batch_size=" + std::to_string(8 / nproc) + " " + overrides);
}

Result run_single(const fs::path& out, const std::string& overrides) {
  return tune_run(kConfig, out, "batch_size=8 " + overrides, "OMP_NUM_THREADS=1");
}

void expect_close_steps(const StepLog& got, const StepLog& want, int first_step, double rtol) {
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.begin()->first, first_step);
  EXPECT_EQ(got.rbegin()->first, want.rbegin()->first);
  for (const auto& [step, values] : got) {
    ASSERT_TRUE(want.count(step)) << step;
    for (const char* key : {"loss", "grad_norm", "lr"}) {
      ASSERT_TRUE(values.count(key) && want.at(step).count(key)) << "step " << step << " " << key;
      const double a = values.at(key), b = want.at(step).at(key);
      EXPECT_LE(std::abs(a - b), rtol * std::abs(b))
          << "step " << step << " " << key << ": " << a << " vs " << b;
    }
  }
}

void expect_close_weights(const fs::path& got, const fs::path& want, double rtol, double atol) {
  StateDict a = checkpointing::SafetensorsFile(got.string()).state_dict(),
            b = checkpointing::SafetensorsFile(want.string()).state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(at::allclose(a[i].second, b[i].second, rtol, atol))
        << a[i].first << " max diff " << (a[i].second - b[i].second).abs().max().item<double>();
  }
}

TEST(DistributedCpu, TwoAndFourRanksComputeWhatOneProcessComputes) {
  if (!kHaveGloo) GTEST_SKIP() << kNoGloo;
  fs::path single = fresh("tt_dist_single");
  Result r = run_single(single, kRun + " enable_activation_checkpointing=True");
  ASSERT_EQ(r.status, 0) << r.out;
  const StepLog want = read_disk_logs(single / "logs");
  ASSERT_EQ(want.size(), 8u);
  struct Case {
    int nproc;
    std::string overrides;
  };
  for (const Case& c :
       {Case{2, "enable_activation_checkpointing=True"},
        Case{2, "enable_activation_checkpointing=False"}, Case{2, "ac_mode=selective ac_option=2"},
        Case{4, "enable_activation_checkpointing=True fsdp_reshard_after_forward=False"}}) {
    SCOPED_TRACE(std::to_string(c.nproc) + " ranks, " + c.overrides);
    fs::path out = fresh("tt_dist_" + std::to_string(c.nproc));
    Result d = run_distributed(c.nproc, out, kRun + " " + c.overrides);
    ASSERT_EQ(d.status, 0) << d.out;
    if (c.overrides.find("ac_mode") != std::string::npos) {
      EXPECT_NE(d.out.find("Activation checkpointing: layers 2 (1 of 2)"), std::string::npos)
          << d.out;
    }
    expect_close_steps(read_disk_logs(out / "logs"), want, 1, 1e-5);
    expect_close_weights(out / kFinal, single / kFinal, 1e-5, 1e-6);
    // The same files as the single-device recipe writes, and the epoch's recipe state in
    // torchtune's distributed layout, readable by Python.
    EXPECT_TRUE(fs::exists(out / "epoch_0/config.json"));
    EXPECT_TRUE(fs::exists(out / "epoch_0/model.safetensors.index.json"));
    Result py =
        shell(std::string(TT_TEST_PYTHON) + " " + TT_SOURCE_DIR +
              "/tests/interop/check_recipe_state.py " + (out / "epoch_0").string() + " --named");
    EXPECT_EQ(py.status, 0) << py.out;
    fs::remove_all(out);
  }
  fs::remove_all(single);
}

TEST(DistributedCpu, MetaAndTorchtuneCheckpointsAreWrittenAsOneProcessWritesThem) {
  if (!kHaveGloo) GTEST_SKIP() << kNoGloo;
  for (const char* format : {"meta", "torchtune"}) {
    SCOPED_TRACE(format);
    const std::string config =
        std::string("tests/assets/golden/recipe/configs/") + format + ".yaml";
    fs::path single = fresh(std::string("tt_dist_fmt_single_") + format);
    Result r = tune_run(config, single, "batch_size=8 " + kRun + " epochs=1", "OMP_NUM_THREADS=1");
    ASSERT_EQ(r.status, 0) << r.out;
    fs::path two = fresh(std::string("tt_dist_fmt_two_") + format);
    r = shell("cd " + std::string(TT_SOURCE_DIR) + " && OMP_NUM_THREADS=1 " + launch(2) +
              " --config " + config + " output_dir=" + two.string() + " batch_size=4 " + kRun +
              " epochs=1");
    ASSERT_EQ(r.status, 0) << r.out;
    const std::string file = "epoch_0/model-00001-of-00001.bin";
    StateDict a = checkpointing::load_state_dict_file((two / file).string()),
              b = checkpointing::load_state_dict_file((single / file).string());
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].first, b[i].first);
      EXPECT_TRUE(at::allclose(a[i].second, b[i].second, 1e-5, 1e-6)) << a[i].first;
    }
    fs::remove_all(single);
    fs::remove_all(two);
  }
}

TEST(DistributedCpu, ResumesExactlyAndAcrossRankCounts) {
  if (!kHaveGloo) GTEST_SKIP() << kNoGloo;
  const std::string saving = kRun + " save_every_n_steps=1";
  fs::path two = fresh("tt_dist_resume_ref2");
  Result r = run_distributed(2, two, saving);
  ASSERT_EQ(r.status, 0) << r.out;
  fs::path one = fresh("tt_dist_resume_ref1");
  r = run_single(one, saving);
  ASSERT_EQ(r.status, 0) << r.out;

  // 2 -> 2 from mid-epoch 0: byte for byte the uninterrupted run.
  fs::path run = fresh("tt_dist_resume_22");
  fs::create_directories(run);
  fs::copy(two / "step_2", run / "step_2", fs::copy_options::recursive);
  r = run_distributed(2, run, saving + " resume_from_checkpoint=True");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("global step 2, micro-batch 4"), std::string::npos) << r.out;
  expect_close_steps(read_disk_logs(run / "logs"), read_disk_logs(two / "logs"), 3, 0.0);
  EXPECT_EQ(read_file(run / kFinal), read_file(two / kFinal));

  // 2 -> 1: the single-device recipe takes the distributed layout.
  fs::path down = fresh("tt_dist_resume_21");
  fs::create_directories(down);
  fs::copy(two / "step_2", down / "step_2", fs::copy_options::recursive);
  r = run_single(down, saving + " resume_from_checkpoint=True");
  ASSERT_EQ(r.status, 0) << r.out;
  expect_close_steps(read_disk_logs(down / "logs"), read_disk_logs(one / "logs"), 3, 1e-5);
  expect_close_weights(down / kFinal, one / kFinal, 1e-5, 1e-6);

  // 1 -> 2: the distributed recipe takes the single-device layout.
  fs::path up = fresh("tt_dist_resume_12");
  fs::create_directories(up);
  fs::copy(one / "step_2", up / "step_2", fs::copy_options::recursive);
  r = run_distributed(2, up, saving + " resume_from_checkpoint=True");
  ASSERT_EQ(r.status, 0) << r.out;
  expect_close_steps(read_disk_logs(up / "logs"), read_disk_logs(one / "logs"), 3, 1e-5);
  expect_close_weights(up / kFinal, one / kFinal, 1e-5, 1e-6);
  for (const fs::path& p : {two, one, run, down, up}) fs::remove_all(p);
}

TEST(DistributedCpu, ShardedCheckpointsResumeOnAnyRankCount) {
  if (!kHaveGloo) GTEST_SKIP() << kNoGloo;
  const std::string saving = kRun + " save_every_n_steps=1";
  fs::path full = fresh("tt_dist_sharded_full");
  Result r = run_distributed(2, full, saving);
  ASSERT_EQ(r.status, 0) << r.out;
  fs::path ref = fresh("tt_dist_sharded_ref");
  r = run_distributed(2, ref, saving + " sharded_checkpoints=True");
  ASSERT_EQ(r.status, 0) << r.out;
  // Each rank wrote its shard; the final checkpoint is the full one; training is unchanged.
  for (const char* f : {"sharded_checkpoint.json", "shard-00000-of-00002.safetensors",
                        "shard-00001-of-00002.safetensors", "recipe_state.pt", "config.json"})
    EXPECT_TRUE(fs::exists(ref / "step_2" / f)) << f;
  EXPECT_FALSE(fs::exists(ref / "step_2/model-00001-of-00001.safetensors"));
  EXPECT_TRUE(fs::exists(ref / "epoch_1/model-00001-of-00001.safetensors"));
  EXPECT_EQ(read_file(ref / kFinal), read_file(full / kFinal));
  std::vector<checkpointing::CheckpointFolder> found =
      checkpointing::list_checkpoints(ref.string());
  ASSERT_FALSE(found.empty());
  EXPECT_TRUE(found.back().resumable);

  // From step_2 (mid-epoch 0) on 2 ranks (exact), 4 ranks and 1 rank (same maths).
  for (int nproc : {2, 4, 1}) {
    SCOPED_TRACE(std::to_string(nproc) + " ranks");
    fs::path run = fresh("tt_dist_sharded_" + std::to_string(nproc));
    fs::create_directories(run);
    fs::copy(ref / "step_2", run / "step_2", fs::copy_options::recursive);
    r = run_distributed(nproc, run,
                        saving + " sharded_checkpoints=True resume_from_checkpoint=True");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("global step 2, micro-batch " + std::to_string(4 * 2 / 2)),
              std::string::npos)
        << r.out;
    expect_close_steps(read_disk_logs(run / "logs"), read_disk_logs(ref / "logs"), 3,
                       nproc == 2 ? 0.0 : 1e-5);
    if (nproc == 2)
      EXPECT_EQ(read_file(run / kFinal), read_file(ref / kFinal));
    else
      expect_close_weights(run / kFinal, ref / kFinal, 1e-5, 1e-6);
    fs::remove_all(run);
  }
  // The single-device recipe says what to do with it.
  fs::path single = fresh("tt_dist_sharded_single");
  fs::create_directories(single);
  fs::copy(ref / "step_2", single / "step_2", fs::copy_options::recursive);
  r = run_single(single, saving + " resume_from_checkpoint=True");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("is a sharded checkpoint"), std::string::npos) << r.out;
  for (const fs::path& p : {full, ref, single}) fs::remove_all(p);
}

TEST(DistributedCpu, TwoNodesTorchrunSrunAndMpirunTrainAsOneNodeOfTwo) {
  if (!kHaveGloo) GTEST_SKIP() << kNoGloo;
  fs::path ref = fresh("tt_dist_nodes_ref");
  Result r = run_distributed(2, ref, kRun);
  ASSERT_EQ(r.status, 0) << r.out;
  fs::path out = fresh("tt_dist_nodes");
  const std::string port = std::to_string(free_port());
  auto node = [&](int rank) {
    return std::string(TT_BINARY_DIR) + "/tune run --nnodes 2 --nproc_per_node 1 --node_rank " +
           std::to_string(rank) + " --master_addr 127.0.0.1 --master_port " + port +
           " full_finetune_distributed --config " + kConfig + " output_dir=" + out.string() +
           " batch_size=4 " + kRun;
  };
  // Node 1 in the background, node 0 in the foreground; both must succeed.
  r = shell("cd " + std::string(TT_SOURCE_DIR) + " && export OMP_NUM_THREADS=1 && (" + node(1) +
            " > " + (fs::temp_directory_path() / "tt_dist_node1.log").string() +
            " 2>&1 & pid=$!; " + node(0) +
            "; s0=$?; wait $pid; s1=$?; echo node statuses $s0 $s1; test $s0 -eq 0 -a $s1 -eq 0)");
  ASSERT_EQ(r.status, 0) << r.out << read_file(fs::temp_directory_path() / "tt_dist_node1.log");
  expect_close_steps(read_disk_logs(out / "logs"), read_disk_logs(ref / "logs"), 1, 0.0);
  EXPECT_EQ(read_file(out / kFinal), read_file(ref / kFinal));
  fs::remove_all(out);

  // The recipe started by PyTorch's torchrun, and by hand with srun's and mpirun's variables.
  const std::string recipe = std::string(TT_BINARY_DIR) +
                             "/recipes/full_finetune_distributed --config " + kConfig +
                             " batch_size=4 " + kRun + " output_dir=";
  fs::path torchrun = fresh("tt_dist_torchrun");
  r = shell("cd " + std::string(TT_SOURCE_DIR) + " && OMP_NUM_THREADS=1 " + TT_TEST_PYTHON +
            " -m torch.distributed.run --nproc_per_node 2 --master_port " +
            std::to_string(free_port()) + " --no-python " + recipe + torchrun.string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("launched by torchrun"), std::string::npos) << r.out;
  EXPECT_EQ(read_file(torchrun / kFinal), read_file(ref / kFinal));
  struct Launcher {
    std::string name, env0, env1;
  };
  for (const Launcher& l :
       {Launcher{"slurm", "SLURM_PROCID=0 SLURM_LOCALID=0", "SLURM_PROCID=1 SLURM_LOCALID=1"},
        Launcher{"mpirun", "OMPI_COMM_WORLD_RANK=0 OMPI_COMM_WORLD_LOCAL_RANK=0",
                 "OMPI_COMM_WORLD_RANK=1 OMPI_COMM_WORLD_LOCAL_RANK=1"}}) {
    SCOPED_TRACE(l.name);
    fs::path dir = fresh("tt_dist_" + l.name);
    const std::string common =
        "OMP_NUM_THREADS=1 MASTER_PORT=" + std::to_string(free_port()) +
        (l.name == "slurm" ? " SLURM_NTASKS=2 SLURM_NTASKS_PER_NODE=2 SLURM_JOB_NODELIST=localhost "
                           : " OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_LOCAL_SIZE=2 ");
    r = shell("cd " + std::string(TT_SOURCE_DIR) + " && (env " + common + l.env1 + " " + recipe +
              dir.string() + " > /dev/null 2>&1 & pid=$!; env " + common + l.env0 + " " + recipe +
              dir.string() + "; s0=$?; wait $pid; s1=$?; test $s0 -eq 0 -a $s1 -eq 0)");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("launched by " + l.name), std::string::npos) << r.out;
    EXPECT_EQ(read_file(dir / kFinal), read_file(ref / kFinal));
    fs::remove_all(dir);
  }
  fs::remove_all(torchrun);
  fs::remove_all(ref);
}

// Spawns argv with stdout and stderr to `log`, in the source folder, with `env` added.
pid_t spawn(const std::vector<std::string>& args, const fs::path& log,
            const std::vector<std::string>& env) {
  std::vector<std::string> envs(env);
  for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
  std::vector<char*> argv, envp;
  std::vector<std::string> a(args);
  for (auto& s : a) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : envs) envp.push_back(s.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  EXPECT_EQ(chdir(TT_SOURCE_DIR), 0);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

bool wait_for_steps(const fs::path& log_dir, size_t steps, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (read_disk_logs(log_dir).size() < steps)
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    else
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return true;
}

// Waits up to `seconds` for pid; returns its wait status or -1 when it is still running.
int wait_with_timeout(pid_t pid, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

// Two ranks started directly (as torchrun or srun would), no launcher to clean up after:
// SIGKILL to rank 1, then rank 0 must be gone, non-zero, within the timeout + 10 s.
void expect_killed_rank_stops_the_other(const std::string& name, const std::string& device) {
  fs::path out = fresh(name);
  fs::create_directories(out);
  const std::string port = std::to_string(free_port());
  const int timeout = 15;
  std::vector<pid_t> pids;
  for (int rank = 0; rank < 2; ++rank)
    pids.push_back(spawn(
        {std::string(TT_BINARY_DIR) + "/recipes/full_finetune_distributed", "--config", kConfig,
         "output_dir=" + out.string(), "batch_size=4", "epochs=400", "max_steps_per_epoch=null",
         "device=" + device, "process_group_timeout_seconds=" + std::to_string(timeout)},
        out / ("rank" + std::to_string(rank) + ".log"),
        {"RANK=" + std::to_string(rank), "LOCAL_RANK=" + std::to_string(rank), "WORLD_SIZE=2",
         "LOCAL_WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + port,
         "OMP_NUM_THREADS=1"}));
  ASSERT_TRUE(wait_for_steps(out / "logs", 2, 120)) << read_file(out / "rank0.log");
  kill(pids[1], SIGKILL);
  waitpid(pids[1], nullptr, 0);
  int status = wait_with_timeout(pids[0], timeout + 10);
  if (status == -1) kill(pids[0], SIGKILL);
  ASSERT_NE(status, -1) << "rank 0 still running " << timeout + 10 << " s after rank 1 was killed\n"
                        << read_file(out / "rank0.log");
  EXPECT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(out / "rank0.log");
  // Over Gloo, one line of its own saying what happened: no raw Gloo text, no backtrace.
  const std::string log = read_file(out / "rank0.log");
  if (device == "cpu") {
    EXPECT_NE(log.find("error: rank 0: "), std::string::npos) << log;
    for (const char* raw : {"third_party/gloo", "Exception raised from", "frame #"})
      EXPECT_EQ(log.find(raw), std::string::npos) << raw << " in\n" << log;
  }
  fs::remove_all(out);
}

TEST(DistributedCpu, AKilledRankStopsTheOthersWithinTheTimeout) {
  if (!kHaveGloo) GTEST_SKIP() << kNoGloo;
  expect_killed_rank_stops_the_other("tt_dist_kill", "cpu");
}

TEST(DistributedCpu, SigtermToTheLauncherSavesOnEveryRankAndResumesExactly) {
  if (!kHaveGloo) GTEST_SKIP() << kNoGloo;
  const std::string overrides =
      "gradient_accumulation_steps=1 max_steps_per_epoch=null";  // 2 x 16 steps
  fs::path ref = fresh("tt_dist_sigterm_ref");
  Result r = run_distributed(2, ref, overrides);
  ASSERT_EQ(r.status, 0) << r.out;
  fs::path run = fresh("tt_dist_sigterm");
  fs::create_directories(run);
  pid_t launcher = spawn({std::string(TT_BINARY_DIR) + "/tune", "run", "--nproc_per_node", "2",
                          "--master_port", std::to_string(free_port()), "full_finetune_distributed",
                          "--config", kConfig, "output_dir=" + run.string(), "batch_size=4",
                          "gradient_accumulation_steps=1", "max_steps_per_epoch=null"},
                         run / "stdout.txt", {"OMP_NUM_THREADS=1"});
  ASSERT_TRUE(wait_for_steps(run / "logs", 3, 120)) << read_file(run / "stdout.txt");
  kill(launcher, SIGTERM);
  int status = wait_with_timeout(launcher, 60);
  const std::string out = read_file(run / "stdout.txt");
  ASSERT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  ASSERT_NE(out.find("Stopped at step"), std::string::npos) << out;
  std::vector<checkpointing::CheckpointFolder> found =
      checkpointing::list_checkpoints(run.string());
  ASSERT_EQ(found.size(), 1u) << out;
  EXPECT_TRUE(found[0].resumable);
  EXPECT_LT(found[0].global_step, 32);
  r = run_distributed(2, run, overrides + " resume_from_checkpoint=True");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(read_file(run / kFinal), read_file(ref / kFinal));
  fs::remove_all(run);
  fs::remove_all(ref);
}

int gpu_count() {
  return at::globalContext().hasCUDA() ? static_cast<int>(at::detail::getCUDAHooks().deviceCount())
                                       : 0;
}

TEST(DistributedCpu, BadLaunchesAreClearErrors) {
  if (!kHaveGloo) GTEST_SKIP() << kNoGloo;
  struct Case {
    std::string overrides, want;
  };
  std::vector<Case> cases = {
      {"process_group_timeout_seconds=0",
       "'process_group_timeout_seconds=0'): must be at least 1 (seconds)"},
      {"optimizer_in_bwd=True", "optimizer_in_bwd is not supported by full_finetune_distributed"},
      {"optimizer=bitsandbytes.optim.PagedAdamW8bit ~optimizer.fused",
       "8-bit optimizer state is not supported by the distributed recipe"}};
  if (gpu_count() < 2)
    cases.push_back(
        {"device=cuda", "needs cuda:1 but " + std::to_string(gpu_count()) + " CUDA device(s)"});
  for (const Case& c : cases) {
    fs::path out = fresh("tt_dist_bad");
    Result r = run_distributed(2, out, c.overrides);
    EXPECT_EQ(r.status, 1) << c.overrides << "\n" << r.out;
    EXPECT_NE(r.out.find(c.want), std::string::npos)
        << c.overrides << "\nwant: " << c.want << "\n got: " << r.out;
    fs::remove_all(out);
  }
}

// ---- two GPUs (label multigpu): NCCL, one GPU per process.

TEST(MultiGpuDistributed, AKilledRankStopsTheOthersWithinTheTimeout) {
  if (gpu_count() < 2) GTEST_SKIP() << "needs two CUDA devices";
  expect_killed_rank_stops_the_other("tt_mgpu_kill", "cuda");
}

TEST(MultiGpuDistributed, TwoGpusComputeWhatOneProcessComputesAndTwoNodesWhatOneNodeOfTwo) {
  if (gpu_count() < 2) GTEST_SKIP() << "needs two CUDA devices";
  const std::string run = kRun + " device=cuda enable_activation_checkpointing=True";
  fs::path single = fresh("tt_mgpu_single");
  Result r = run_single(single, run);
  ASSERT_EQ(r.status, 0) << r.out;
  fs::path two = fresh("tt_mgpu_two");
  r = run_distributed(2, two, run);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("(nccl, launched by torchrun)"), std::string::npos) << r.out;
  // GPU kernels sum in their own order: a looser bound than on the CPU.
  expect_close_steps(read_disk_logs(two / "logs"), read_disk_logs(single / "logs"), 1, 1e-4);
  expect_close_weights(two / kFinal, single / kFinal, 1e-4, 1e-5);
  // fsdp_cpu_offload: shards, gradients and optimizer state in host memory, the same maths.
  fs::path offload = fresh("tt_mgpu_offload");
  r = run_distributed(2, offload, run + " fsdp_cpu_offload=True");
  ASSERT_EQ(r.status, 0) << r.out;
  expect_close_steps(read_disk_logs(offload / "logs"), read_disk_logs(single / "logs"), 1, 1e-4);
  expect_close_weights(offload / kFinal, single / kFinal, 1e-4, 1e-5);
  fs::remove_all(offload);
  // Two launchers of one process each, as two nodes would be, each given its own GPU.
  fs::path nodes = fresh("tt_mgpu_nodes");
  const std::string port = std::to_string(free_port());
  auto node = [&](int rank) {
    return "CUDA_VISIBLE_DEVICES=" + std::to_string(rank) + " " + std::string(TT_BINARY_DIR) +
           "/tune run --nnodes 2 --nproc_per_node 1 --node_rank " + std::to_string(rank) +
           " --master_addr 127.0.0.1 --master_port " + port +
           " full_finetune_distributed --config " + kConfig + " output_dir=" + nodes.string() +
           " batch_size=4 " + run;
  };
  r = shell("cd " + std::string(TT_SOURCE_DIR) + " && (" + node(1) +
            " > /dev/null 2>&1 & pid=$!; " + node(0) +
            "; s0=$?; wait $pid; s1=$?; test $s0 -eq 0 -a $s1 -eq 0)");
  ASSERT_EQ(r.status, 0) << r.out;
  expect_close_steps(read_disk_logs(nodes / "logs"), read_disk_logs(two / "logs"), 1, 1e-6);
  for (const fs::path& p : {single, two, nodes}) fs::remove_all(p);
}

}  // namespace
}  // namespace tt

// ---- failures on one rank stop every rank with one clear line each; a launcher killed
// outright takes its workers with it.

namespace tt {
namespace {

bool has_hidden_entries(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string()[0] == '.') return true;
  return false;
}

std::vector<std::string> checkpoint_names(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& f : checkpointing::list_checkpoints(dir.string())) names.push_back(f.name);
  return names;
}

// Neither a LibTorch backtrace nor a raw Gloo message reaches the user.
void expect_no_raw_errors(const std::string& out) {
  for (const char* raw :
       {"Exception raised from", "frame #", "third_party/gloo", "terminate called"})
    EXPECT_EQ(out.find(raw), std::string::npos) << raw << " in\n" << out;
}

TEST(DistributedCpu, ANonFiniteLossStopsEveryRankBeforeItReachesACheckpoint) {
  if (!kHaveGloo) GTEST_SKIP() << kNoGloo;
  fs::path out = fresh("tt_dist_nonfinite");
  Result r = run_distributed(2, out, "optimizer.lr=1e10 save_every_n_steps=1");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(
      r.out.find(
          "error: step 2: the loss is nan; training stopped so that no checkpoint holds non-finite "
          "weights. Last good checkpoint: " +
          (out / "step_1").string()),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("error: rank 1, step 2: stopped: the loss is nan"), std::string::npos)
      << r.out;
  EXPECT_EQ(checkpoint_names(out), std::vector<std::string>{"step_1"});
  expect_no_raw_errors(r.out);
  fs::remove_all(out);
}

TEST(DistributedCpu, AFullDiskOnAnyRankStopsEveryRankAndKeepsTheEarlierCheckpoints) {
  if (!kHaveGloo) GTEST_SKIP() << kNoGloo;
  // Full checkpoints (rank 0 writes), then sharded ones (every rank writes its shard): the
  // second save finds the disk full.
  for (const std::string sharded : {"False", "True"}) {
    SCOPED_TRACE("sharded_checkpoints=" + sharded);
    fs::path out = fresh("tt_dist_full_disk");
    Result r = shell("cd " + std::string(TT_SOURCE_DIR) +
                     " && TORCHTUNE_CPP_FAIL_AT=enospc:weights:2 OMP_NUM_THREADS=1 " + launch(2) +
                     " --config " + kConfig + " output_dir=" + out.string() +
                     " batch_size=4 save_every_n_steps=1 sharded_checkpoints=" + sharded);
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("no space left on"), std::string::npos) << r.out;
    if (sharded == "False") {
      EXPECT_NE(r.out.find("error: rank 1: stopped: rank 0 failed while saving step_2"),
                std::string::npos)
          << r.out;
    }
    EXPECT_EQ(checkpoint_names(out), std::vector<std::string>{"step_1"});
    EXPECT_FALSE(has_hidden_entries(out));
    expect_no_raw_errors(r.out);
    fs::remove_all(out);
  }
}

TEST(DistributedCpu, ABusyOutputDirOrPortStopsEveryRankWithOneLine) {
  if (!kHaveGloo) GTEST_SKIP() << kNoGloo;
  // output_dir held by another run (here this process).
  fs::path out = fresh("tt_dist_locked");
  {
    DirectoryLock held(out.string(), "output_dir");
    Result r = run_distributed(2, out, "");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find("error: " + out.string() + ": is in use by another run (pid " +
                         std::to_string(getpid())),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("error: rank 1: stopped: rank 0 failed while taking the output_dir lock"),
              std::string::npos)
        << r.out;
    expect_no_raw_errors(r.out);
  }
  EXPECT_EQ(std::vector<std::string>{}, [&] {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(out)) names.push_back(e.path().filename().string());
    return names;
  }()) << "the refused run wrote to output_dir";

  // MASTER_PORT taken by another program.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 1), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const std::string port = std::to_string(ntohs(addr.sin_port));
  Result r = shell("cd " + std::string(TT_SOURCE_DIR) + " && OMP_NUM_THREADS=1 " + TT_BINARY_DIR +
                   "/tune run --nproc_per_node 2 --master_port " + port +
                   " full_finetune_distributed --config " + kConfig +
                   " output_dir=" + out.string() + " batch_size=4");
  close(fd);
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("rank 0 could not serve the rendezvous at 127.0.0.1:" + port),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("the port is taken"), std::string::npos) << r.out;
  expect_no_raw_errors(r.out);
  fs::remove_all(out);
}

// The pids whose parent is `parent` (/proc/<pid>/stat's fourth field).
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> kids;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) kids.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return kids;
}

// Gone: no such process, or a zombie waiting for a parent to reap it.
bool process_gone(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  if (!in) return true;
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  return close == std::string::npos || stat.substr(close + 2, 1) == "Z";
}

TEST(DistributedCpu, KillingTheLauncherOutrightStopsItsWorkers) {
  if (!kHaveGloo) GTEST_SKIP() << kNoGloo;
  fs::path out = fresh("tt_dist_launcher_killed");
  fs::create_directories(out);
  pid_t launcher =
      spawn({std::string(TT_BINARY_DIR) + "/tune", "run", "--nproc_per_node", "2", "--master_port",
             std::to_string(free_port()), "full_finetune_distributed", "--config", kConfig,
             "output_dir=" + out.string(), "batch_size=4", "epochs=400"},
            out / "stdout.txt", {"OMP_NUM_THREADS=1"});
  ASSERT_TRUE(wait_for_steps(out / "logs", 2, 120)) << read_file(out / "stdout.txt");
  const std::vector<pid_t> workers = children_of(launcher);
  ASSERT_EQ(workers.size(), 2u);
  kill(launcher, SIGKILL);
  waitpid(launcher, nullptr, 0);
  // They are told to stop (SIGTERM): they save at the next step and exit.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!(process_gone(workers[0]) && process_gone(workers[1])) &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const bool gone = process_gone(workers[0]) && process_gone(workers[1]);
  for (pid_t w : workers)
    if (!process_gone(w)) kill(w, SIGKILL);
  ASSERT_TRUE(gone) << "workers still training 30 s after their launcher was killed\n"
                    << read_file(out / "stdout.txt");
  // ... having saved where they stopped ("Stopped at step N", or "stopped at step N" when
  // the signal came during a save): resumable.
  EXPECT_NE(read_file(out / "stdout.txt").find("topped at step"), std::string::npos)
      << read_file(out / "stdout.txt");
  const std::vector<checkpointing::CheckpointFolder> found =
      checkpointing::list_checkpoints(out.string());
  ASSERT_FALSE(found.empty());
  EXPECT_TRUE(found.back().resumable);
  fs::remove_all(out);
}

}  // namespace
}  // namespace tt
