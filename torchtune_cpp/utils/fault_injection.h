// Test hooks for the failure paths of saving, read once from the environment:
//   TORCHTUNE_CPP_CRASH_AT=<point>[:<k>]         crash_point(point) kills the process (SIGKILL, no
//                                                clean-up, as a power loss or an OOM kill would)
//                                                the k-th time (default 1st) it reaches <point>
//   TORCHTUNE_CPP_FAIL_AT=enospc:<point>[:<k>]   fail_point(point) is true the k-th time <point>
//                                                is reached: the caller then fails that write
//                                                with ENOSPC, as a full disk would
//   TORCHTUNE_CPP_FREE_BYTES=<n>                 free_bytes_override(): free space reported
//                                                to the checks before a save
// The points are named where they are called (checkpointing/checkpoint_folder.cpp,
// checkpointer.cpp, checkpoint_paths.cpp and the writers); docs/testing.md lists them. Unset, each
// hook costs one getenv.
#pragma once

#include <cstdint>
#include <optional>

namespace tt::fault {

void crash_point(const char* point);
bool fail_point(const char* point);
std::optional<uint64_t> free_bytes_override();

}  // namespace tt::fault
