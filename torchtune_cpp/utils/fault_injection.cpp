// The environment-driven test hooks; see fault_injection.h.
#include "torchtune_cpp/utils/fault_injection.h"

#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <string>

namespace tt::fault {

namespace {

// "<point>[:<k>]" -> does `point` match, and is this its k-th hit?
bool hit(const char* spec, const char* point, std::atomic<int>& hits) {
  if (spec == nullptr || *spec == '\0') return false;
  const std::string s(spec);
  std::string name = s;
  int k = 1;
  if (const size_t colon = s.find(':'); colon != std::string::npos) {
    name = s.substr(0, colon);
    k = std::atoi(s.c_str() + colon + 1);
  }
  return name == point && ++hits == k;
}

}  // namespace

void crash_point(const char* point) {
  static const char* spec = std::getenv("TORCHTUNE_CPP_CRASH_AT");
  static std::atomic<int> hits{0};
  if (hit(spec, point, hits)) ::raise(SIGKILL);
}

bool fail_point(const char* point) {
  static const char* spec = [] {
    const char* v = std::getenv("TORCHTUNE_CPP_FAIL_AT");
    // The one failure injected so far is a full disk.
    return v != nullptr && std::string(v).rfind("enospc:", 0) == 0 ? v + 7 : nullptr;
  }();
  static std::atomic<int> hits{0};
  return hit(spec, point, hits);
}

std::optional<uint64_t> free_bytes_override() {
  static const char* v = std::getenv("TORCHTUNE_CPP_FREE_BYTES");
  if (v == nullptr || *v == '\0') return std::nullopt;
  return static_cast<uint64_t>(std::strtoull(v, nullptr, 10));
}

}  // namespace tt::fault
