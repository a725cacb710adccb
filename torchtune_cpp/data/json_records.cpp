// JSON array / JSON Lines reading with positions. nlohmann parses the values; a small scan
// of the (already valid) text finds where each top-level array element starts, because
// nlohmann keeps no positions. Nesting is bounded before parsing (converting a value back to
// text recurses once per level), and every parser error, a number out of range included,
// comes back with its position.
#include "torchtune_cpp/data/json_records.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "torchtune_cpp/utils/check.h"

namespace tt::data {

namespace {

using nlohmann::json;

// Deeper than Python's json module reads (its recursion limit); no dataset column needs more.
constexpr int kMaxDepth = 1000;

// 1-based line and column of a byte offset.
std::pair<int64_t, int64_t> line_col(const std::string& text, size_t offset) {
  offset = std::min(offset, text.size());
  int64_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i)
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  return {line, static_cast<int64_t>(offset - line_start) + 1};
}

// Offsets where each element of the top-level array of valid JSON `text` starts.
std::vector<size_t> array_element_offsets(const std::string& text) {
  std::vector<size_t> starts;
  int depth = 0;
  bool in_string = false, escaped = false, expecting = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (depth == 1 && expecting && c != ']') {
      starts.push_back(i);
      expecting = false;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{') {
      if (++depth == 1) expecting = true;
    } else if (c == ']' || c == '}')
      --depth;
    else if (c == ',' && depth == 1)
      expecting = true;
  }
  return starts;
}

// The first place in text[begin, end) the parser must not see: a bracket opening nesting level
// kMaxDepth + 1, or a NUL byte (which nlohmann takes for the end of the input, silently
// dropping what follows). Runs before the parser, on text that may not be valid JSON; brackets
// inside strings do not count.
struct Hazard {
  size_t offset = std::string::npos;  // npos: none
  bool nul = false;
};
Hazard find_hazard(const std::string& text, size_t begin, size_t end) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (size_t i = begin; i < end; ++i) {
    const char c = text[i];
    if (c == '\0') return {i, true};
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth) return {i, false};
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return {};
}

// nlohmann's DOM builder, keeping the position and text of a parse error instead of throwing
// (its own exception for a number out of range carries no position).
class LocatingParser : public nlohmann::detail::json_sax_dom_parser<json> {
 public:
  explicit LocatingParser(json& result) : json_sax_dom_parser(result, false) {}
  bool parse_error(std::size_t position, const std::string& /*token*/,
                   const nlohmann::detail::exception& e) {
    failed = true;
    error_offset = position > 0 ? position - 1 : 0;  // position counts from 1
    error_text = e.what();
    return false;
  }
  bool failed = false;
  size_t error_offset = 0;
  std::string error_text;
};

// nlohmann's message without its "[json.exception...] parse error at line 1, column 2: " prefix.
std::string parse_error_text(std::string what) {
  if (what.rfind("[json.exception.", 0) == 0 && what.find("] ") != std::string::npos)
    what = what.substr(what.find("] ") + 2);
  if (what.rfind("parse error", 0) == 0 && what.find(": ") != std::string::npos)
    what = what.substr(what.find(": ") + 2);
  return what;
}

// Parses text[begin, end) as one JSON value. On bad input throws a tt::Error at
// where(offset) (an offset into text) saying what is wrong and `fix`.
template <class Where>
json parse_json(const std::string& text, size_t begin, size_t end, const Where& where,
                const std::string& what, const std::string& fix) {
  const Hazard hazard = find_hazard(text, begin, end);
  TT_CHECK(hazard.offset == std::string::npos || hazard.nul, where(hazard.offset), what,
           ": nested more than ", kMaxDepth, " levels deep, deeper than any dataset column needs ",
           "(and than Python's json module reads); ", fix);
  TT_CHECK(hazard.offset == std::string::npos, where(hazard.offset), what,
           ": a NUL byte, which JSON does not allow; ", fix);
  json value;
  LocatingParser sax(value);
  try {
    json::sax_parse(text.begin() + static_cast<std::ptrdiff_t>(begin),
                    text.begin() + static_cast<std::ptrdiff_t>(end), &sax);
  } catch (const json::exception& e) {
    TT_CHECK(false, where(begin), what, ": ", parse_error_text(e.what()), "; ", fix);
  }
  TT_CHECK(!sax.failed, where(begin + sax.error_offset), what, ": ",
           parse_error_text(sax.error_text), "; ", fix);
  return value;
}

FieldValue to_field(const json& value) {
  if (value.is_string()) return {FieldValue::Kind::kString, value.get<std::string>()};
  if (value.is_null()) return {FieldValue::Kind::kNull, "null"};
  return {FieldValue::Kind::kOther, value.dump(-1, ' ', false, json::error_handler_t::replace)};
}

JsonRecord to_record(const json& value, const std::string& path, int64_t line, int64_t column) {
  TT_CHECK(value.is_object(), str(path, ":", line, ":", column),
           "each record must be a JSON object with the dataset's columns (e.g. {\"instruction\": "
           "..., \"input\": ..., \"output\": ...}), got ",
           value.type_name());
  JsonRecord record{path, line, {}};
  for (auto it = value.begin(); it != value.end(); ++it) record.fields[it.key()] = to_field(*it);
  return record;
}

}  // namespace

std::string JsonRecord::where() const {
  return str(file, ":", line);
}

const FieldValue* JsonRecord::find(const std::string& column) const {
  auto it = fields.find(column);
  return it == fields.end() ? nullptr : &it->second;
}

std::vector<JsonRecord> load_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TT_CHECK(in.good(), path,
           "cannot read this data file; check `data_files` (relative paths are from the working "
           "directory)");
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  // A UTF-8 byte-order mark is not JSON; blank it so offsets stay those of the file.
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.replace(0, 3, "   ");

  const size_t first = text.find_first_not_of(" \t\r\n");
  std::vector<JsonRecord> records;
  if (first == std::string::npos) return records;

  if (text[first] == '[') {
    auto where = [&](size_t offset) {
      auto [line, col] = line_col(text, offset);
      return str(path, ":", line, ":", col);
    };
    const json value = parse_json(text, 0, text.size(), where, "malformed JSON",
                                  "fix the file (a JSON array of objects, or one object per line)");
    TT_CHECK(value.is_array(), path, "expected a JSON array of records");
    const std::vector<size_t> starts = array_element_offsets(text);
    TT_CHECK(starts.size() == value.size(), path, "internal error locating records");
    records.reserve(value.size());
    // Offsets increase, so lines are counted in one pass over the text.
    int64_t line = 1;
    size_t scanned = 0, line_start = 0;
    for (size_t i = 0; i < value.size(); ++i) {
      for (; scanned < starts[i]; ++scanned)
        if (text[scanned] == '\n') {
          ++line;
          line_start = scanned + 1;
        }
      const auto col = static_cast<int64_t>(starts[i] - line_start) + 1;
      records.push_back(to_record(value[i], path, line, col));
    }
    return records;
  }

  // JSON Lines.
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    ++line_no;
    const size_t begin = text.find_first_not_of(" \t\r", pos);
    if (begin < end) {
      auto where = [&](size_t offset) { return str(path, ":", line_no, ":", offset - pos + 1); };
      const json value = parse_json(text, pos, end, where, "malformed JSON Lines record",
                                    "each line must hold one complete JSON object");
      records.push_back(to_record(value, path, line_no, static_cast<int64_t>(begin - pos) + 1));
    }
    pos = end + 1;
  }
  return records;
}

std::vector<JsonRecord> load_json_files(const std::vector<std::string>& paths) {
  std::vector<JsonRecord> all;
  for (const std::string& p : paths) {
    std::vector<JsonRecord> some = load_json_file(p);
    all.insert(all.end(), std::make_move_iterator(some.begin()),
               std::make_move_iterator(some.end()));
  }
  return all;
}

}  // namespace tt::data
