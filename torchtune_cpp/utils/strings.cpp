// Did-you-mean suggestions and joining.
#include "torchtune_cpp/utils/strings.h"

#include <algorithm>
#include <cctype>

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

}  // namespace tt
