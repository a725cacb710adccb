// Dataset builder registration.
#include "torchtune_cpp/data/builders.h"

#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/data/alpaca.h"
#include "torchtune_cpp/data/concat.h"
#include "torchtune_cpp/data/local_files.h"
#include "torchtune_cpp/data/messages.h"
#include "torchtune_cpp/data/packed.h"
#include "torchtune_cpp/data/split.h"
#include "torchtune_cpp/data/text_completion.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::data {

namespace {

using config::arg;
using config::ArgSpec;
using config::ArgType;
using config::Kwargs;

std::vector<std::string> data_files_of(const Kwargs& kw) {
  if (!kw.has("data_files")) return {};
  const config::Node& files = kw.node("data_files");
  if (files.is_list()) return kw.get_string_list("data_files");
  TT_CHECK(files.is_scalar(), kw.where("data_files"),
           "data_files must be a path or a list of paths");
  return {kw.get_string("data_files")};
}

// The split's records of the configured source.
std::vector<JsonRecord> records_of(const Kwargs& kw) {
  TT_CHECK(!kw.has("filter_fn"), kw.where("filter_fn"),
           "filter_fn is not supported; filter the data file beforehand");
  const std::vector<std::string> files = data_files_of(kw);
  return select_split(load_dataset_records(kw.get_string("source"), files, kw.key()),
                      kw.get_string("split"), files, kw.where("data_files"), kw.where("split"));
}

DatasetPtr maybe_packed(DatasetPtr ds, const Kwargs& kw, const modules::ModelTokenizer& tokenizer,
                        bool split_across_pack) {
  if (!kw.get_bool("packed")) return ds;
  TT_CHECK(
      tokenizer.max_seq_len().has_value(), kw.where("packed"),
      "PackedDataset requires a max_seq_len to be set on the tokenizer; set tokenizer.max_seq_len");
  return std::make_shared<PackedDataset>(*ds, *tokenizer.max_seq_len(), std::nullopt,
                                         tokenizer.pad_id(), split_across_pack);
}

// An SFT dataset over `records`: every record's messages are built and checked now.
DatasetPtr sft(std::vector<JsonRecord> records, MessageTransform transform,
               modules::ModelTokenizerPtr tokenizer, const Kwargs& kw) {
  for (const JsonRecord& r : records) validate_messages(transform(r), r.where());
  auto ds = std::make_shared<SftDataset>(std::move(records), std::move(transform), tokenizer);
  return maybe_packed(ds, kw, *tokenizer, false);
}

// torchtune's instruct, chat and text-completion builders all require `source`.
std::vector<ArgSpec> common_args() {
  return {arg("source", ArgType::kString,
              "json, csv or text with data_files, or a Hugging Face dataset name in the local hub "
              "cache"),
          arg("data_files", ArgType::kAny, "null", "path or list of paths"),
          arg("packed", ArgType::kBool, "False",
              "pack samples to tokenizer.max_seq_len (PackedDataset)"),
          arg("filter_fn", ArgType::kAny, "null", "not supported: must be null"),
          arg("split", ArgType::kString, "train",
              "train, or a slice of it: train[:10%], train[100:200]")};
}

std::optional<std::string> optional_string(const Kwargs& kw, const char* name) {
  return kw.has(name) ? kw.get_optional_string(name) : std::nullopt;
}

void register_instruct() {
  std::vector<ArgSpec> args = common_args();
  args.push_back(arg("column_map", ArgType::kAny, "null", "{input: <column>, output: <column>}"));
  args.push_back(arg("train_on_input", ArgType::kBool, "False", "include the prompt in the loss"));
  args.push_back(
      arg("new_system_prompt", ArgType::kString, "null", "a system message added to every sample"));
  config::register_component<DatasetPtr, modules::ModelTokenizerPtr>(
      config::ComponentSpec{"torchtune.datasets.instruct_dataset",
                            "dataset",
                            "prompt/response pairs (InputOutputToMessages)",
                            {"tokenizer"},
                            args},
      [](const Kwargs& kw, modules::ModelTokenizerPtr tokenizer) {
        InputOutputOptions o;
        if (kw.has("column_map")) {
          const config::Node& map = kw.node("column_map");
          TT_CHECK(map.is_map(), kw.where("column_map"),
                   "column_map must map input and output to column names");
          std::string keys;
          for (const auto& [k, v] : map.entries) keys += (keys.empty() ? "" : ", ") + k;
          TT_CHECK(map.find("input") != nullptr, kw.where("column_map"),
                   "Expected a key of 'input' in column_map but found [", keys, "].");
          TT_CHECK(map.find("output") != nullptr, kw.where("column_map"),
                   "Expected a key of 'output' in column_map but found [", keys, "].");
          o.input_column = map.find("input")->text;
          o.output_column = map.find("output")->text;
        }
        o.train_on_input = kw.get_bool("train_on_input");
        o.new_system_prompt = optional_string(kw, "new_system_prompt");
        return sft(
            records_of(kw), [o](const JsonRecord& r) { return input_output_to_messages(r, o); },
            std::move(tokenizer), kw);
      });
}

void register_chat() {
  std::vector<ArgSpec> args = common_args();
  args.push_back(
      arg("conversation_column", ArgType::kString, "the column holding each conversation"));
  args.push_back(arg("conversation_style", ArgType::kString, "sharegpt or openai"));
  args.push_back(
      arg("train_on_input", ArgType::kBool, "False", "include non-assistant turns in the loss"));
  args.push_back(arg("new_system_prompt", ArgType::kString, "null", "replaces any system message"));
  config::register_component<DatasetPtr, modules::ModelTokenizerPtr>(
      config::ComponentSpec{"torchtune.datasets.chat_dataset",
                            "dataset",
                            "multi-turn conversations (ShareGPT or OpenAI layout)",
                            {"tokenizer"},
                            args},
      [](const Kwargs& kw, modules::ModelTokenizerPtr tokenizer) {
        ConversationOptions o;
        const std::string style = kw.get_string("conversation_style");
        TT_CHECK(style == "sharegpt" || style == "openai", kw.where("conversation_style"),
                 "Unsupported conversation style: ", style, "; use sharegpt or openai");
        o.style = style == "sharegpt" ? ConversationStyle::kShareGpt : ConversationStyle::kOpenAi;
        o.column = kw.get_string("conversation_column");
        o.train_on_input = kw.get_bool("train_on_input");
        o.new_system_prompt = optional_string(kw, "new_system_prompt");
        return sft(
            records_of(kw), [o](const JsonRecord& r) { return conversation_to_messages(r, o); },
            std::move(tokenizer), kw);
      });
}

void register_text_completion() {
  std::vector<ArgSpec> args = common_args();
  args.push_back(arg("column", ArgType::kString, "text", "the column holding the text"));
  args.push_back(arg("add_eos", ArgType::kBool, "True", "end each sample with EOS"));
  args.push_back(arg("split_across_pack", ArgType::kBool, "True",
                     "with packed: cut a sample at a pack's end and continue it in the next"));
  config::register_component<DatasetPtr, modules::ModelTokenizerPtr>(
      config::ComponentSpec{"torchtune.datasets.text_completion_dataset",
                            "dataset",
                            "unstructured text for continued pre-training",
                            {"tokenizer"},
                            args},
      [](const Kwargs& kw, modules::ModelTokenizerPtr tokenizer) {
        auto ds = std::make_shared<TextCompletionDataset>(records_of(kw), kw.get_string("column"),
                                                          kw.get_bool("add_eos"), tokenizer);
        return maybe_packed(ds, kw, *tokenizer, kw.get_bool("split_across_pack"));
      });
}

}  // namespace

void register_datasets() {
  register_alpaca_datasets();
  register_instruct();
  register_chat();
  register_text_completion();
}

DatasetPtr instantiate_dataset(const config::Config& cfg,
                               const modules::ModelTokenizerPtr& tokenizer) {
  using config::Node;
  const Node* node = cfg.find("dataset");
  DatasetPtr ds;
  if (node == nullptr || !node->is_list()) {
    ds = config::instantiate<DatasetPtr, modules::ModelTokenizerPtr>(cfg, "dataset", Node::map(),
                                                                     tokenizer);
  } else {
    std::vector<DatasetPtr> parts;
    for (size_t i = 0; i < node->items.size(); ++i)
      parts.push_back(config::instantiate<DatasetPtr, modules::ModelTokenizerPtr>(
          cfg, str("dataset.", i), Node::map(), tokenizer));
    ds = std::make_shared<ConcatDataset>(std::move(parts), cfg.where("dataset"));
  }
  // Zero samples train nothing (and would be reported as a batch_size problem later).
  TT_CHECK(ds->size() > 0, cfg.where("dataset"),
           "the dataset has no samples: its split selects no records; widen `split` (e.g. train, "
           "or train[:90%])");
  return ds;
}

namespace {

class TokenIdCheck : public Dataset {
 public:
  TokenIdCheck(DatasetPtr inner, int64_t vocab_size, std::string where)
      : inner_(std::move(inner)), vocab_size_(vocab_size), where_(std::move(where)) {}
  int64_t size() const override { return inner_->size(); }
  bool packed() const override { return inner_->packed(); }
  Sample get(int64_t index) const override {
    Sample s = inner_->get(index);
    for (size_t i = 0; i < s.tokens.size(); ++i) {
      const int64_t id = s.tokens[i];
      TT_CHECK(id >= 0 && id < vocab_size_, str("dataset sample ", index), "token id ", id,
               " (position ", i, ") is outside the model's vocabulary of ", vocab_size_, " ids (",
               where_,
               "); the tokenizer or its prompt template produces ids this model cannot embed: "
               "use the tokenizer that belongs to the model, or a model whose vocab_size covers "
               "the tokenizer's ids");
    }
    return s;
  }

 private:
  DatasetPtr inner_;
  int64_t vocab_size_;
  std::string where_;
};

}  // namespace

DatasetPtr check_token_ids(DatasetPtr dataset, int64_t vocab_size, const std::string& where) {
  return std::make_shared<TokenIdCheck>(std::move(dataset), vocab_size, where);
}

}  // namespace tt::data
