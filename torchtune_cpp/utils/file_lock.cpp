// flock() on a file in the folder; see file_lock.h.
#include "torchtune_cpp/utils/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "torchtune_cpp/utils/check.h"

namespace tt {

const char* const kDirectoryLockFile = ".torchtune_cpp.lock";

namespace {

std::string read_all(int fd) {
  std::string text;
  char buf[256];
  ssize_t n = 0;
  off_t at = 0;
  while ((n = ::pread(fd, buf, sizeof buf, at)) > 0) {
    text.append(buf, static_cast<size_t>(n));
    at += n;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::string host_name() {
  char name[256] = {0};
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

}  // namespace

DirectoryLock::DirectoryLock(const std::string& dir, const std::string& key) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  TT_CHECK(!ec, dir, "cannot create the output directory: ", ec.message(), "; choose a writable ",
           key);
  path_ = (fs::path(dir) / kDirectoryLockFile).string();
  // The file may be replaced between open() and flock() (its holder removes it on exit):
  // the lock counts only when it is on the file that is there now.
  for (int attempt = 0;; ++attempt) {
    // O_CLOEXEC: a post_save_command or other child must not inherit (and keep) the lock.
    const int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    TT_CHECK(fd >= 0, path_, "cannot create the lock file: ", std::strerror(errno),
             "; choose a writable ", key);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err == EINTR) {
        ::close(fd);
        continue;
      }
      if (err != EWOULDBLOCK) {
        ::close(fd);
        TT_CHECK(false, path_, "cannot lock ", dir, ": ", std::strerror(err),
                 " (the file system may not support locks); choose another ", key);
      }
      // The holder writes its name right after locking: give it a moment.
      std::string holder = read_all(fd);
      for (int i = 0; holder.empty() && i < 20; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        holder = read_all(fd);
      }
      ::close(fd);
      TT_CHECK(false, dir, "is in use by another run (",
               holder.empty() ? "a process that is starting" : holder, "); two runs writing one ",
               key,
               " would mix their checkpoints and config. Wait for that run to finish, stop it, or "
               "choose another ",
               key);
    }
    struct stat held {
    }, now{};
    if (::fstat(fd, &held) == 0 && ::stat(path_.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
        held.st_dev == now.st_dev) {
      fd_ = fd;
      break;
    }
    ::close(fd);
    TT_CHECK(attempt < 100, path_,
             "the lock file keeps being replaced; is another run starting and stopping in ", dir,
             "?");
  }
  const std::string me = str("pid ", ::getpid(), " on host ", host_name());
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, (me + "\n").data(), me.size() + 1, 0) < 0) {
    // The lock itself is held; only the name for others' messages is missing.
  }
}

DirectoryLock::~DirectoryLock() {
  if (fd_ < 0) return;
  ::unlink(
      path_.c_str());  // while still holding it: a waiting process sees the file gone and retries
  ::close(fd_);
}

std::vector<std::unique_ptr<DirectoryLock>> lock_directories(
    const std::vector<std::pair<std::string, std::string>>& dirs) {
  namespace fs = std::filesystem;
  std::vector<std::unique_ptr<DirectoryLock>> locks;
  std::vector<fs::path> seen;
  for (const auto& [dir, key] : dirs) {
    const fs::path canonical = fs::weakly_canonical(fs::absolute(dir));
    if (std::find(seen.begin(), seen.end(), canonical) != seen.end()) continue;
    seen.push_back(canonical);
    locks.push_back(std::make_unique<DirectoryLock>(dir, key));
  }
  return locks;
}

}  // namespace tt
