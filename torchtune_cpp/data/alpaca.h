// torchtune's Alpaca datasets: AlpacaToMessages (data/_messages.py) and the builders
// `torchtune.datasets.alpaca_dataset` / `alpaca_cleaned_dataset` (datasets/_alpaca.py),
// reading local files or a cached hub dataset (data/local_files.h).
#pragma once

#include <string>
#include <vector>

#include "torchtune_cpp/data/sft.h"

namespace tt::data {

// column_map: the dataset's names for torchtune's "instruction", "input", "output".
struct AlpacaColumns {
  std::string instruction = "instruction";
  std::string input = "input";
  std::string output = "output";
};

// The two prompts, exactly torchtune's (with and without a non-empty input).
std::string alpaca_prompt(const std::string& instruction, const std::string* input);

// A user message (the prompt; masked unless train_on_input) and an assistant message (the
// output). A record without the instruction or output column, or with a non-string value,
// is a tt::Error naming file:line and the column.
std::vector<modules::Message> alpaca_to_messages(const JsonRecord& record, bool train_on_input,
                                                 const AlpacaColumns& columns = {});

struct AlpacaOptions {
  std::string source = "tatsu-lab/alpaca";
  std::vector<std::string> data_files;
  AlpacaColumns columns;
  bool train_on_input = true;
  bool packed = false;
  std::string split = "train";
};

// alpaca_dataset(tokenizer, source, data_files, column_map, train_on_input, packed, split);
// split as Hugging Face reads it (see split.h). Every selected record's columns are checked
// here; tokenization happens per get().
// `where` prefixes errors about the options (a config key).
DatasetPtr alpaca_dataset(modules::ModelTokenizerPtr tokenizer, const AlpacaOptions& options,
                          const std::string& where = "dataset");

// Registers torchtune.datasets.alpaca_dataset and alpaca_cleaned_dataset, which build a
// DatasetPtr from the recipe's tokenizer (positional); data/builders.h registers them all.
void register_alpaca_datasets();

}  // namespace tt::data
