// Did-you-mean suggestions, joining, and Python's text of a float.
#include "torchtune_cpp/utils/strings.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace tt {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (std::tolower(a[i - 1]) == std::tolower(b[j - 1]) ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

namespace {
std::string last_segment(const std::string& s) {
  size_t dot = s.rfind('.');
  return dot == std::string::npos ? s : s.substr(dot + 1);
}
}  // namespace

std::vector<std::string> closest_matches(const std::string& word,
                                         const std::vector<std::string>& candidates,
                                         size_t max_count) {
  std::vector<std::pair<size_t, std::string>> scored;
  std::string tail = last_segment(word);
  for (const std::string& c : candidates) {
    size_t d = edit_distance(word, c);
    // A typo is judged against the name's last dotted segment, so long module paths do not
    // make unrelated names look close ("...DiskLogger" is no typo of "...WandBLogger").
    size_t limit = std::max<size_t>(2, tail.size() / 3);
    if (d <= limit) {
      scored.emplace_back(d, c);
    } else if (!tail.empty() &&
               edit_distance(tail, last_segment(c)) <= std::max<size_t>(1, tail.size() / 4)) {
      scored.emplace_back(limit + edit_distance(tail, last_segment(c)) + 1, c);
    }
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (const auto& s : scored) {
    if (out.size() >= max_count) break;
    out.push_back(s.second);
  }
  return out;
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  std::vector<std::string> close = closest_matches(word, candidates);
  if (close.empty()) return "";
  for (auto& c : close) c = "'" + c + "'";
  return " Did you mean " + join(close, " or ") + "?";
}

std::string python_float_str(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  // Shortest digits that read back as v, the digits Python's repr picks.
  std::array<char, 64> buf{};
  auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v, std::chars_format::scientific);
  std::string s(buf.data(), res.ptr);  // "-1.2345e-05", "1e+16"
  bool negative = s[0] == '-';
  if (negative) s.erase(0, 1);
  size_t e = s.find('e');
  int exponent = std::atoi(s.c_str() + e + 1);
  std::string digits = s.substr(0, 1) + (e > 2 ? s.substr(2, e - 2) : "");
  std::string out;
  if (exponent >= -4 && exponent < 16) {  // repr's switch to exponent notation
    if (exponent < 0) {
      out = "0." + std::string(-exponent - 1, '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exponent + 1) {
      out = digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
    }
  } else {
    out = digits.substr(0, 1) + (digits.size() > 1 ? "." + digits.substr(1) : "");
    char ex[16];
    std::snprintf(ex, sizeof ex, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += ex;
  }
  return (negative ? "-" : "") + out;
}

}  // namespace tt
