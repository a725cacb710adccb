// `tune`: torchtune's command line (ls, cp, cat, validate, run) for torchtune_cpp.
#include <iostream>

#include "torchtune_cpp/cli/commands.h"
#include "torchtune_cpp/cli/paths.h"
#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/strings.h"

namespace tt::cli {

namespace {
const char* kUsage =
    "usage: tune [-h] {ls,cp,cat,validate,run,download} ...\n\n"
    "Welcome to torchtune_cpp, the C++ runner for torchtune's full fine-tuning recipes.\n\n"
    "subcommands:\n"
    "  ls        List all built-in recipes and configs\n"
    "  cp        Copy a built-in recipe or config to a local path\n"
    "  cat       Print out the contents of a config\n"
    "  validate  Validate a config and ensure that it is well-formed\n"
    "  run       Run a recipe; supports single-process and multi-process launches\n"
    "  download  (not provided) fetch checkpoints with Python tools, then point\n"
    "            checkpointer.checkpoint_dir at them\n\n"
    "Run `tune <subcommand> --help` for the options of each.\n";
}

int tune_main(const Args& args) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    std::cout << kUsage;
    return args.empty() ? 2 : 0;
  }
  // The embedded default's config finds its files through TTCPP_ASSETS_DIR (cli/paths.h).
  export_assets_dir();
  const std::string& sub = args[0];
  Args rest(args.begin() + 1, args.end());
  if (sub == "ls") return cmd_ls(rest);
  if (sub == "cp") return cmd_cp(rest);
  if (sub == "cat") return cmd_cat(rest);
  if (sub == "validate") return cmd_validate(rest);
  if (sub == "run") return cmd_run(rest);
  TT_CHECK(sub != "download", "tune download",
           "downloading is not part of torchtune_cpp (it has no network code). Fetch the model "
           "with Python torchtune's `tune download` or `huggingface-cli download`, then set "
           "checkpointer.checkpoint_dir to that folder (a hub id such as "
           "meta-llama/Llama-2-7b-hf is also resolved from the local Hugging Face cache)");
  throw Error("tune", str("unknown subcommand '", sub, "'.",
                          did_you_mean(sub, {"ls", "cp", "cat", "validate", "run"}),
                          " Run `tune --help` for the list."));
}

}  // namespace tt::cli
