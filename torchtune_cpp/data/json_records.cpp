// JSON array / JSON Lines reading with positions. nlohmann parses the values; a small scan
// of the (already valid) text finds where each top-level array element starts, because
// nlohmann keeps no positions.
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

FieldValue to_field(const json& value) {
  if (value.is_string()) return {FieldValue::Kind::kString, value.get<std::string>()};
  if (value.is_null()) return {FieldValue::Kind::kNull, "null"};
  return {FieldValue::Kind::kOther, value.dump()};
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

// parse_error.byte counts from 1 and points at the last character read.
std::string parse_error_where(const std::string& path, const std::string& text, size_t base,
                              const json::parse_error& e) {
  auto [line, col] = line_col(text, base + (e.byte > 0 ? e.byte - 1 : 0));
  return str(path, ":", line, ":", col);
}

std::string parse_error_text(const json::parse_error& e) {
  // nlohmann's message starts "[json.exception.parse_error.101] parse error at line 1, ...".
  std::string what = e.what();
  const size_t colon = what.find(": ", what.find("parse error"));
  return colon == std::string::npos ? what : what.substr(colon + 2);
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
    json value;
    try {
      value = json::parse(text);
    } catch (const json::parse_error& e) {
      TT_CHECK(false, parse_error_where(path, text, 0, e), "malformed JSON: ", parse_error_text(e),
               "; fix the file (a JSON array of objects, or one object per line)");
    }
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
    const std::string line = text.substr(pos, end - pos);
    const size_t begin = line.find_first_not_of(" \t\r");
    if (begin != std::string::npos) {
      json value;
      try {
        value = json::parse(line);
      } catch (const json::parse_error& e) {
        TT_CHECK(false, str(path, ":", line_no, ":", e.byte > 0 ? e.byte : 1),
                 "malformed JSON Lines record: ", parse_error_text(e),
                 "; each line must hold one complete JSON object");
      }
      records.push_back(to_record(value, path, line_no, static_cast<int64_t>(begin) + 1));
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
