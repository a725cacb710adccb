// One run per output_dir at a time: an exclusive flock() on <dir>/.torchtune_cpp.lock, held
// for the life of the run.
//
// The file holds the holder's host and pid, so a second run says who is in the way. The
// kernel drops the lock when its process ends, however it ends (SIGKILL, OOM kill, power
// loss of a client): a stale file never blocks a later run, it is simply taken over. The
// holder removes the file when it lets go. On NFS, Linux's flock() is a whole-file POSIX
// lock, seen by every client.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tt {

class DirectoryLock {
 public:
  // Creates `dir` if needed and takes its lock, or throws a tt::Error naming `dir` and the
  // host and pid of the process holding it. `key` is the config key to suggest changing.
  DirectoryLock(const std::string& dir, const std::string& key);
  ~DirectoryLock();  // removes the file, then releases the lock
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

// Locks each distinct folder of (folder, config key) pairs, e.g. the config's output_dir and
// the checkpointer's (usually the same folder, then locked once).
std::vector<std::unique_ptr<DirectoryLock>> lock_directories(
    const std::vector<std::pair<std::string, std::string>>& dirs);

// The lock file's name inside the folder it guards.
extern const char* const kDirectoryLockFile;

}  // namespace tt
