// Entry point of the `tune` executable.
#include "torchtune_cpp/cli/commands.h"
#include "torchtune_cpp/utils/check.h"

namespace {
int tune_body(int argc, char** argv) {
  return tt::cli::tune_main(tt::cli::Args(argv + 1, argv + argc));
}
}  // namespace

int main(int argc, char** argv) {
  return tt::run_main("tune", tune_body, argc, argv);
}
