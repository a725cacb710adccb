// Dataset files as Hugging Face's `load_dataset(source, data_files=...)` reads them, for the
// sources torchtune configs use with local data, all into JsonRecords (json_records.h) that
// remember file and line:
//   json  JSON arrays of objects or JSON Lines
//   csv   a header row, RFC 4180 quoting (fields may hold commas, doubled quotes, newlines);
//         every value a string, pandas' missing-value spellings ("", NA, null, NaN, None, ...)
//         read as null, as pandas reads them; short rows are padded with nulls, within a
//         bound on rows x columns for the file's size
//   text  one record {"text": line} per line, line ends dropped, blank lines kept as ""
// A hub name as source ("tatsu-lab/alpaca") is looked up offline in the local Hugging Face
// hub cache ($HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub): JSON, JSON Lines and
// CSV files there are read; Parquet/Arrow-only datasets and missing ones are errors that give
// the one-line conversion to a local file and the data_files alternative. Nothing is
// downloaded.
#pragma once

#include <string>
#include <vector>

#include "torchtune_cpp/data/json_records.h"

namespace tt::data {

std::vector<JsonRecord> load_csv_file(const std::string& path);
std::vector<JsonRecord> load_text_file(const std::string& path);

// The records of `source` with `data_files` (required for json/csv/text), in file order.
// `where` is the config key for messages ("dataset").
std::vector<JsonRecord> load_dataset_records(const std::string& source,
                                             const std::vector<std::string>& data_files,
                                             const std::string& where);

}  // namespace tt::data
