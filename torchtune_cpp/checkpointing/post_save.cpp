// The post_save_command process: started after a save, waited for before the next one; see
// post_save.h.
#include "torchtune_cpp/checkpointing/post_save.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "torchtune_cpp/checkpointing/checkpoint_internal.h"
#include "torchtune_cpp/utils/check.h"

extern char** environ;

namespace tt::checkpointing {

using checkpoint_internal::log_info;

PostSaveCommand::PostSaveCommand(std::optional<std::string> command)
    : command_(std::move(command)) {}

void PostSaveCommand::start(const std::string& folder) {
  if (!command_ || command_->empty()) return;
  wait();  // one hook at a time; the checkpoint itself is already complete
  // sh -c '<command> "$1"' post_save_command <folder>: the folder arrives as one argument,
  // whatever characters its path holds.
  const std::string script = *command_ + " \"$1\"";
  std::vector<std::string> args = {"/bin/sh", "-c", script, "post_save_command", folder};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // In its own process group, so a Ctrl-C meant for training does not cut an upload short;
  // the folder is also in TORCHTUNE_CHECKPOINT_DIR for commands that cannot take it last.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("TORCHTUNE_CHECKPOINT_DIR=" + folder);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, "/bin/sh", nullptr, &attr, argv.data(), envp.data());
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    log_info(str("WARNING: post_save_command could not start (", std::strerror(rc),
                 "); the checkpoint ", folder, " is unaffected"));
    return;
  }
  log_info(str("post_save_command started for ", folder));
  pid_ = pid;
  folder_ = folder;
}

void PostSaveCommand::wait() {
  if (pid_ < 0) return;
  int status = 0;
  pid_t pid = pid_;
  pid_ = -1;
  pid_t r = -1;
  while ((r = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (r < 0) {
    log_info(str("WARNING: could not wait for post_save_command on ", folder_, " (",
                 std::strerror(errno), "); its outcome is unknown"));
    return;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  log_info(str("WARNING: post_save_command failed for ", folder_, " (",
               WIFEXITED(status) ? str("exit status ", WEXITSTATUS(status))
                                 : str("signal ", WTERMSIG(status)),
               "); training goes on and the checkpoint is unaffected"));
}

}  // namespace tt::checkpointing
