// AlpacaToMessages and the Alpaca dataset builders, with their registration.
#include "torchtune_cpp/data/alpaca.h"

#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/data/local_files.h"
#include "torchtune_cpp/data/packed.h"
#include "torchtune_cpp/data/split.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::data {

namespace {

// The value of a column that must hold text.
const std::string& required_text(const JsonRecord& record, const std::string& column,
                                 const std::string& role) {
  const FieldValue* v = record.find(column);
  TT_CHECK(v != nullptr, record.where(), "record has no '", column, "' column (the ", role,
           "); add it, or map the dataset's own column name with column_map: {", role, ": <name>}");
  TT_CHECK(v->kind == FieldValue::Kind::kString, record.where(), "column '", column,
           "' must be a string, got ", v->text);
  return v->text;
}

}  // namespace

std::string alpaca_prompt(const std::string& instruction, const std::string* input) {
  if (input != nullptr && !input->empty())
    return "Below is an instruction that describes a task, paired with an input that provides "
           "further context. Write a response that appropriately completes the request.\n\n"
           "### Instruction:\n" +
           instruction + "\n\n### Input:\n" + *input + "\n\n### Response:\n";
  return "Below is an instruction that describes a task. Write a response that appropriately "
         "completes the request.\n\n### Instruction:\n" +
         instruction + "\n\n### Response:\n";
}

std::vector<modules::Message> alpaca_to_messages(const JsonRecord& record, bool train_on_input,
                                                 const AlpacaColumns& columns) {
  // torchtune uses the input only when present and truthy: null and "" mean no input.
  const FieldValue* input = record.find(columns.input);
  const std::string* input_text = nullptr;
  if (input != nullptr && input->kind != FieldValue::Kind::kNull) {
    TT_CHECK(input->kind == FieldValue::Kind::kString, record.where(), "column '", columns.input,
             "' must be a string or null, got ", input->text);
    input_text = &input->text;
  }
  const std::string& instruction = required_text(record, columns.instruction, "instruction");
  const std::string& output = required_text(record, columns.output, "output");
  return {modules::Message{"user", alpaca_prompt(instruction, input_text), !train_on_input, true},
          modules::Message{"assistant", output, false, true}};
}

DatasetPtr alpaca_dataset(modules::ModelTokenizerPtr tokenizer, const AlpacaOptions& options,
                          const std::string& where) {
  TT_CHECK(tokenizer != nullptr, where, "a tokenizer is required");
  if (options.packed) {
    TT_CHECK(tokenizer->max_seq_len().has_value(), where + ".packed",
             "PackedDataset requires a max_seq_len to be set on the tokenizer; set "
             "tokenizer.max_seq_len (e.g. 4096)");
  }
  const AlpacaColumns columns = options.columns;
  const bool train_on_input = options.train_on_input;
  std::vector<JsonRecord> records =
      select_split(load_dataset_records(options.source, options.data_files, where), options.split,
                   options.data_files, where + ".data_files", where + ".split");
  // Tokenization is lazy, as torchtune's; the columns are checked now so a bad record stops
  // the run before training rather than thousands of steps in.
  for (const JsonRecord& r : records) alpaca_to_messages(r, options.train_on_input, columns);
  auto ds = std::make_shared<SftDataset>(
      std::move(records),
      [columns, train_on_input](const JsonRecord& r) {
        return alpaca_to_messages(r, train_on_input, columns);
      },
      tokenizer);
  if (options.packed) return std::make_shared<PackedDataset>(*ds, *tokenizer->max_seq_len());
  return ds;
}

namespace {

AlpacaOptions options_from(const config::Kwargs& kw) {
  AlpacaOptions o;
  o.source = kw.get_string("source");
  if (kw.has("data_files")) {
    const config::Node& files = kw.node("data_files");
    if (files.is_list())
      o.data_files = kw.get_string_list("data_files");
    else {
      TT_CHECK(files.is_scalar(), kw.where("data_files"),
               "data_files must be a path or a list of paths");
      o.data_files = {kw.get_string("data_files")};
    }
  }
  if (kw.has("column_map")) {
    const config::Node& map = kw.node("column_map");
    TT_CHECK(map.is_map(), kw.where("column_map"),
             "column_map must map instruction/input/output to the dataset's column names");
    // Keys other than the three are ignored, as torchtune ignores them.
    for (const auto& [key, value] : map.entries) {
      TT_CHECK(value.is_scalar() && !value.is_null(), kw.where("column_map"), "column_map.", key,
               " must be a column name");
      if (key == "instruction")
        o.columns.instruction = value.text;
      else if (key == "input")
        o.columns.input = value.text;
      else if (key == "output")
        o.columns.output = value.text;
    }
  }
  o.train_on_input = kw.get_bool("train_on_input");
  o.packed = kw.get_bool("packed");
  o.split = kw.get_string("split");
  TT_CHECK(!kw.has("filter_fn"), kw.where("filter_fn"),
           "filter_fn is not supported; filter the data file beforehand");
  return o;
}

void register_alpaca(const std::string& name, const std::string& default_source,
                     const std::string& summary) {
  using config::arg;
  using config::ArgType;
  config::register_component<DatasetPtr, modules::ModelTokenizerPtr>(
      config::ComponentSpec{
          name,
          "dataset",
          summary,
          {"tokenizer"},
          {arg("source", ArgType::kString, default_source,
               "json (local files; Hugging Face Hub datasets are not downloaded)"),
           arg("data_files", ArgType::kAny, "null", "path or list of paths to .json/.jsonl files"),
           arg("column_map", ArgType::kAny, "null",
               "{instruction: ..., input: ..., output: ...}: the dataset's column names"),
           arg("train_on_input", ArgType::kBool, "True", "include the prompt in the loss"),
           arg("packed", ArgType::kBool, "False",
               "pack samples to tokenizer.max_seq_len (PackedDataset)"),
           arg("filter_fn", ArgType::kAny, "null", "not supported: must be null"),
           arg("split", ArgType::kString, "train",
               "train, or a slice of it: train[:10%], train[100:200], train[:5]+train[-5:]")}},
      [](const config::Kwargs& kw, modules::ModelTokenizerPtr tokenizer) {
        return alpaca_dataset(std::move(tokenizer), options_from(kw), kw.key());
      });
}

}  // namespace

void register_alpaca_datasets() {
  register_alpaca("torchtune.datasets.alpaca_dataset", "tatsu-lab/alpaca",
                  "Alpaca instruction data (instruction, input, output) from local JSON files");
  register_alpaca("torchtune.datasets.alpaca_cleaned_dataset", "yahma/alpaca-cleaned",
                  "alpaca_dataset with torchtune's alpaca-cleaned default source");
}

}  // namespace tt::data
