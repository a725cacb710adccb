// Local dataset files as Hugging Face's `load_dataset("json", data_files=...)` reads them:
// a JSON array of objects or JSON Lines, one record per object, every record remembering
// the file and line it came from so bad data is reported where the user can fix it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tt::data {

// One column value. Only strings and nulls mean something to the text datasets; other
// JSON values keep their JSON text so errors can show them.
struct FieldValue {
  enum class Kind { kString, kNull, kOther };
  Kind kind = Kind::kNull;
  std::string text;  // the string, or the JSON text of a kOther value
};

struct JsonRecord {
  std::string file;
  int64_t line = 0;  // 1-based line where the record's object starts
  std::map<std::string, FieldValue> fields;

  // "file:line", for errors.
  std::string where() const;
  const FieldValue* find(const std::string& column) const;
};

// Reads one file: a JSON array of objects if its first non-blank character is '[', JSON
// Lines otherwise (blank lines skipped). Malformed JSON (numbers out of range and NUL bytes
// included), nesting deeper than 1000 levels, a non-object record or an unreadable file is a
// tt::Error naming file:line:column.
std::vector<JsonRecord> load_json_file(const std::string& path);

// Reads the files in order and concatenates their records (the single "train" split that
// load_dataset makes of data_files given as a string or a list).
std::vector<JsonRecord> load_json_files(const std::vector<std::string>& paths);

}  // namespace tt::data
