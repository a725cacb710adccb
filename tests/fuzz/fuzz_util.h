// What the fuzz harnesses share: the input written to a scratch file (the readers take paths,
// as they do in use), and the rule that decides what is a finding.
//
// A tt::Error is a reader refusing bad input: the expected outcome. Anything else that leaves
// a reader is a finding, reported by abort() so that libFuzzer (or the replay test) keeps the
// input: another exception (a std::out_of_range or c10::Error escaping means a check is
// missing and the user would see a library's message without file or line; std::bad_alloc
// means a limit is missing), a crash, a sanitizer report, a hang (-timeout) or memory beyond
// -rss_limit_mb. Each harness also checks properties of what a reader accepted (FUZZ_CHECK).
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "torchtune_cpp/utils/check.h"

namespace tt::fuzz {

// A file of this process's own, in memory (/dev/shm) where there is one.
inline std::string scratch_path(const std::string& name) {
  struct stat st {};
  const bool shm =
      ::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && ::access("/dev/shm", W_OK) == 0;
  const char* tmp = std::getenv("TMPDIR");
  const std::string dir = shm ? "/dev/shm" : (tmp != nullptr && *tmp != '\0' ? tmp : "/tmp");
  return dir + "/tt_fuzz_" + std::to_string(::getpid()) + "_" + name;
}

inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
}

// Runs one reader call under the outcome rule above.
template <class Body>
void run_one(const char* what, Body&& body) {
  try {
    body();
  } catch (const tt::Error&) {
    // the reader refused the input, as it should refuse bad input
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: an exception other than tt::Error escaped: %s\n", what, e.what());
    std::abort();
  }
}

}  // namespace tt::fuzz

// A property of accepted input that must hold; a finding when it does not.
#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

// Each harness defines tt_fuzz_<name>(data, size); built as a libFuzzer program (TT_FUZZ_MAIN)
// it is also the program's LLVMFuzzerTestOneInput, and the replay program calls it by name.
#ifdef TT_FUZZ_MAIN
#define TT_FUZZ_ENTRY(name)                                                 \
  extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { \
    return tt_fuzz_##name(data, size);                                      \
  }
#else
#define TT_FUZZ_ENTRY(name)
#endif
