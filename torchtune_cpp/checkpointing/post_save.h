// post_save_command: a shell command run in the background after each save with the saved
// folder's path (uploads, registries). Its failure is reported, never fatal: the checkpoint
// is complete before it starts.
#pragma once

#include <optional>
#include <string>

namespace tt::checkpointing {

// One command at a time: start() first waits for the previous run.
class PostSaveCommand {
 public:
  // No command (or an empty one): start() does nothing.
  explicit PostSaveCommand(std::optional<std::string> command);

  // Runs `sh -c '<command> "$1"' post_save_command <folder>` in its own process group (a
  // Ctrl-C meant for training does not cut an upload short), with the folder also in
  // TORCHTUNE_CHECKPOINT_DIR.
  void start(const std::string& folder);
  // Waits for a running command and reports a failure on stderr; the owner calls it before
  // exiting (and before removing folders the command may still read).
  void wait();

 private:
  std::optional<std::string> command_;
  int pid_ = -1;
  std::string folder_;
};

}  // namespace tt::checkpointing
