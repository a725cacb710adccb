// Error type, formatting and the top-level exception barrier behind TT_CHECK.
#include "torchtune_cpp/utils/check.h"

#include <cstdlib>
#include <exception>
#include <iostream>

namespace tt {

namespace {
std::string join_where(const std::string& where, const std::string& message) {
  return where.empty() ? message : where + ": " + message;
}
bool debug_enabled() {
  const char* v = std::getenv("TTCPP_DEBUG");
  return v != nullptr && std::string(v) != "" && std::string(v) != "0";
}
}  // namespace

Error::Error(std::string where, std::string message, std::string condition, std::string source)
    : std::runtime_error(join_where(where, message)),
      where_(std::move(where)),
      message_(std::move(message)),
      condition_(std::move(condition)),
      source_(std::move(source)) {}

namespace detail {
void fail(const char* condition, const char* file, int line, std::string where,
          std::string message) {
  throw Error(std::move(where), std::move(message), condition, str(file, ":", line));
}
}  // namespace detail

std::string describe(const Error& error) {
  std::string text = str("error: ", error.what());
  if (debug_enabled() && !error.condition().empty()) {
    text += str("\n  (failed check `", error.condition(), "` at ", error.source(), ")");
  }
  return text;
}

int run_main(const char* program, const std::function<int(int, char**)>& body, int argc,
             char** argv) {
  try {
    return body(argc, argv);
  } catch (const Error& e) {
    std::cerr << describe(e) << "\n";
  } catch (const std::exception& e) {
    // Library errors (LibTorch's c10::Error, yaml-cpp, std::filesystem) carry their own
    // text; keep only the first line so users see the reason, not a backtrace.
    std::string what = e.what();
    std::string first = what.substr(0, what.find('\n'));
    std::cerr << "error: " << program << ": " << first << "\n";
    if (debug_enabled()) std::cerr << what << "\n";
  }
  return 1;
}

}  // namespace tt
