// `tune` end to end: every subcommand run as a user runs it, checking output, files and
// exit status; the committed broken configs each give their expected message.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <chrono>

#include "common/command.h"
#include "torchtune_cpp/utils/check.h"

namespace {

namespace fs = std::filesystem;

using Result = tt::testing::CommandResult;

// `tune <args>` with optional environment assignments in front.
Result run(const std::string& args, const std::string& env = "") {
  return tt::testing::run_command(env + " " + std::string(TT_BINARY_DIR) + "/tune " + args);
}

std::string src(const std::string& rel) { return std::string(TT_SOURCE_DIR) + "/" + rel; }

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
    tmp = fs::temp_directory_path() /
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
  EXPECT_NE(r.out.find("full_finetune_single_device              llama2/7B_full_low_memory"), std::string::npos);
  EXPECT_NE(r.out.find("full_finetune_distributed                llama2/7B_full"), std::string::npos);
  EXPECT_NE(r.out.find("\n                                         llama2/13B_full"), std::string::npos);
}

TEST_F(Cli, LsComponentsListsTheRegistry) {
  Result r = run("ls --components");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("torchtune.models.llama2.llama2_7b"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("torchtune.models.llama2.llama2_tokenizer"), std::string::npos) << r.out;
}

TEST_F(Cli, HelpEverywhereAndUnknownSubcommand) {
  for (const char* sub : {"--help", "ls --help", "cp --help", "cat --help", "validate --help", "run --help"}) {
    Result r = run(sub);
    EXPECT_EQ(r.status, 0) << sub << ": " << r.out;
    EXPECT_NE(r.out.find("usage: tune"), std::string::npos) << sub;
  }
  Result r = run("valdate x");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("error: tune: unknown subcommand 'valdate'. Did you mean 'validate'?"), std::string::npos) << r.out;
  r = run("download meta-llama/Llama-2-7b-hf");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("checkpointer.checkpoint_dir"), std::string::npos) << r.out;
}

TEST_F(Cli, CatPrintsBuiltinConfigs) {
  Result r = run("cat llama2/7B_full");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("model:\n    _component_: torchtune.models.llama2.llama2_7b\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("    checkpoint_files:\n    - pytorch_model-00001-of-00002.bin\n"), std::string::npos);
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
  EXPECT_NE(r.out.find("Copied file to " + (tmp / "mine.yaml").string()), std::string::npos) << r.out;
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
  std::string env = "TTCPP_DATA_DIR=" + (tmp / "share").string();
  Result r = run("cp full_finetune_single_device " + (tmp / "out/my_recipe").string() + " --make-parents", env);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(read(tmp / "out/my_recipe.cpp"), "int main() {}\n");
  std::string cmake = read(tmp / "out/CMakeLists.txt");
  EXPECT_NE(cmake.find("find_package(torchtune_cpp REQUIRED)"), std::string::npos);
  EXPECT_NE(cmake.find("add_executable(my_recipe my_recipe.cpp)"), std::string::npos);
  EXPECT_NE(cmake.find("torchtune_cpp::torchtune_cpp"), std::string::npos);
}

TEST_F(Cli, ValidateAcceptsAWellFormedConfig) {
  Result r = run("validate " + src("tests/assets/configs/valid_minimal.yaml"));
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "Config is well-formed!\n");
  r = run("validate " + src("tests/assets/configs/echo/unused_key.yaml"));
  EXPECT_EQ(r.status, 1);  // echo.Greeting is not a component of `tune` itself
  EXPECT_NE(r.out.find("warning: "), std::string::npos);
  EXPECT_NE(r.out.find("top-level key 'batch_sise' is not read by this recipe"), std::string::npos) << r.out;
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
    while (std::getline(in, line) && line.rfind("# expect", 0) == 0) {
      if (line.rfind("# expect-exit: ", 0) == 0) want_exit = std::stoi(line.substr(15));
      if (line.rfind("# expect: ", 0) == 0) parts.push_back(line.substr(10));
    }
    SCOPED_TRACE(entry.path().filename().string());
    ASSERT_GE(want_exit, 0) << "no '# expect-exit:' header";
    Result r = run("validate " + entry.path().string());
    EXPECT_EQ(r.status, want_exit) << r.out;
    EXPECT_EQ(r.out.find("terminate called"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.rfind("error: ", 0), 0u) << r.out;
    for (const std::string& p : parts) EXPECT_NE(r.out.find(p), std::string::npos) << "want: " << p << "\n got: " << r.out;
    ++count;
  }
  EXPECT_GE(count, 9u);
}

TEST_F(Cli, RunStartsARecipeProgramWithOverrides) {
  std::string out_dir = (tmp / "out").string();
  Result r = run(std::string("run ") + TT_ECHO_RECIPE + " --config " +
                 src("tests/assets/configs/echo/greeting.yaml") + " output_dir=" + out_dir +
                 " greeting.loud=True");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("HELLO from " + out_dir + "\nHELLO from " + out_dir + "\n"), std::string::npos) << r.out;
  // The resolved config is printed at start, as torchtune's log_config prints it...
  EXPECT_NE(r.out.find("Running echo_recipe with resolved config:\n\ngreeting:\n  _component_: echo.Greeting\n"
                       "  loud: true\n  text: from " + out_dir + "\n"),
            std::string::npos) << r.out;
  // ...and the config as given (overrides merged, interpolations kept) is saved.
  EXPECT_EQ(read(tmp / "out" / "torchtune_config.yaml"),
            "output_dir: " + out_dir +
                "\ngreeting:\n  _component_: echo.Greeting\n  text: from ${output_dir}\n  times: 2\n"
                "  loud: true\n");
  EXPECT_FALSE(fs::exists(tmp / "out" / "torchtune_config.yaml.tmp"));
}

TEST_F(Cli, RunResolvesBuiltinConfigNames) {
  Result r = run(std::string("run ") + TT_ECHO_RECIPE + " --config llama2/7B_full");
  EXPECT_NE(r.out.find("config: "), std::string::npos) << r.out;
  EXPECT_TRUE(std::regex_search(r.out, std::regex("config: \\S*share/torchtune_cpp/configs/llama2/7B_full\\.yaml\n"))) << r.out;
}

TEST_F(Cli, RunErrors) {
  std::string echo = TT_ECHO_RECIPE;
  std::string cfg = src("tests/assets/configs/echo/greeting.yaml");
  struct Case {
    std::string args, want;
  };
  std::vector<Case> cases = {
      {"run " + echo + " output_dir=/x", "The '--config' argument is required."},
      {"run " + echo + " --config " + cfg + " --lr=1", "Additional flag arguments not supported: ['--lr=1']"},
      {"run " + echo + " --config " + cfg + " greeting.txt=x", "unexpected keyword argument 'txt'. Did you mean 'text'?"},
      {"run " + echo + " --config " + src("tests/assets/configs/echo/greeting_typo.yaml"),
       "3 problems in the config:"},
      {"run " + echo + " --config " + cfg + " ~greeting", "Removing components from CLI is not supported"},
      {"run " + echo + " --config " + cfg + " a=b=c", "must be in the form of key=value"},
      {"run " + echo + " --config /nonexistent.yaml", "/nonexistent.yaml: cannot open the config file"},
      {"run full_finetune_singel_device --config x", "Did you mean 'full_finetune_single_device'?"},
      {"run --nproc_per_node 2 full_finetune_single_device --config " + cfg,
       "Recipe full_finetune_single_device does not support distributed training"},
      {"run --nproc_per_node 2 --node_rank 1 " + echo + " --config " + cfg, "node rank 1 is not below --nnodes 1"},
      {"run --max_restarts 2 --nproc_per_node 2 " + echo + " --config " + cfg, "restarting failed workers is not supported"},
      {"run --bogus 1 " + echo, "unknown launcher option '--bogus'"},
      {"run " + cfg + " --config " + cfg, "is not an executable program"},
  };
  for (const Case& c : cases) {
    Result r = run(c.args);
    EXPECT_EQ(r.status, 1) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.want), std::string::npos) << c.args << "\nwant: " << c.want << "\n got: " << r.out;
  }
  Result typo = run("run " + echo + " --config " + src("tests/assets/configs/echo/greeting_typo.yaml"));
  EXPECT_NE(typo.out.find("greeting_typo.yaml:4:8: greeting.txt"), std::string::npos) << typo.out;
  EXPECT_NE(typo.out.find("greeting_typo.yaml:5:10: greeting.times: echo.Greeting needs an integer"), std::string::npos)
      << typo.out;
}

// `tune run --nproc_per_node`: torchrun's environment for each worker, one launcher per node
// for multi-node runs, and a failing worker stops the others with its status.
TEST_F(Cli, LaunchesWorkersWithTorchrunsEnvironment) {
  const std::string echo = TT_ECHO_RECIPE;
  const std::string cfg = src("tests/assets/configs/echo/greeting.yaml");
  Result r = run("run --nproc_per_node 2 --master_port 29611 " + echo + " --config " + cfg);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("rank 0 of 2, local 0 of 2, master 127.0.0.1:29611 (torchrun)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("rank 1 of 2, local 1 of 2, master 127.0.0.1:29611 (torchrun)"), std::string::npos) << r.out;
  // Two nodes as two launchers on this machine.
  for (int node : {0, 1}) {
    Result n = run(tt::str("run --nnodes 2 --node_rank ", node, " --nproc_per_node 2 --rdzv_endpoint localhost:29612 ",
                       echo, " --config ", cfg));
    ASSERT_EQ(n.status, 0) << n.out;
    for (int local : {0, 1})
      EXPECT_NE(n.out.find(tt::str("rank ", node * 2 + local, " of 4, local ", local, " of 2, master localhost:29612")),
                std::string::npos)
          << n.out;
  }
  // Rank 2 fails; the waiting others are stopped, and the launcher exits with its status.
  auto start = std::chrono::steady_clock::now();
  Result f = run("run --nproc_per_node 4 " + echo + " --config " + cfg, "ECHO_FAIL_RANK=2 ECHO_WAIT=1");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(f.status, 3) << f.out;
  EXPECT_NE(f.out.find("tune run: rank 2 (local rank 2) exited with status 3; stopping the other 3 worker(s)"),
            std::string::npos)
      << f.out;
  EXPECT_LT(seconds, 30.0) << "the waiting workers were not stopped";
}

}  // namespace
