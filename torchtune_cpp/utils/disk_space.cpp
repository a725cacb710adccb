// statvfs and full-disk errors; see disk_space.h.
#include "torchtune_cpp/utils/disk_space.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "torchtune_cpp/utils/fault_injection.h"

namespace tt {

bool is_no_space(int err) {
  return err == ENOSPC || err == EDQUOT;
}

uint64_t free_bytes(const std::string& path) {
  if (std::optional<uint64_t> fake = fault::free_bytes_override()) return *fake;
  namespace fs = std::filesystem;
  fs::path p = fs::absolute(path);
  std::error_code ec;
  while (!fs::exists(p, ec) && p.has_parent_path() && p != p.parent_path()) p = p.parent_path();
  struct statvfs st {};
  if (::statvfs(p.c_str(), &st) != 0) return UINT64_MAX;  // unknown: let the write decide
  return static_cast<uint64_t>(st.f_bavail) * static_cast<uint64_t>(st.f_frsize);
}

std::string format_bytes(uint64_t bytes) {
  static const char* const kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return str(bytes, " bytes");
  double v = static_cast<double>(bytes) / 1024.0;
  int unit = 0;
  while (v >= 1024.0 && unit < 3) {
    v /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", v, kUnits[unit]);
  return text;
}

void throw_write_error(const std::string& path, const std::string& what, int err) {
  if (is_no_space(err))
    throw NoSpaceError(
        path, str(what, ": no space left on the device (", std::strerror(err), "); ",
                  format_bytes(free_bytes(path)), " free there; free space or write elsewhere"));
  throw Error(path, str(what, ": ", std::strerror(err)));
}

}  // namespace tt
