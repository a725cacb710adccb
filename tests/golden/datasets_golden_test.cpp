// The dataset builders against Python torchtune 0.6.1's own: every case of
// tests/assets/golden/data/datasets.json (made by tests/scripts/make_dataset_fixtures.py from
// data files written for this project) is built here from the same `dataset:` config with the
// same tokenizer, and every sample's tokens and labels (packed: also input_pos and seq_lens)
// must be equal. Covered: instruct_dataset (column_map, train_on_input, new_system_prompt,
// split slices, CSV, packed), chat_dataset (ShareGPT and OpenAI, truncation, packed),
// text_completion_dataset (text, JSON Lines and CSV sources, add_eos, truncation, packing with
// and without split_across_pack), and lists of datasets. Bad inputs torchtune rejects are
// rejected here too, when the dataset is built (so before anything is written), with an error
// naming the file and line or the config key, and the fix.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "torchtune_cpp/config/config.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/data/builders.h"
#include "torchtune_cpp/data/concat.h"
#include "torchtune_cpp/data/local_files.h"
#include "torchtune_cpp/data/packed.h"
#include "torchtune_cpp/data/text_completion.h"
#include "torchtune_cpp/models/llama2/tokenizer.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::data {
namespace {

using nlohmann::json;

const std::string kRoot = TT_SOURCE_DIR;

json golden() {
  std::ifstream in(kRoot + "/tests/assets/golden/data/datasets.json");
  return json::parse(in);
}

llama2::TokenizerPtr tokenizer(const json& max_seq_len) {
  return std::make_shared<llama2::Llama2Tokenizer>(
      kRoot + "/tests/assets/tokenizer/tokenizer.model",
      max_seq_len.is_null() ? std::nullopt : std::optional<int64_t>(max_seq_len.get<int64_t>()));
}

// As the recipe builds `dataset:` (JSON is YAML); paths are relative to the source root.
DatasetPtr build(const json& dataset_config, const json& max_seq_len) {
  register_datasets();
  json cfg_json = dataset_config;
  auto rebase = [](json& c) {
    if (c.contains("data_files") && c["data_files"].is_string())
      c["data_files"] = kRoot + "/" + c["data_files"].get<std::string>();
  };
  if (cfg_json.is_array())
    for (auto& c : cfg_json) rebase(c);
  else
    rebase(cfg_json);
  config::Config cfg(config::parse_yaml("dataset: " + cfg_json.dump() + "\n", "datasets.json"),
                     "datasets.json");
  auto tok = tokenizer(max_seq_len);
  if (!cfg_json.is_array())
    return config::instantiate<DatasetPtr, modules::ModelTokenizerPtr>(cfg, "dataset",
                                                                       config::Node::map(), tok);
  std::vector<DatasetPtr> parts;
  for (size_t i = 0; i < cfg_json.size(); ++i)
    parts.push_back(config::instantiate<DatasetPtr, modules::ModelTokenizerPtr>(
        cfg, str("dataset.", i), config::Node::map(), tok));
  return std::make_shared<ConcatDataset>(std::move(parts));
}

void expect_samples(const DatasetPtr& ds, const json& expected, const std::string& name) {
  ASSERT_EQ(ds->size(), static_cast<int64_t>(expected.size())) << name;
  for (size_t i = 0; i < expected.size(); ++i) {
    Sample s = ds->get(static_cast<int64_t>(i));
    const json& e = expected[i];
    EXPECT_EQ(s.tokens, e["tokens"].get<std::vector<int64_t>>()) << name << " sample " << i;
    EXPECT_EQ(s.labels, e["labels"].get<std::vector<int64_t>>()) << name << " sample " << i;
    if (e.contains("input_pos")) {
      EXPECT_EQ(s.input_pos, e["input_pos"].get<std::vector<int64_t>>()) << name << " sample " << i;
      EXPECT_EQ(s.seq_lens, e["seq_lens"].get<std::vector<int64_t>>()) << name << " sample " << i;
    }
  }
}

TEST(DatasetsGolden, EveryCaseEqualsTorchtune) {
  json g = golden();
  int cases = 0;
  for (const json& c : g["cases"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    DatasetPtr ds = build(c["dataset_config"], c["max_seq_len"]);
    EXPECT_EQ(ds->packed(), c["packed"].get<bool>());
    EXPECT_EQ(ds->size(), c["num_samples"].get<int64_t>());
    expect_samples(ds, c["samples"], name);
    ++cases;
  }
  EXPECT_GE(cases, 29);
}

// What our error must say for each bad input (file:line or key, and the problem).
const std::map<std::string, std::vector<std::string>> kExpected = {
    {"jsonl_malformed_line", {"instruct_malformed.jsonl:2"}},
    {"jsonl_record_missing_mapped_column", {"instruct_missing_column.jsonl:2", "'answer'"}},
    {"csv_record_empty_mapped_value",
     {"instruct_missing_value.csv:3", "'answer'", "empty or missing"}},
    {"column_map_names_absent_column", {"instruct_qa.jsonl:1", "'response'", "column_map"}},
    {"column_map_without_output_key",
     {"dataset.column_map", "Expected a key of 'output' in column_map"}},
    {"default_columns_absent", {"instruct_qa.jsonl:1", "'input'", "column_map"}},
    {"sharegpt_empty_conversation",
     {"chat_empty_conversation.json", "Messages must be at least length 2, but got 0 messages"}},
    {"sharegpt_unknown_role", {"chat_unknown_role.json", "'bot'", "human"}},
    {"openai_invalid_turn_orders",
     {"chat_invalid_turns.jsonl:2", "Messages must be at least length 2, but got 1 messages"}},
    {"chat_unsupported_style",
     {"dataset.conversation_style", "Unsupported conversation style: chatml"}},
    {"chat_missing_conversation_column", {"conversation_column"}},
    {"sharegpt_wrong_column", {"chat_sharegpt.json", "'messages'", "conversation_column"}},
    {"text_column_absent", {"text_docs.jsonl:1", "'body'"}},
    {"packed_without_max_seq_len",
     {"dataset.packed", "PackedDataset requires a max_seq_len to be set on the tokenizer"}},
    {"concat_mixed_packed",
     {"ConcatDataset can't process a mix of packed and non-packed datasets."}},
};

TEST(DatasetsGolden, BadInputsAreRejectedWhenTheDatasetIsBuilt) {
  json g = golden();
  int checked = 0;
  for (const json& c : g["errors"]) {
    const std::string name = c["name"];
    SCOPED_TRACE(name);
    if (name == "packed_dataset_direct_sample_too_long") {
      // No config reaches this: PackedDataset over untruncated samples, without splitting.
      auto tok = tokenizer(nullptr);
      TextCompletionDataset text(load_text_file(kRoot + "/tests/assets/data/text_corpus.txt"),
                                 "text", true, tok);
      try {
        PackedDataset(text, 64);
        ADD_FAILURE() << "expected an error";
      } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find(c["error"]["message"].get<std::string>()),
                  std::string::npos)
            << e.what();
      }
      ++checked;
      continue;
    }
    if (c["raised_at"].is_null()) {
      // torchtune builds these (truncating, keeping blank lines): so do we, sample for sample.
      expect_samples(build(c["dataset_config"], c["max_seq_len"]), c["samples"], name);
      ++checked;
      continue;
    }
    try {
      build(c["dataset_config"], c["max_seq_len"]);
      ADD_FAILURE() << "expected an error when building";
    } catch (const Error& e) {
      const std::string what = e.what();
      for (const std::string& part : kExpected.at(name))
        EXPECT_NE(what.find(part), std::string::npos) << "missing '" << part << "' in: " << what;
    }
    ++checked;
  }
  EXPECT_EQ(checked, 19);
}

}  // namespace
}  // namespace tt::data
