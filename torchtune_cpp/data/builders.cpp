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
  TT_CHECK(files.is_scalar(), kw.where("data_files"), "data_files must be a path or a list of paths");
  return {kw.get_string("data_files")};
}

// The split's records of the configured source.
std::vector<JsonRecord> records_of(const Kwargs& kw) {
  TT_CHECK(!kw.has("filter_fn"), kw.where("filter_fn"), "filter_fn is not supported; filter the data file beforehand");
  std::vector<JsonRecord> all = load_dataset_records(kw.get_string("source"), data_files_of(kw), kw.key());
  std::vector<JsonRecord> records;
  for (int64_t i : split_indices(kw.get_string("split"), static_cast<int64_t>(all.size()), kw.where("split")))
    records.push_back(std::move(all[static_cast<size_t>(i)]));
  return records;
}

DatasetPtr maybe_packed(DatasetPtr ds, const Kwargs& kw, const llama2::Llama2Tokenizer& tokenizer,
                        bool split_across_pack) {
  if (!kw.get_bool("packed")) return ds;
  TT_CHECK(tokenizer.max_seq_len().has_value(), kw.where("packed"),
           "PackedDataset requires a max_seq_len to be set on the tokenizer; set tokenizer.max_seq_len");
  return std::make_shared<PackedDataset>(*ds, *tokenizer.max_seq_len(), std::nullopt, tokenizer.pad_id(),
                                         split_across_pack);
}

// An SFT dataset over `records`: every record's messages are built and checked now.
DatasetPtr sft(std::vector<JsonRecord> records, MessageTransform transform, llama2::TokenizerPtr tokenizer,
               const Kwargs& kw) {
  for (const JsonRecord& r : records) validate_messages(transform(r), r.where());
  auto ds = std::make_shared<SftDataset>(std::move(records), std::move(transform), tokenizer);
  return maybe_packed(ds, kw, *tokenizer, false);
}

// torchtune's instruct, chat and text-completion builders all require `source`.
std::vector<ArgSpec> common_args() {
  return {arg("source", ArgType::kString,
              "json, csv or text with data_files, or a Hugging Face dataset name in the local hub cache"),
          arg("data_files", ArgType::kAny, "null", "path or list of paths"),
          arg("packed", ArgType::kBool, "False", "pack samples to tokenizer.max_seq_len (PackedDataset)"),
          arg("filter_fn", ArgType::kAny, "null", "not supported: must be null"),
          arg("split", ArgType::kString, "train", "train, or a slice of it: train[:10%], train[100:200]")};
}

std::optional<std::string> optional_string(const Kwargs& kw, const char* name) {
  return kw.has(name) ? kw.get_optional_string(name) : std::nullopt;
}

void register_instruct() {
  std::vector<ArgSpec> args = common_args();
  args.push_back(arg("column_map", ArgType::kAny, "null", "{input: <column>, output: <column>}"));
  args.push_back(arg("train_on_input", ArgType::kBool, "False", "include the prompt in the loss"));
  args.push_back(arg("new_system_prompt", ArgType::kString, "null", "a system message added to every sample"));
  config::register_component<DatasetPtr, llama2::TokenizerPtr>(
      config::ComponentSpec{"torchtune.datasets.instruct_dataset", "dataset",
                            "prompt/response pairs (InputOutputToMessages)", {"tokenizer"}, args},
      [](const Kwargs& kw, llama2::TokenizerPtr tokenizer) {
        InputOutputOptions o;
        if (kw.has("column_map")) {
          const config::Node& map = kw.node("column_map");
          TT_CHECK(map.is_map(), kw.where("column_map"), "column_map must map input and output to column names");
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
        return sft(records_of(kw), [o](const JsonRecord& r) { return input_output_to_messages(r, o); },
                   std::move(tokenizer), kw);
      });
}

void register_chat() {
  std::vector<ArgSpec> args = common_args();
  args.push_back(arg("conversation_column", ArgType::kString, "the column holding each conversation"));
  args.push_back(arg("conversation_style", ArgType::kString, "sharegpt or openai"));
  args.push_back(arg("train_on_input", ArgType::kBool, "False", "include non-assistant turns in the loss"));
  args.push_back(arg("new_system_prompt", ArgType::kString, "null", "replaces any system message"));
  config::register_component<DatasetPtr, llama2::TokenizerPtr>(
      config::ComponentSpec{"torchtune.datasets.chat_dataset", "dataset",
                            "multi-turn conversations (ShareGPT or OpenAI layout)", {"tokenizer"}, args},
      [](const Kwargs& kw, llama2::TokenizerPtr tokenizer) {
        ConversationOptions o;
        const std::string style = kw.get_string("conversation_style");
        TT_CHECK(style == "sharegpt" || style == "openai", kw.where("conversation_style"),
                 "Unsupported conversation style: ", style, "; use sharegpt or openai");
        o.style = style == "sharegpt" ? ConversationStyle::kShareGpt : ConversationStyle::kOpenAi;
        o.column = kw.get_string("conversation_column");
        o.train_on_input = kw.get_bool("train_on_input");
        o.new_system_prompt = optional_string(kw, "new_system_prompt");
        return sft(records_of(kw), [o](const JsonRecord& r) { return conversation_to_messages(r, o); },
                   std::move(tokenizer), kw);
      });
}

void register_text_completion() {
  std::vector<ArgSpec> args = common_args();
  args.push_back(arg("column", ArgType::kString, "text", "the column holding the text"));
  args.push_back(arg("add_eos", ArgType::kBool, "True", "end each sample with EOS"));
  args.push_back(arg("split_across_pack", ArgType::kBool, "True",
                     "with packed: cut a sample at a pack's end and continue it in the next"));
  config::register_component<DatasetPtr, llama2::TokenizerPtr>(
      config::ComponentSpec{"torchtune.datasets.text_completion_dataset", "dataset",
                            "unstructured text for continued pre-training", {"tokenizer"}, args},
      [](const Kwargs& kw, llama2::TokenizerPtr tokenizer) {
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

DatasetPtr instantiate_dataset(const config::Config& cfg, const llama2::TokenizerPtr& tokenizer) {
  using config::Node;
  const Node* node = cfg.find("dataset");
  if (node == nullptr || !node->is_list())
    return config::instantiate<DatasetPtr, llama2::TokenizerPtr>(cfg, "dataset", Node::map(), tokenizer);
  std::vector<DatasetPtr> parts;
  for (size_t i = 0; i < node->items.size(); ++i)
    parts.push_back(config::instantiate<DatasetPtr, llama2::TokenizerPtr>(cfg, str("dataset.", i), Node::map(),
                                                                         tokenizer));
  return std::make_shared<ConcatDataset>(std::move(parts), cfg.where("dataset"));
}

}  // namespace tt::data
