// CSV and text readers, source dispatch and the hub-cache lookup; see local_files.h.
#include "torchtune_cpp/data/local_files.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "torchtune_cpp/utils/check.h"

namespace tt::data {

namespace fs = std::filesystem;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TT_CHECK(in.good(), path,
           "cannot read this data file; check `data_files` (relative paths are from the working "
           "directory)");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What a CSV file may expand to: its rows times its columns, at most this many values plus
// kCsvValuesPerByte per byte of the file (a real dataset has fewer values than bytes).
constexpr size_t kMinCsvValues = 1'000'000;
constexpr size_t kCsvValuesPerByte = 8;

// pandas.read_csv's default missing-value strings.
bool is_missing(const std::string& v) {
  static const std::set<std::string> kNa = {"",         "#N/A", "#N/A N/A", "#NA",    "-1.#IND",
                                            "-1.#QNAN", "-NaN", "-nan",     "1.#IND", "1.#QNAN",
                                            "<NA>",     "N/A",  "NA",       "NULL",   "NaN",
                                            "None",     "n/a",  "nan",      "null"};
  return kNa.count(v) != 0;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::vector<JsonRecord> load_csv_file(const std::string& path) {
  std::string text = read_all(path);
  if (text.rfind("\xEF\xBB\xBF", 0) == 0)
    text.erase(0, 3);  // a UTF-8 byte-order mark, as pandas drops it
  // Rows of fields, each row with the line it starts on.
  std::vector<std::pair<int64_t, std::vector<std::string>>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, field_started = false;
  int64_t line = 1, row_line = 1, quote_line = 0;
  auto end_field = [&] {
    row.push_back(field);
    field.clear();
    field_started = false;
  };
  auto end_row = [&] {
    end_field();
    if (!(row.size() == 1 && row[0].empty())) rows.emplace_back(row_line, row);  // skip blank lines
    row.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && !field_started) {
      quoted = true;
      field_started = true;
      quote_line = line;
    } else if (c == ',') {
      end_field();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_row();
      ++line;
      row_line = line;
    } else {
      field += c;
      field_started = true;
    }
  }
  TT_CHECK(!quoted, str(path, ":", quote_line),
           "a quoted field is never closed (missing \"); close it");
  if (!field.empty() || !row.empty()) end_row();
  TT_CHECK(!rows.empty(), path, "the CSV file is empty; it needs a header row naming the columns");
  const std::vector<std::string> header = rows[0].second;
  // Every record holds every column, short rows padded with nulls (as pandas reads them), so a
  // wide header over many short rows multiplies: bound what a file of this size may expand to.
  const size_t max_values = kMinCsvValues + kCsvValuesPerByte * text.size();
  TT_CHECK(rows.size() == 1 || header.size() <= max_values / (rows.size() - 1), path,
           "the CSV file has ", rows.size() - 1, " rows under a header of ", header.size(),
           " columns, ", header.size() * (rows.size() - 1), " values in all, far more than its ",
           text.size(),
           " bytes hold (crafted to exhaust memory?); give each row a value per column");
  std::vector<JsonRecord> records;
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& [at, values] = rows[r];
    TT_CHECK(values.size() <= header.size(), str(path, ":", at), "this row has ", values.size(),
             " fields but the header names ", header.size(),
             " columns; quote fields that contain commas");
    JsonRecord rec{path, at, {}};
    for (size_t k = 0; k < header.size(); ++k) {
      const std::string v = k < values.size() ? values[k] : "";
      rec.fields[header[k]] = is_missing(v) ? FieldValue{FieldValue::Kind::kNull, "null"}
                                            : FieldValue{FieldValue::Kind::kString, v};
    }
    records.push_back(std::move(rec));
  }
  return records;
}

std::vector<JsonRecord> load_text_file(const std::string& path) {
  const std::string text = read_all(path);
  std::vector<JsonRecord> records;
  size_t start = 0;
  int64_t line = 1;
  while (start < text.size()) {
    size_t end = text.find_first_of("\r\n", start);
    if (end == std::string::npos) end = text.size();
    records.push_back(JsonRecord{
        path,
        line,
        {{"text", FieldValue{FieldValue::Kind::kString, text.substr(start, end - start)}}}});
    if (end < text.size() && text[end] == '\r' && end + 1 < text.size() && text[end + 1] == '\n')
      ++end;
    start = end + 1;
    ++line;
  }
  return records;
}

namespace {

// A dataset repo's files in the local hub cache, or an error saying how to get them.
std::vector<std::string> hub_cache_files(const std::string& repo_id, const std::string& where) {
  fs::path cache;
  if (const char* c = std::getenv("HF_HUB_CACHE"); c && *c)
    cache = c;
  else if (const char* h = std::getenv("HF_HOME"); h && *h)
    cache = fs::path(h) / "hub";
  else if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    cache = fs::path(x) / "huggingface" / "hub";
  else
    cache = fs::path(std::getenv("HOME") ? std::getenv("HOME") : "/") / ".cache" / "huggingface" /
            "hub";
  const size_t slash = repo_id.find('/');
  const fs::path repo =
      cache / ("datasets--" + repo_id.substr(0, slash) + "--" + repo_id.substr(slash + 1));
  const std::string convert = str(
      "convert it once with Python: python3 -c \"import datasets; datasets.load_dataset('", repo_id,
      "', split='train').to_json('data.jsonl')\" and set source: json, data_files: data.jsonl");
  std::error_code ec;
  TT_CHECK(fs::is_directory(repo / "snapshots", ec), where + ".source", "'", repo_id,
           "' is not in the local Hugging Face hub cache (looked for ", repo.string(),
           "); torchtune_cpp does not download datasets: ", convert);
  std::string revision;
  if (std::ifstream ref(repo / "refs" / "main"); ref.good()) std::getline(ref, revision);
  fs::path snapshot = repo / "snapshots" / revision;
  if (revision.empty() || !fs::is_directory(snapshot, ec)) {
    std::vector<fs::path> snaps;
    for (const auto& e : fs::directory_iterator(repo / "snapshots", ec))
      if (e.is_directory()) snaps.push_back(e.path());
    TT_CHECK(snaps.size() == 1, where + ".source", repo.string(), " has ", snaps.size(),
             " snapshots and no refs/main; set source: json with data_files pointing into the one "
             "you want");
    snapshot = snaps[0];
  }
  std::vector<std::string> files;
  bool other = false;
  for (auto it = fs::recursive_directory_iterator(snapshot, ec);
       it != fs::recursive_directory_iterator(); ++it) {
    const std::string name = it->path().filename().string();
    if (!fs::is_regular_file(it->path(), ec) || name.empty() || name[0] == '.') continue;
    if (ends_with(name, ".json") || ends_with(name, ".jsonl") || ends_with(name, ".csv"))
      files.push_back(it->path().string());
    else if (ends_with(name, ".parquet") || ends_with(name, ".arrow"))
      other = true;
  }
  std::sort(files.begin(), files.end());
  // The train split only, by Hugging Face's file-name convention ("train" in the name or
  // folder); without such files, everything not named as another split.
  auto named = [&](const std::string& f, std::initializer_list<const char*> words) {
    const std::string rel = fs::path(f).lexically_relative(snapshot).string();
    for (const char* w : words)
      if (rel.find(w) != std::string::npos) return true;
    return false;
  };
  std::vector<std::string> train;
  for (const auto& f : files)
    if (named(f, {"train"})) train.push_back(f);
  if (train.empty())
    for (const auto& f : files)
      if (!named(f, {"test", "valid", "dev", "eval"})) train.push_back(f);
  files = train;
  // Repo metadata is not data.
  files.erase(std::remove_if(files.begin(), files.end(),
                             [](const std::string& f) {
                               return fs::path(f).filename() == "dataset_infos.json";
                             }),
              files.end());
  TT_CHECK(!files.empty(), where + ".source", "'", repo_id, "' is in the local hub cache (",
           snapshot.string(), ") only as ",
           other ? "Parquet/Arrow files, which torchtune_cpp does not read" : "files without data",
           "; ", convert);
  return files;
}

}  // namespace

std::vector<JsonRecord> load_dataset_records(const std::string& source,
                                             const std::vector<std::string>& data_files,
                                             const std::string& where) {
  const bool local = source == "json" || source == "csv" || source == "text";
  if (!local) {
    const size_t slash = source.find('/');
    TT_CHECK(
        slash != std::string::npos && slash > 0 && slash + 1 < source.size() &&
            source.find('/', slash + 1) == std::string::npos,
        where + ".source", "source '", source,
        "' is not supported; use json, csv or text with data_files, or a Hugging Face dataset name "
        "(org/name) present in the local hub cache");
    TT_CHECK(data_files.empty(), where + ".data_files",
             "data_files with a hub dataset name are not supported; set source to json, csv or "
             "text instead");
    std::vector<JsonRecord> records;
    for (const std::string& f : hub_cache_files(source, where)) {
      std::vector<JsonRecord> part = ends_with(f, ".csv") ? load_csv_file(f) : load_json_file(f);
      records.insert(records.end(), part.begin(), part.end());
    }
    return records;
  }
  TT_CHECK(!data_files.empty(), where + ".data_files", "source: ", source,
           " needs data_files: a path or a list of paths to ",
           source == "json"  ? ".json / .jsonl"
           : source == "csv" ? ".csv"
                             : ".txt",
           " files");
  for (const std::string& f : data_files) {
    std::error_code ec;
    TT_CHECK(!fs::is_directory(f, ec), where + ".data_files", "'", f,
             "' is a folder; list the data files in it (data_files: [a.json, b.json])");
  }
  if (source == "json") return load_json_files(data_files);
  std::vector<JsonRecord> records;
  for (const std::string& f : data_files) {
    std::vector<JsonRecord> part = source == "csv" ? load_csv_file(f) : load_text_file(f);
    records.insert(records.end(), part.begin(), part.end());
  }
  return records;
}

}  // namespace tt::data
