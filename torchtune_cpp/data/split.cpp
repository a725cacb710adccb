// Split specs, following datasets/arrow_reader.py (_SUB_SPEC_RE, _rel_to_abs_instr and
// _pct_to_abs_closest), so a config's `split: train[:10%]` selects the same records.
#include "torchtune_cpp/data/split.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <regex>

#include "torchtune_cpp/utils/check.h"

namespace tt::data {

namespace {

std::vector<std::string> split_on_plus(const std::string& spec) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : spec) {
    if (c == '+') {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  // "\s*\+\s*": whitespace around '+' is dropped, elsewhere it makes the part invalid.
  for (size_t i = 0; i < parts.size(); ++i) {
    std::string& p = parts[i];
    if (i > 0) p.erase(0, p.find_first_not_of(" \t\n\r\f\v"));
    if (i + 1 < parts.size()) p.erase(p.find_last_not_of(" \t\n\r\f\v") + 1);
  }
  return parts;
}

// Python's int() of "-?[\d_]+": underscores only between digits.
std::optional<int64_t> parse_int(const std::string& text, const std::string& where,
                                 const std::string& spec) {
  if (text.empty()) return std::nullopt;
  const size_t digits_from = text[0] == '-' ? 1 : 0;
  std::string digits;
  for (size_t i = digits_from; i < text.size(); ++i) {
    if (text[i] == '_') {
      TT_CHECK(i > digits_from && i + 1 < text.size() && text[i - 1] != '_' && text[i + 1] != '_',
               where, "invalid number '", text, "' in split '", spec, "'");
      continue;
    }
    digits += text[i];
  }
  TT_CHECK(digits.size() <= 15, where, "number '", text, "' in split '", spec, "' is too large");
  const int64_t value = std::stoll(digits);
  return digits_from ? -value : value;
}

}  // namespace

std::vector<int64_t> split_indices(const std::string& spec, int64_t num_examples,
                                   const std::string& where) {
  static const std::regex kSub(
      R"(^(\w+(?:\.\w+)*)(?:\[(?:(-?[\d_]+)(%)?)?:(?:(-?[\d_]+)(%)?)?\])?(?:\(([^\)]*)\))?$)");
  std::vector<int64_t> indices;
  for (const std::string& part : split_on_plus(spec)) {
    std::smatch m;
    TT_CHECK(std::regex_match(part, m, kSub), where, "unrecognized split '", spec,
             "'; use train, or a slice such as train[:10%], train[100:200] or "
             "train[:5%]+train[-5%:]");
    TT_CHECK(m[1] == "train", where, "unknown split '", m[1].str(), "' in '", spec,
             "'; local data_files form the single split 'train'");
    const bool percent = m[3].matched || m[5].matched;
    if (m[6].matched) {
      TT_CHECK(percent, where, "split '", spec,
               "': a rounding mode is only allowed with percent slices");
      TT_CHECK(m[6] == "closest", where, "split '", spec, "': rounding '", m[6].str(),
               "' is not supported; use the default (closest)");
    }
    std::optional<int64_t> from = parse_int(m[2].str(), where, spec);
    std::optional<int64_t> to = parse_int(m[4].str(), where, spec);
    const int64_t n = num_examples;
    int64_t a = 0, b = n;
    if (percent) {
      for (const std::optional<int64_t>& bound : {from, to})
        TT_CHECK(!bound || std::abs(*bound) <= 100, where, "split '", spec,
                 "': percent slice boundaries must be between -100% and 100%");
      auto to_abs = [n](int64_t pct) {
        return static_cast<int64_t>(std::nearbyint(static_cast<double>(pct * n) / 100.0));
      };
      if (from) a = to_abs(*from);
      if (to) b = to_abs(*to);
    } else {
      if (from) a = *from;
      if (to) b = *to;
    }
    if (a < 0) a = std::max<int64_t>(n + a, 0);
    if (b < 0) b = std::max<int64_t>(n + b, 0);
    a = std::min(a, n);
    b = std::min(b, n);
    for (int64_t i = a; i < b; ++i) indices.push_back(i);
  }
  return indices;
}

std::vector<JsonRecord> select_split(std::vector<JsonRecord> all, const std::string& spec,
                                     const std::vector<std::string>& data_files,
                                     const std::string& where_files,
                                     const std::string& where_split) {
  std::string files;
  for (const std::string& f : data_files) files += (files.empty() ? "" : ", ") + f;
  TT_CHECK(!all.empty(), where_files, files.empty() ? std::string("the source") : files,
           " holds no records (an empty file?); a dataset with no samples trains nothing: "
           "point data_files at the data");
  std::vector<JsonRecord> records;
  for (int64_t i : split_indices(spec, static_cast<int64_t>(all.size()), where_split))
    records.push_back(std::move(all[static_cast<size_t>(i)]));
  return records;
}

}  // namespace tt::data
