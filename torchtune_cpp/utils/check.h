// The one way torchtune_cpp reports bad input: TT_CHECK(cond, where, message...).
//
// `where` names what the user must look at (a file, file:line:column, a config key, a
// command-line argument); the message says what is wrong and what to change. A failed
// check throws tt::Error, which `tune` and every recipe catch at the top and print as
//   error: <where>: <message>
// with exit status 1, never a stack dump. TTCPP_DEBUG=1 adds the C++ condition and the
// source position, for reporting bugs.
#pragma once

#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>

namespace tt {

class Error : public std::runtime_error {
 public:
  Error(std::string where, std::string message, std::string condition = {},
        std::string source = {});

  const std::string& where() const { return where_; }
  const std::string& message() const { return message_; }
  const std::string& condition() const { return condition_; }
  const std::string& source() const { return source_; }

 private:
  std::string where_;
  std::string message_;
  std::string condition_;
  std::string source_;
};

namespace detail {
inline void append(std::ostringstream&) {}
template <class T, class... Rest>
void append(std::ostringstream& out, const T& first, const Rest&... rest) {
  out << first;
  append(out, rest...);
}
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  append(out, parts...);
  return out.str();
}
[[noreturn]] void fail(const char* condition, const char* file, int line, std::string where,
                       std::string message);
}  // namespace detail

// Builds a string from any streamable parts: tt::str("expected ", n, " files").
template <class... Parts>
std::string str(const Parts&... parts) {
  return detail::concat(parts...);
}

// Formats an error for the terminal: "error: where: message" plus the debug details when
// TTCPP_DEBUG is set.
std::string describe(const Error& error);

// Runs `body` and turns every exception into a printed error and exit status 1. Used by
// main() of `tune` and of every recipe so no user mistake ends in std::terminate.
int run_main(const char* program, const std::function<int(int, char**)>& body, int argc,
             char** argv);

}  // namespace tt

#define TT_CHECK(cond, where, ...)                                                    \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      ::tt::detail::fail(#cond, __FILE__, __LINE__, (where), ::tt::str(__VA_ARGS__)); \
    }                                                                                 \
  } while (0)
