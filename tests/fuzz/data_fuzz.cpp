// Fuzz target: the dataset file readers on arbitrary bytes: JSON (an array of records or JSON
// Lines), CSV and plain text, each reading the same file as `source: json|csv|text` with
// `data_files: <file>` does. Every record they return must name its file and a line of it.
#include <algorithm>

#include "tests/fuzz/fuzz_util.h"
#include "torchtune_cpp/data/json_records.h"
#include "torchtune_cpp/data/local_files.h"

namespace {

void check_records(const std::vector<tt::data::JsonRecord>& records, const std::string& path,
                   int64_t lines) {
  size_t sum = 0;
  for (const tt::data::JsonRecord& r : records) {
    FUZZ_CHECK(r.file == path);
    FUZZ_CHECK(r.line >= 1 && r.line <= lines);
    sum += r.where().size();
    for (const auto& [column, value] : r.fields) {
      FUZZ_CHECK(r.find(column) == &value);
      sum += value.text.size();
    }
  }
  if (sum == 1) std::fputc(' ', stderr);  // keep the reads
}

}  // namespace

int tt_fuzz_data(const uint8_t* data, size_t size) {
  static const std::string path = tt::fuzz::scratch_path("data");
  tt::fuzz::write_file(path, data, size);
  const int64_t lines =
      1 + std::count(data, data + size, '\n') + std::count(data, data + size, '\r');
  // As a dataset config reaches them: `source: json|csv|text` with `data_files: <path>`.
  for (const char* source : {"json", "csv", "text"}) {
    tt::fuzz::run_one(source, [&] {
      check_records(tt::data::load_dataset_records(source, {path}, "dataset"), path, lines);
    });
  }
  return 0;
}

TT_FUZZ_ENTRY(data)
