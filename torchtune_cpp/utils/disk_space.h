// Free space, and the error a full disk gives, for everything that writes checkpoints.
//
// A save checks the free space before it writes (it knows how many bytes it will write), and
// a write that still fails for lack of space (another process filled the disk meanwhile, a
// quota) throws NoSpaceError, which the save turns into one line saying how much it needed.
#pragma once

#include <cstdint>
#include <string>

#include "torchtune_cpp/utils/check.h"

namespace tt {

// A write refused for lack of space (ENOSPC, or EDQUOT for a quota).
class NoSpaceError : public Error {
 public:
  using Error::Error;
};

bool is_no_space(int err);

// Bytes this process may still write on the file system holding `path` (or its nearest
// existing parent): statvfs's f_bavail * f_frsize. TORCHTUNE_CPP_FREE_BYTES=<n> overrides it
// (a test hook, utils/fault_injection.h).
uint64_t free_bytes(const std::string& path);

// "12.5 GiB", "640.0 KiB", "17 bytes".
std::string format_bytes(uint64_t bytes);

// Throws for a failed write of `path`: NoSpaceError for ENOSPC/EDQUOT ("no space left on the
// device"), else a tt::Error with `what` and strerror(err).
[[noreturn]] void throw_write_error(const std::string& path, const std::string& what, int err);

}  // namespace tt
