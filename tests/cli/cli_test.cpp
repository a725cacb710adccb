// `tune` end to end: every subcommand run as a user runs it, checking output, files and
// exit status; the committed broken configs each give their expected message.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <regex>
#include <sstream>

#include "common/command.h"
#include "torchtune_cpp/checkpointing/safetensors.h"
#include "torchtune_cpp/checkpointing/safetensors_writer.h"
#include "torchtune_cpp/config/config.h"
#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/training/device.h"
#include "torchtune_cpp/utils/check.h"

namespace {

namespace fs = std::filesystem;

using Result = tt::testing::CommandResult;

// `tune <args>` with optional environment assignments in front.
Result run(const std::string& args, const std::string& env = "") {
  return tt::testing::run_command(env + " " + std::string(TT_BINARY_DIR) + "/tune " + args);
}

std::string src(const std::string& rel) {
  return std::string(TT_SOURCE_DIR) + "/" + rel;
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class Cli : public ::testing::Test {
 protected:
  fs::path tmp;
  void SetUp() override {
    tmp =
        fs::temp_directory_path() /
        ("tt_cli_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(tmp);
    fs::create_directories(tmp);
  }
  void TearDown() override { fs::remove_all(tmp); }
};

TEST_F(Cli, LsPrintsTorchtunesTable) {
  Result r = run("ls");
  ASSERT_EQ(r.status, 0) << r.out;
  char header[100];
  std::snprintf(header, sizeof header, "%-40s %-40s\n", "RECIPE", "CONFIG");
  EXPECT_EQ(r.out.rfind(header, 0), 0u) << r.out;
  EXPECT_NE(r.out.find("full_finetune_single_device              llama2/7B_full_low_memory"),
            std::string::npos);
  EXPECT_NE(r.out.find("full_finetune_distributed                llama2/7B_full"),
            std::string::npos);
  EXPECT_NE(r.out.find("\n                                         llama2/13B_full"),
            std::string::npos);
}

TEST_F(Cli, LsComponentsListsTheRegistry) {
  Result r = run("ls --components");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("torchtune.models.llama2.llama2_7b"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("torchtune.models.llama2.llama2_tokenizer"), std::string::npos) << r.out;
}

TEST_F(Cli, HelpEverywhereAndUnknownSubcommand) {
  for (const char* sub :
       {"--help", "ls --help", "cp --help", "cat --help", "validate --help", "run --help"}) {
    Result r = run(sub);
    EXPECT_EQ(r.status, 0) << sub << ": " << r.out;
    EXPECT_NE(r.out.find("usage: tune"), std::string::npos) << sub;
  }
  Result r = run("valdate x");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("error: tune: unknown subcommand 'valdate'. Did you mean 'validate'?"),
            std::string::npos)
      << r.out;
  r = run("download meta-llama/Llama-2-7b-hf");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("checkpointer.checkpoint_dir"), std::string::npos) << r.out;
}

TEST_F(Cli, CatPrintsBuiltinConfigs) {
  Result r = run("cat llama2/7B_full");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("model:\n    _component_: torchtune.models.llama2.llama2_7b\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("    checkpoint_files:\n    - pytorch_model-00001-of-00002.bin\n"),
            std::string::npos);
  EXPECT_EQ(r.out.find('#'), std::string::npos);  // comments dropped, as yaml.dump does
  Result sorted = run("cat llama2/7B_full --sort");
  ASSERT_EQ(sorted.status, 0);
  EXPECT_LT(sorted.out.find("batch_size:"), sorted.out.find("checkpointer:"));
  Result recipe = run("cat full_finetune_distributed");
  EXPECT_EQ(recipe.status, 1);
  EXPECT_NE(recipe.out.find("is a recipe, not a config"), std::string::npos) << recipe.out;
  Result txt = run("cat notes.txt");
  EXPECT_EQ(txt.status, 1);
  EXPECT_NE(txt.out.find("neither a built-in config"), std::string::npos) << txt.out;
}

TEST_F(Cli, CpCopiesConfigsWithTorchtunesRules) {
  Result r = run("cp llama2/7B_full " + (tmp / "mine.yml").string());
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("Copied file to " + (tmp / "mine.yaml").string()), std::string::npos)
      << r.out;
  EXPECT_EQ(read(tmp / "mine.yaml"), read(src("configs/llama2/7B_full.yaml")));
  std::ofstream(tmp / "keep.yaml") << "mine: 1\n";
  r = run("cp -n llama2/7B_full " + (tmp / "keep.yaml").string());
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("not overwriting"), std::string::npos);
  EXPECT_EQ(read(tmp / "keep.yaml"), "mine: 1\n");
  r = run("cp llama2/7B_full " + (tmp / "a/b/c.yaml").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("--make-parents"), std::string::npos) << r.out;
  r = run("cp --make-parents llama2/7B_full " + (tmp / "a/b/c.yaml").string());
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(fs::exists(tmp / "a/b/c.yaml"));
  r = run("cp llama2/70B_nope " + tmp.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("Invalid file name: llama2/70B_nope"), std::string::npos) << r.out;
}

TEST_F(Cli, CpCopiesARecipeSourceWithItsCMakeSnippet) {
  // A data folder standing in for an installation that ships a recipe source.
  fs::create_directories(tmp / "share/configs");
  fs::create_directories(tmp / "share/recipes");
  std::ofstream(tmp / "share/recipes/full_finetune_single_device.cpp") << "int main() {}\n";
  for (const char* shared : {"full_finetune.h", "full_finetune.cpp", "processes.cpp"})
    std::ofstream(tmp / "share/recipes" / shared) << "// " << shared << "\n";
  std::string env = "TTCPP_DATA_DIR=" + (tmp / "share").string();
  Result r =
      run("cp full_finetune_single_device " + (tmp / "out/my_recipe").string() + " --make-parents",
          env);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(read(tmp / "out/my_recipe.cpp"), "int main() {}\n");
  // The shared loop and its seam come along, and are built with it.
  EXPECT_EQ(read(tmp / "out/full_finetune.cpp"), "// full_finetune.cpp\n");
  EXPECT_EQ(read(tmp / "out/full_finetune.h"), "// full_finetune.h\n");
  EXPECT_EQ(read(tmp / "out/processes.cpp"), "// processes.cpp\n");
  std::string cmake = read(tmp / "out/CMakeLists.txt");
  EXPECT_NE(cmake.find("find_package(torchtune_cpp REQUIRED)"), std::string::npos);
  EXPECT_NE(cmake.find("add_executable(my_recipe my_recipe.cpp full_finetune.cpp processes.cpp)"),
            std::string::npos)
      << cmake;
  EXPECT_NE(cmake.find("torchtune_cpp::torchtune_cpp"), std::string::npos);
}

TEST_F(Cli, ValidateAcceptsAWellFormedConfig) {
  Result r = run("validate " + src("tests/assets/configs/valid_minimal.yaml"));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "Config is well-formed!\n");
  r = run("validate " + src("tests/assets/configs/echo/unused_key.yaml"));
  EXPECT_EQ(r.status, 1);  // echo.Greeting is not a component of `tune` itself
  EXPECT_NE(r.out.find("warning: "), std::string::npos);
  EXPECT_NE(r.out.find("top-level key 'batch_sise' is not read by this recipe"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("Did you mean 'batch_size'?"), std::string::npos) << r.out;
}

// Every file in tests/assets/configs/broken/ states its expected exit status and message
// parts in `# expect-exit:` / `# expect:` header lines.
TEST_F(Cli, BrokenConfigSetGivesExpectedMessages) {
  size_t count = 0;
  for (const auto& entry : fs::directory_iterator(src("tests/assets/configs/broken"))) {
    std::ifstream in(entry.path());
    std::string line;
    int want_exit = -1;
    std::vector<std::string> parts;
    std::vector<std::string> absent;
    while (std::getline(in, line) && line.rfind("# expect", 0) == 0) {
      if (line.rfind("# expect-exit: ", 0) == 0) want_exit = std::stoi(line.substr(15));
      if (line.rfind("# expect: ", 0) == 0) parts.push_back(line.substr(10));
      if (line.rfind("# expect-not: ", 0) == 0) absent.push_back(line.substr(14));
    }
    SCOPED_TRACE(entry.path().filename().string());
    ASSERT_GE(want_exit, 0) << "no '# expect-exit:' header";
    Result r = run("validate " + entry.path().string());
    EXPECT_EQ(r.status, want_exit) << r.out;
    EXPECT_EQ(r.out.find("terminate called"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.rfind("error: ", 0), 0u) << r.out;
    for (const std::string& p : parts)
      EXPECT_NE(r.out.find(p), std::string::npos) << "want: " << p << "\n got: " << r.out;
    for (const std::string& p : absent)
      EXPECT_EQ(r.out.find(p), std::string::npos) << "unwanted: " << p << "\n got: " << r.out;
    ++count;
  }
  EXPECT_GE(count, 17u);
}

TEST_F(Cli, RunStartsARecipeProgramWithOverrides) {
  std::string out_dir = (tmp / "out").string();
  Result r = run(std::string("run ") + TT_ECHO_RECIPE + " --config " +
                 src("tests/assets/configs/echo/greeting.yaml") + " output_dir=" + out_dir +
                 " greeting.loud=True");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("HELLO from " + out_dir + "\nHELLO from " + out_dir + "\n"),
            std::string::npos)
      << r.out;
  // The resolved config is printed at start, as torchtune's log_config prints it...
  EXPECT_NE(
      r.out.find(
          "Running echo_recipe with resolved config:\n\ngreeting:\n  _component_: echo.Greeting\n"
          "  loud: true\n  text: from " +
          out_dir + "\n"),
      std::string::npos)
      << r.out;
  // ...and the config as given (overrides merged, interpolations kept) is saved.
  EXPECT_EQ(
      read(tmp / "out" / "torchtune_config.yaml"),
      "output_dir: " + out_dir +
          "\ngreeting:\n  _component_: echo.Greeting\n  text: from ${output_dir}\n  times: 2\n"
          "  loud: true\n");
  EXPECT_FALSE(fs::exists(tmp / "out" / "torchtune_config.yaml.tmp"));
}

TEST_F(Cli, RunResolvesBuiltinConfigNames) {
  Result r = run(std::string("run ") + TT_ECHO_RECIPE + " --config llama2/7B_full");
  EXPECT_NE(r.out.find("config: "), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("config: \\S*share/torchtune_cpp/configs/llama2/7B_full\\.yaml\n")))
      << r.out;
}

TEST_F(Cli, RunErrors) {
  std::string echo = TT_ECHO_RECIPE;
  std::string cfg = src("tests/assets/configs/echo/greeting.yaml");
  struct Case {
    std::string args, want;
  };
  std::vector<Case> cases = {
      {"run " + echo + " output_dir=/x", "The '--config' argument is required."},
      {"run " + echo + " --config " + cfg + " --lr=1",
       "Additional flag arguments not supported: ['--lr=1']"},
      {"run " + echo + " --config " + cfg + " greeting.txt=x",
       "unexpected keyword argument 'txt'. Did you mean 'text'?"},
      {"run " + echo + " --config " + src("tests/assets/configs/echo/greeting_typo.yaml"),
       "3 problems in the config:"},
      {"run " + echo + " --config " + cfg + " ~greeting",
       "Removing components from CLI is not supported"},
      {"run " + echo + " --config " + cfg + " a=b=c", "must be in the form of key=value"},
      {"run " + echo + " --config /nonexistent.yaml",
       "/nonexistent.yaml: cannot open the config file"},
      {"run full_finetune_singel_device --config x", "Did you mean 'full_finetune_single_device'?"},
      {"run --nproc_per_node 2 full_finetune_single_device --config " + cfg,
       "Recipe full_finetune_single_device does not support distributed training"},
      {"run --nproc_per_node 2 --node_rank 1 " + echo + " --config " + cfg,
       "node rank 1 is not below --nnodes 1"},
      {"run --max_restarts 2 --nproc_per_node 2 " + echo + " --config " + cfg,
       "restarting failed workers is not supported"},
      {"run --bogus 1 " + echo, "unknown launcher option '--bogus'"},
      {"run " + cfg + " --config " + cfg, "is not an executable program"},
  };
  for (const Case& c : cases) {
    Result r = run(c.args);
    EXPECT_EQ(r.status, 1) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.want), std::string::npos)
        << c.args << "\nwant: " << c.want << "\n got: " << r.out;
  }
  Result typo =
      run("run " + echo + " --config " + src("tests/assets/configs/echo/greeting_typo.yaml"));
  EXPECT_NE(typo.out.find("greeting.txt (" + src("tests/assets/configs/echo/greeting_typo.yaml") +
                          ":4:8): "),
            std::string::npos)
      << typo.out;
  EXPECT_NE(typo.out.find("greeting.times (" + src("tests/assets/configs/echo/greeting_typo.yaml") +
                          ":5:10): echo.Greeting needs an integer"),
            std::string::npos)
      << typo.out;
}

// `tune run --nproc_per_node`: torchrun's environment for each worker, one launcher per node
// for multi-node runs, and a failing worker stops the others with its status.
TEST_F(Cli, LaunchesWorkersWithTorchrunsEnvironment) {
  const std::string echo = TT_ECHO_RECIPE;
  const std::string cfg = src("tests/assets/configs/echo/greeting.yaml");
  Result r = run("run --nproc_per_node 2 --master_port 29611 " + echo + " --config " + cfg);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("rank 0 of 2, local 0 of 2, master 127.0.0.1:29611 (torchrun)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("rank 1 of 2, local 1 of 2, master 127.0.0.1:29611 (torchrun)"),
            std::string::npos)
      << r.out;
  // Two nodes as two launchers on this machine.
  for (int node : {0, 1}) {
    Result n = run(tt::str("run --nnodes 2 --node_rank ", node,
                           " --nproc_per_node 2 --rdzv_endpoint localhost:29612 ", echo,
                           " --config ", cfg));
    ASSERT_EQ(n.status, 0) << n.out;
    for (int local : {0, 1})
      EXPECT_NE(n.out.find(tt::str("rank ", node * 2 + local, " of 4, local ", local,
                                   " of 2, master localhost:29612")),
                std::string::npos)
          << n.out;
  }
  // Rank 2 fails; the waiting others are stopped, and the launcher exits with its status.
  auto start = std::chrono::steady_clock::now();
  Result f =
      run("run --nproc_per_node 4 " + echo + " --config " + cfg, "ECHO_FAIL_RANK=2 ECHO_WAIT=1");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(f.status, 3) << f.out;
  EXPECT_NE(
      f.out.find(
          "tune run: rank 2 (local rank 2) exited with status 3; stopping the other 3 worker(s)"),
      std::string::npos)
      << f.out;
  EXPECT_LT(seconds, 30.0) << "the waiting workers were not stopped";
}

// ---- start-up checks: `tune validate` and `tune run` make the same ones, before any work

// `tune run <args>` from the source root, where the tiny config's relative paths resolve.
Result run_from_source(const std::string& args, const std::string& env = "") {
  return tt::testing::run_command("cd " + src("") + " && " + env + " " +
                                  std::string(TT_BINARY_DIR) + "/tune run " + args);
}

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// Every bad value is refused by `tune validate` (on the config with the value written in)
// and by `tune run` (given as an override), with the same message naming the key, exit
// status 1, and nothing written to output_dir.
TEST_F(Cli, StartupChecksAreTheSameInValidateAndRun) {
  struct Case {
    std::string overrides;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"log_every_n_steps=0", {"log_every_n_steps (", "must be at least 1, got 0"}},
      {"optimizer.lr=-1", {"optimizer.lr (", "Invalid learning rate: -1; it must be at least 0"}},
      {"optimizer.lr=.nan", {"optimizer.lr (", "Invalid learning rate: nan"}},
      {"optimizer.eps=-1e-8", {"optimizer.eps (", "Invalid epsilon value: -1e-08"}},
      {"optimizer.weight_decay=-0.1",
       {"optimizer.weight_decay (", "Invalid weight_decay value: -0.1"}},
      {"optimizer.betas=[0.9,1.0]",
       {"optimizer.betas (", "Invalid beta parameter at index 1: 1.0"}},
      {"optimizer=torch.optim.SGD optimizer.nesterov=True",
       {"Nesterov momentum requires a momentum and zero dampening"}},
      {"clip_grad_norm=-1", {"clip_grad_norm (", "must be greater than 0, got -1"}},
      {"tokenizer.max_seq_len=1", {"tokenizer.max_seq_len (", "must be at least 2, got 1"}},
      {"epochs=0", {"epochs (", "must be at least 1, got 0"}},
      {"epochs=-2", {"epochs (", "must be at least 1, got -2"}},
      {"max_steps_per_epoch=0", {"max_steps_per_epoch (", "must be at least 1, got 0"}},
      {"max_steps_per_epoch=-1", {"max_steps_per_epoch (", "must be at least 1, got -1"}},
      {"gradient_accumulation_steps=0",
       {"gradient_accumulation_steps (", "must be at least 1, got 0"}},
      {"save_every_n_steps=0", {"save_every_n_steps (", "must be at least 1, got 0"}},
      {"batch_size=99999999999999999999", {"batch_size (", "outside the 64-bit integer range"}},
      {"checkpointer.model_type=LLAMA3_2",
       {"checkpointer.model_type (", "model_type LLAMA3_2 is not supported"}},
      {"checkpointer.model_type=LAMA2", {"'LAMA2' is not a torchtune ModelType"}},
      {"dtype=fp16", {"dtype (", "full fp16 training is not supported with this recipe"}},
      {"device=tpu", {"device (", "'tpu' is not a device torchtune_cpp trains on"}},
      {"optimizer_in_bwd=True",
       {"clip_grad_norm (", "Gradient clipping is not supported with optimizer in bwd"}},
      {"collate_fn=torchtune.data.left_pad_sequence",
       {"left_pad_sequence collator is only for inference."}},
      {"ac_mode=selective ac_option=op",
       {"ac_option (", "'op' (selective checkpointing of operations) is not supported"}},
      {"enable_activation_checkpointing=True ac_mode=selective ac_option=2",
       {"ac_mode (", "is ignored when enable_activation_checkpointing is True"}},
      {"tokenizer=torchtune.models.llama3.llama3_tokenizer",
       {"tokenizer._component_ (",
        "is a torchtune tokenizer that torchtune_cpp does not provide yet"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.overrides);
    const fs::path out = tmp / "out";
    fs::remove_all(out);
    const fs::path config = tmp / "case.yaml";
    tt::config::Config cfg =
        tt::config::Config::load(src("configs/llama2/tiny_full.yaml"), split_words(c.overrides));
    std::ofstream(config) << tt::config::emit_yaml(cfg.raw(), tt::config::EmitOptions{2, false});
    Result v = run("validate " + config.string());
    Result r = run_from_source("full_finetune_single_device --config llama2/tiny_full output_dir=" +
                               out.string() + " " + c.overrides);
    for (const Result* res : {&v, &r}) {
      EXPECT_EQ(res->status, 1) << res->out;
      EXPECT_NE(res->out.find("error: "), std::string::npos) << res->out;
      for (const std::string& w : c.want)
        EXPECT_NE(res->out.find(w), std::string::npos) << "want: " << w << "\n" << res->out;
      EXPECT_EQ(res->out.find("make no full optimizer step"), std::string::npos)
          << res->out;  // not batch_size's
    }
    EXPECT_FALSE(fs::exists(out)) << "a start-up failure wrote to output_dir";
  }
}

// The distributed recipe makes the same checks (log_every_n_steps: 0 was a SIGFPE there too).
TEST_F(Cli, DistributedRecipeRefusesBadValuesAtStartup) {
  const fs::path out = tmp / "out";
  Result r = run_from_source(
      "--nproc_per_node 2 --master_port 29631 full_finetune_distributed --config llama2/tiny_full "
      "output_dir=" +
          out.string() + " log_every_n_steps=0",
      "OMP_NUM_THREADS=1");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("log_every_n_steps (command-line override 'log_every_n_steps=0'): must be "
                       "at least 1, got 0"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(out));
}

// A folder or an empty file as --config says so, rather than "missing required key 'device'".
TEST_F(Cli, FoldersAndEmptyConfigsAreNamed) {
  const fs::path empty = tmp / "empty.yaml";
  std::ofstream(empty) << "# nothing yet\n";
  for (const std::string& how :
       {std::string("validate "), std::string("run full_finetune_single_device --config ")}) {
    Result d = run(how + tmp.string());
    EXPECT_EQ(d.status, 1) << d.out;
    EXPECT_NE(d.out.find(tmp.string() + ": is a folder, not a config file"), std::string::npos)
        << d.out;
    Result e = run(how + empty.string());
    EXPECT_EQ(e.status, 1) << e.out;
    EXPECT_NE(e.out.find(empty.string() + ": the config file is empty"), std::string::npos)
        << e.out;
    for (const Result* res : {&d, &e})
      EXPECT_EQ(res->out.find("missing required key"), std::string::npos) << res->out;
  }
}

// A CUDA device that is not there is refused at start-up naming `device` (bf16 used to end
// in LibTorch's INTERNAL ASSERT); `tune validate`, which may run elsewhere, warns.
TEST_F(Cli, MissingCudaDeviceIsNamedAtStartup) {
  const int64_t gpus = tt::training::visible_cuda_devices();
  std::vector<std::string> cases = {"device=cuda:" + std::to_string(gpus) + " dtype=bf16"};
  if (gpus == 0) cases.push_back("device=cuda dtype=bf16");
  for (const std::string& c : cases) {
    const fs::path out = tmp / "out";
    Result r = run_from_source("full_finetune_single_device --config llama2/tiny_full output_dir=" +
                               out.string() + " " + c);
    EXPECT_EQ(r.status, 1) << c << "\n" << r.out;
    EXPECT_NE(r.out.find("error: device (command-line override"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(gpus == 0 ? "no CUDA device is visible" : "this process sees"),
              std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.find("INTERNAL ASSERT"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(out));
  }
  if (gpus == 0) {
    Result v = run("validate llama2/7B_full");
    EXPECT_EQ(v.status, 0) << v.out;
    EXPECT_NE(v.out.find("warning: device ("), std::string::npos) << v.out;
    EXPECT_NE(v.out.find("on this machine: 'cuda' was asked for"), std::string::npos) << v.out;
  }
}

// torchtune's recipes and configs that torchtune_cpp does not provide are named as such,
// with how to run them in Python torchtune on our checkpoints; no did-you-mean.
TEST_F(Cli, TorchtuneRecipesNotProvidedAreNamed) {
  for (const char* recipe :
       {"lora_finetune_single_device", "lora_finetune_distributed", "generate", "eleuther_eval",
        "quantize", "knowledge_distillation_single_device", "knowledge_distillation_distributed",
        "lora_dpo_single_device", "full_dpo_distributed", "ppo_full_finetune_single_device",
        "qat_distributed", "dev/generate_v2", "dev/grpo_full_finetune_distributed"}) {
    SCOPED_TRACE(recipe);
    Result r = run(std::string("run ") + recipe + " --config x.yaml");
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find(std::string("'") + recipe +
                         "' is a torchtune recipe that torchtune_cpp does not provide (yet)"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("checkpointer.checkpoint_dir=<our output_dir>/epoch_N"), std::string::npos)
        << r.out;
    EXPECT_EQ(r.out.find("Did you mean"), std::string::npos) << r.out;
  }
  Result cat = run("cat llama2/7B_lora");
  EXPECT_EQ(cat.status, 1);
  EXPECT_NE(
      cat.out.find("'llama2/7B_lora' is a config of torchtune's lora_finetune_distributed recipe"),
      std::string::npos)
      << cat.out;
  Result cp = run("cp llama2/7B_lora_single_device " + (tmp / "x.yaml").string());
  EXPECT_EQ(cp.status, 1);
  EXPECT_NE(cp.out.find("lora_finetune_single_device recipe, which torchtune_cpp does not provide"),
            std::string::npos)
      << cp.out;
  Result other = run("run full_finetune_single_device --config llama3/8B_full_single_device");
  EXPECT_EQ(other.status, 1);
  EXPECT_NE(other.out.find("is a config of torchtune's full_finetune_single_device that "
                           "torchtune_cpp does not ship"),
            std::string::npos)
      << other.out;
}

// Bad data and bad weights stop `tune run` naming the file, tensor or sample: a folder or
// an empty file as data_files (once blamed on batch_size), int32 or NaN weights (once
// trained on silently), token ids beyond the model's vocabulary (once "index out of range
// in self").
TEST_F(Cli, RunRefusesBadDataAndWeights) {
  const std::string base =
      "full_finetune_single_device --config llama2/tiny_full epochs=1 max_steps_per_epoch=1 "
      "output_dir=" +
      (tmp / "out").string() + " ";
  const fs::path empty = tmp / "empty.json";
  std::ofstream(empty) << "";
  // Checkpoints made from the tiny model: one tensor int32, one value NaN, the vocabulary cut to
  // 256.
  const tt::StateDict tiny =
      tt::checkpointing::SafetensorsFile(src("assets/tiny_llama2/model.safetensors")).state_dict();
  auto save = [&](const std::string& name, const std::function<void(tt::StateDict&)>& edit) {
    fs::create_directories(tmp / name);
    std::string json = read(src("assets/tiny_llama2/config.json"));
    if (name == "small_vocab")
      json = std::regex_replace(json, std::regex("\"vocab_size\": 512"), "\"vocab_size\": 256");
    std::ofstream(tmp / name / "config.json") << json;
    tt::StateDict sd;
    for (const auto& [k, t] : tiny) sd.emplace_back(k, t.clone());
    edit(sd);
    tt::checkpointing::save_safetensors((tmp / name / "model.safetensors").string(), sd);
    return " checkpointer.checkpoint_dir=" + (tmp / name).string();
  };
  const std::string int32 = save("int32", [](tt::StateDict& sd) {
    for (auto& [k, t] : sd)
      if (k == "model.norm.weight") t = t.to(at::kInt);
  });
  const std::string nan = save("nan", [](tt::StateDict& sd) {
    for (auto& [k, t] : sd)
      if (k == "model.layers.0.mlp.down_proj.weight")
        t[3][5] = std::numeric_limits<float>::quiet_NaN();
  });
  const std::string small_vocab = save("small_vocab", [](tt::StateDict& sd) {
    for (auto& [k, t] : sd)
      if (k == "model.embed_tokens.weight" || k == "lm_head.weight")
        t = t.slice(0, 0, 256).contiguous();
  });
  struct Case {
    std::string overrides;
    std::vector<std::string> want;
  };
  const std::vector<Case> cases = {
      {"dataset.data_files=" + tmp.string(),
       {"dataset.data_files", "'" + tmp.string() + "' is a folder"}},
      {"dataset.data_files=" + empty.string(),
       {"dataset.data_files", empty.string() + " holds no records"}},
      {"dataset.split=train[7:3]",
       {"error: dataset (", "the dataset has no samples: its split selects no records"}},
      {int32,
       {"norm.scale (" + (tmp / "int32").string() + "): the checkpoint stores this tensor as Int"}},
      {nan,
       {"layers.0.mlp.w2.weight (" + (tmp / "nan").string() +
        "): the checkpoint holds a non-finite value (nan"}},
      {small_vocab + " model.vocab_size=256",
       {"error: dataset sample ",
        "is outside the model's vocabulary of 256 ids (model.vocab_size (command-line override"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.overrides);
    Result r = run_from_source(base + c.overrides, "OMP_NUM_THREADS=1");
    EXPECT_EQ(r.status, 1) << r.out;
    for (const std::string& w : c.want)
      EXPECT_NE(r.out.find(w), std::string::npos) << "want: " << w << "\n" << r.out;
    EXPECT_EQ(r.out.find("make no full optimizer step"), std::string::npos)
        << "blamed on batch_size:\n"
        << r.out;
    EXPECT_EQ(r.out.find("index out of range"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("Loss:"), std::string::npos) << "trained on it:\n" << r.out;
  }
}

}  // namespace
