// The data path's own behaviour: reading JSON arrays and JSON Lines with positions, errors
// naming file:line for bad data, the Alpaca prompts, labels, collation, sampler properties,
// packing and building datasets from a config (exact values against torchtune are in
// tests/golden/data_golden_test.cpp).
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdlib>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>

#include "tests/common/temp_dir.h"
#include "tests/unit/test_util.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/data/alpaca.h"
#include "torchtune_cpp/data/builders.h"
#include "torchtune_cpp/data/collate.h"
#include "torchtune_cpp/data/json_records.h"
#include "torchtune_cpp/data/local_files.h"
#include "torchtune_cpp/data/packed.h"
#include "torchtune_cpp/data/sampler.h"
#include "torchtune_cpp/data/split.h"
#include "torchtune_cpp/models/llama2/tokenizer.h"

namespace tt::data {
namespace {

namespace fs = std::filesystem;

const std::string kRoot = TT_SOURCE_DIR;
const std::string kModel = kRoot + "/tests/assets/tokenizer/tokenizer.model";
const std::string kAlpaca = kRoot + "/tests/assets/data/alpaca_tiny.json";

// A scratch directory removed at the end of the test.
using tt::testing::TempDir;

TEST(JsonRecords, ReadsTheProjectDatasetWithLines) {
  std::vector<JsonRecord> records = load_json_file(kAlpaca);
  ASSERT_EQ(records.size(), 64u);
  EXPECT_EQ(records[0].line, 2);
  EXPECT_EQ(records[1].line, 7);  // json.dump(indent=2): five lines per record
  EXPECT_EQ(records[0].find("instruction")->text, "Name three primary colors.");
  EXPECT_EQ(records[0].find("input")->kind, FieldValue::Kind::kString);
  EXPECT_EQ(records[0].find("input")->text, "");
  EXPECT_EQ(records[0].where(), kAlpaca + ":2");
  int empty_inputs = 0;
  for (const JsonRecord& r : records) empty_inputs += r.find("input")->text.empty();
  EXPECT_GT(empty_inputs, 10);
  EXPECT_LT(empty_inputs, 54);
}

TEST(JsonRecords, JsonLinesSkipsBlankLinesAndKeepsLineNumbers) {
  TempDir dir;
  const std::string p =
      dir.write("d.jsonl", "{\"a\": \"x\", \"n\": 3}\n\n  {\"a\": null}\r\n{\"a\": \"[\\\"]\"}");
  std::vector<JsonRecord> r = load_json_file(p);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].line, 1);
  EXPECT_EQ(r[0].find("n")->kind, FieldValue::Kind::kOther);
  EXPECT_EQ(r[0].find("n")->text, "3");
  EXPECT_EQ(r[1].line, 3);
  EXPECT_EQ(r[1].find("a")->kind, FieldValue::Kind::kNull);
  EXPECT_EQ(r[2].line, 4);
  EXPECT_EQ(r[2].find("a")->text, "[\"]");
  // Several files concatenate in order.
  EXPECT_EQ(load_json_files({p, p}).size(), 6u);
}

TEST(JsonRecords, ArrayElementLinesSurviveTrickyStrings) {
  TempDir dir;
  const std::string p =
      dir.write("d.json", "\xEF\xBB\xBF[\n{\"a\": \"],{\\\"\"},\n\n  {\"a\": \"[{\"}\n, {}]\n");
  std::vector<JsonRecord> r = load_json_file(p);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].line, 2);
  EXPECT_EQ(r[1].line, 4);
  EXPECT_EQ(r[2].line, 5);
  EXPECT_TRUE(load_json_file(dir.write("empty.json", " \n")).empty());
  EXPECT_TRUE(load_json_file(dir.write("empty_array.json", "[ ]")).empty());
}

TEST(JsonRecords, MalformedDataNamesFileAndLine) {
  TempDir dir;
  const std::string jl = dir.write("bad.jsonl", "{\"a\": \"x\"}\n{\"a\": \"y\",}\n");
  testing::expect_error([&] { load_json_file(jl); }, {jl + ":2:", "malformed JSON Lines record"});
  const std::string trunc = dir.write("trunc.jsonl", "{\"a\": \"x\"}\n{\"a\": \"y\"");
  testing::expect_error([&] { load_json_file(trunc); }, {trunc + ":2:", "malformed"});
  const std::string arr = dir.write("bad.json", "[\n{\"a\": 1},\n{\"a\" 2}\n]");
  testing::expect_error([&] { load_json_file(arr); }, {arr + ":3:", "malformed JSON"});
  const std::string not_obj = dir.write("list.json", "[\n{\"a\": 1},\n  7\n]");
  testing::expect_error([&] { load_json_file(not_obj); },
                        {not_obj + ":3:3", "JSON object", "number"});
  const std::string jl_not_obj = dir.write("list.jsonl", "{\"a\": 1}\n[1, 2]\n");
  testing::expect_error([&] { load_json_file(jl_not_obj); }, {jl_not_obj + ":2:1", "JSON object"});
  testing::expect_error([&] { load_json_file((dir.path() / "none.json").string()); },
                        {"none.json", "cannot read", "data_files"});
  // Bytes that are not UTF-8 inside a string: an error, not a crash.
  const std::string latin1 = dir.write("latin1.jsonl", "{\"a\": \"caf\xE9\"}\n");
  testing::expect_error([&] { load_json_file(latin1); }, {latin1 + ":1:", "malformed"});
}

JsonRecord record(std::map<std::string, FieldValue> fields) {
  return JsonRecord{"f.json", 7, std::move(fields)};
}
FieldValue text(const std::string& s) {
  return {FieldValue::Kind::kString, s};
}

TEST(Alpaca, PromptsAreTorchtunes) {
  const std::string in = "ctx";
  EXPECT_EQ(alpaca_prompt("Do X.", &in),
            "Below is an instruction that describes a task, paired with an input that provides "
            "further context. Write a response that appropriately completes the request.\n\n"
            "### Instruction:\nDo X.\n\n### Input:\nctx\n\n### Response:\n");
  const std::string empty;
  const std::string no_input =
      "Below is an instruction that describes a task. Write a response that appropriately "
      "completes the request.\n\n### Instruction:\nDo X.\n\n### Response:\n";
  EXPECT_EQ(alpaca_prompt("Do X.", &empty), no_input);
  EXPECT_EQ(alpaca_prompt("Do X.", nullptr), no_input);
}

TEST(Alpaca, MessagesMaskThePromptUnlessTrainOnInput) {
  JsonRecord r = record({{"instruction", text("I")}, {"input", text("")}, {"output", text("O")}});
  std::vector<modules::Message> m = alpaca_to_messages(r, true);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].role, "user");
  EXPECT_FALSE(m[0].masked);
  EXPECT_EQ(m[1].role, "assistant");
  EXPECT_EQ(m[1].content, "O");
  EXPECT_FALSE(m[1].masked);
  EXPECT_TRUE(alpaca_to_messages(r, false)[0].masked);
  // Null or absent input means no input.
  JsonRecord null_input =
      record({{"instruction", text("I")}, {"input", {}}, {"output", text("O")}});
  EXPECT_EQ(alpaca_to_messages(null_input, true)[0].content, alpaca_prompt("I", nullptr));
  JsonRecord no_input = record({{"instruction", text("I")}, {"output", text("O")}});
  EXPECT_EQ(alpaca_to_messages(no_input, true)[0].content, alpaca_prompt("I", nullptr));
}

TEST(Alpaca, ColumnMapAndMissingColumns) {
  JsonRecord r = record({{"q", text("I")}, {"ctx", text("C")}, {"a", text("O")}});
  AlpacaColumns cols{"q", "ctx", "a"};
  const std::string ctx = "C";
  EXPECT_EQ(alpaca_to_messages(r, true, cols)[0].content, alpaca_prompt("I", &ctx));
  testing::expect_error([&] { alpaca_to_messages(r, true); },
                        {"f.json:7", "no 'instruction' column", "column_map"});
  JsonRecord no_output = record({{"instruction", text("I")}});
  testing::expect_error([&] { alpaca_to_messages(no_output, true); }, {"f.json:7", "'output'"});
  JsonRecord number =
      record({{"instruction", text("I")}, {"output", {FieldValue::Kind::kOther, "5"}}});
  testing::expect_error([&] { alpaca_to_messages(number, true); },
                        {"f.json:7", "'output' must be a string", "5"});
  JsonRecord bad_input = record({{"instruction", text("I")},
                                 {"input", {FieldValue::Kind::kOther, "[1]"}},
                                 {"output", text("O")}});
  testing::expect_error([&] { alpaca_to_messages(bad_input, true); }, {"f.json:7", "'input'"});
}

TEST(Sft, LabelsAreTokensWithMaskedPositionsIgnored) {
  auto tok = std::make_shared<llama2::Llama2Tokenizer>(kModel);
  std::vector<modules::Message> msgs{modules::Message{"user", "Hello there", true},
                                     modules::Message{"assistant", "Hi", false}};
  Sample s = sft_transform(*tok, msgs);
  llama2::TokenizedMessages t = tok->tokenize_messages(msgs);
  ASSERT_EQ(s.tokens, t.tokens);
  ASSERT_EQ(s.labels.size(), s.tokens.size());
  for (size_t i = 0; i < s.tokens.size(); ++i)
    EXPECT_EQ(s.labels[i], t.mask[i] ? modules::kIgnoreIndex : s.tokens[i]);
  EXPECT_EQ(s.labels.front(), modules::kIgnoreIndex);  // BOS of the masked user turn
  EXPECT_EQ(s.labels.back(), 2);                       // EOS after the assistant
}

TEST(Sft, AlpacaDatasetIsLazyAndBoundsChecked) {
  auto tok = std::make_shared<llama2::Llama2Tokenizer>(kModel);
  AlpacaOptions o;
  o.source = "json";
  o.data_files = {kAlpaca};
  DatasetPtr ds = alpaca_dataset(tok, o);
  EXPECT_EQ(ds->size(), 64);
  EXPECT_FALSE(ds->packed());
  EXPECT_EQ(ds->get(3).tokens.front(), 1);
  testing::expect_error([&] { ds->get(64); }, {"out of range"});
  // A hub name is looked up in the local hub cache only (here an empty one).
  ::setenv("HF_HUB_CACHE", "/nonexistent/hf_hub_cache", 1);
  o.source = "tatsu-lab/alpaca";
  o.data_files.clear();
  testing::expect_error([&] { alpaca_dataset(tok, o, "dataset"); },
                        {"dataset.source", "tatsu-lab/alpaca",
                         "not in the local Hugging Face hub cache", "source: json", "data_files"});
  o.source = "json";
  o.data_files = {kAlpaca};
  o.split = "validation";
  testing::expect_error([&] { alpaca_dataset(tok, o); }, {"dataset.split", "validation"});
  o.split = "train[:10%]";
  EXPECT_EQ(alpaca_dataset(tok, o)->size(), 6);
  o.split = "train";
  o.packed = true;
  testing::expect_error([&] { alpaca_dataset(tok, o); }, {"dataset.packed", "max_seq_len"});
  o.packed = false;
  o.data_files.clear();
  testing::expect_error([&] { alpaca_dataset(tok, o); }, {"dataset.data_files"});
}

std::vector<int64_t> range(int64_t a, int64_t b) {
  std::vector<int64_t> r;
  for (int64_t i = a; i < b; ++i) r.push_back(i);
  return r;
}

TEST(Split, SlicesAsHuggingFaceReadsThem) {
  EXPECT_EQ(split_indices("train", 4), range(0, 4));
  EXPECT_EQ(split_indices("train[:]", 4), range(0, 4));
  EXPECT_EQ(split_indices("train[1:3]", 4), range(1, 3));
  EXPECT_EQ(split_indices("train[-1:]", 4), range(3, 4));
  EXPECT_EQ(split_indices("train[:-10]", 4), range(0, 0));
  EXPECT_EQ(split_indices("train[2:1]", 4), range(0, 0));
  // 10 * 25 / 100 = 2.5 rounds half to even: 2; 10 * 35 / 100 = 3.5 rounds to 4.
  EXPECT_EQ(split_indices("train[:25%]", 10), range(0, 2));
  EXPECT_EQ(split_indices("train[:35%]", 10), range(0, 4));
  EXPECT_EQ(split_indices("train[:35%](closest)", 10), range(0, 4));
  EXPECT_EQ(split_indices("train[:1] + train[-1:]", 4), (std::vector<int64_t>{0, 3}));
  EXPECT_EQ(split_indices("train[1_0:]", 12), range(10, 12));
  testing::expect_error([] { split_indices("validation", 4); },
                        {"dataset.split", "'validation'", "train"});
  testing::expect_error([] { split_indices("train[:5%](pct1_dropremainder)", 4); },
                        {"pct1_dropremainder", "not supported"});
  testing::expect_error([] { split_indices("train[:5](closest)", 4); }, {"percent"});
  testing::expect_error([] { split_indices("train[:101%]", 4); }, {"-100% and 100%"});
  testing::expect_error([] { split_indices("train[a:b]", 4, "x.split"); },
                        {"x.split", "unrecognized split"});
  testing::expect_error([] { split_indices("train[1__0:]", 4); }, {"invalid number"});
  testing::expect_error([] { split_indices("train[99999999999999999999:]", 4); }, {"too large"});
}

TEST(Collate, RightPadsToTheLongestSample) {
  std::vector<Sample> batch{{{1, 2, 3}, {4, 5, 6}, {}, {}}, {{7}, {10}, {}, {}}};
  SftBatch b = padded_collate_sft(batch);
  EXPECT_EQ(b.tokens.dtype(), at::kLong);
  EXPECT_TRUE(at::equal(b.tokens, at::tensor({1, 2, 3, 7, 0, 0}, at::kLong).view({2, 3})));
  EXPECT_TRUE(at::equal(b.labels, at::tensor({4, 5, 6, 10, -100, -100}, at::kLong).view({2, 3})));
  // Labels longer than tokens: tokens are padded to the labels' width.
  SftBatch c = padded_collate_sft({{{1}, {4, 5}, {}, {}}}, 9, -1);
  EXPECT_TRUE(at::equal(c.tokens, at::tensor({1, 9}, at::kLong).view({1, 2})));
  testing::expect_error([] { padded_collate_sft({}); }, {"empty batch"});
}

TEST(Sampler, RanksPartitionAPaddedPermutation) {
  for (int64_t world : {1, 2, 3, 5}) {
    std::vector<int64_t> all;
    for (int64_t rank = 0; rank < world; ++rank) {
      SamplerOptions o{world, rank, true, 0, false};
      std::vector<int64_t> mine = distributed_sampler_indices(64, 1, o);
      EXPECT_EQ(static_cast<int64_t>(mine.size()), (64 + world - 1) / world);
      all.insert(all.end(), mine.begin(), mine.end());
    }
    std::set<int64_t> distinct(all.begin(), all.end());
    EXPECT_EQ(distinct.size(), 64u) << world;
  }
  SamplerOptions plain{1, 0, false, 0, false};
  std::vector<int64_t> ordered = distributed_sampler_indices(5, 3, plain);
  EXPECT_EQ(ordered, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  SamplerOptions three{3, 2, false, 0, true};
  EXPECT_EQ(distributed_sampler_indices(7, 0, three), (std::vector<int64_t>{2, 5}));
  // More replicas than samples: padding cycles through the samples.
  SamplerOptions many{5, 4, false, 0, false};
  EXPECT_EQ(distributed_sampler_indices(2, 0, many), (std::vector<int64_t>{0}));
  SamplerOptions s0{1, 0, true, 0, false};
  EXPECT_NE(distributed_sampler_indices(64, 0, s0), distributed_sampler_indices(64, 1, s0));
  testing::expect_error(
      [] {
        distributed_sampler_indices(4, 0, SamplerOptions{2, 2});
      },
      {"rank 2"});
  EXPECT_EQ(batch_indices({5, 6, 7, 8, 9}, 2), (std::vector<std::vector<int64_t>>{{5, 6}, {7, 8}}));
}

// A dataset of samples with given lengths, token values marking sample and position.
struct FixedDataset : Dataset {
  std::vector<int64_t> lens;
  explicit FixedDataset(std::vector<int64_t> l) : lens(std::move(l)) {}
  int64_t size() const override { return static_cast<int64_t>(lens.size()); }
  Sample get(int64_t i) const override {
    Sample s;
    for (int64_t j = 0; j < lens[static_cast<size_t>(i)]; ++j) {
      s.tokens.push_back(100 * (i + 1) + j);
      s.labels.push_back(j == 0 ? modules::kIgnoreIndex : 100 * (i + 1) + j);
    }
    return s;
  }
};

TEST(Packed, GreedyPacksWithPositionsAndPadding) {
  // 3 + 4 fit in 8; the 2 overflows, so [3, 4] is padded by one and [2, 5] starts anew.
  PackedDataset p(FixedDataset({3, 4, 2, 5}), 8);
  ASSERT_EQ(p.size(), 2);
  EXPECT_TRUE(p.packed());
  Sample a = p.get(0);
  EXPECT_EQ(a.tokens, (std::vector<int64_t>{100, 101, 102, 200, 201, 202, 203, 0}));
  EXPECT_EQ(a.labels, (std::vector<int64_t>{-100, 101, 102, -100, 201, 202, 203, -100}));
  EXPECT_EQ(a.input_pos, (std::vector<int64_t>{0, 1, 2, 0, 1, 2, 3, 4}));
  EXPECT_EQ(a.seq_lens, (std::vector<int64_t>{3, 4, 1}));
  Sample b = p.get(1);
  EXPECT_EQ(b.tokens, (std::vector<int64_t>{300, 301, 400, 401, 402, 403, 404, 0}));
  EXPECT_EQ(b.seq_lens, (std::vector<int64_t>{2, 5, 1}));
  // A pack filled exactly gets no padding entry in seq_lens.
  PackedDataset exact(FixedDataset({3, 5, 1}), 8);
  ASSERT_EQ(exact.size(), 2);
  EXPECT_EQ(exact.get(0).seq_lens, (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(exact.get(1).seq_lens, (std::vector<int64_t>{1, 7}));
  // Padding positions clamp at max_seq_len - 1.
  PackedDataset q(FixedDataset({7}), 10);
  EXPECT_EQ(q.get(0).input_pos, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  PackedDataset limited(FixedDataset({3, 4, 2, 5}), 8, 1);
  EXPECT_EQ(limited.size(), 1);
  testing::expect_error(
      [] {
        PackedDataset too_long(FixedDataset({3, 9}), 8);
      },
      {"sample 1", "too long (9 > 8)", "max_seq_len"});
}

TEST(Collate, PackedBatchHasABlockCausalMask) {
  PackedDataset p(FixedDataset({2, 1, 3}), 4);
  ASSERT_EQ(p.size(), 2);
  PackedBatch b = padded_collate_packed({p.get(0), p.get(1)});
  EXPECT_EQ(b.tokens.sizes().vec(), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(b.mask.dtype(), at::kBool);
  // Pack 0: documents of 2 and 1, then one padding position; pack 1: 3, then padding.
  at::Tensor expected = at::tensor({1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1,
                                    1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1},
                                   at::kInt)
                            .to(at::kBool)
                            .view({2, 4, 4});
  EXPECT_TRUE(at::equal(b.mask, expected));
  EXPECT_TRUE(at::equal(b.input_pos, at::tensor({0, 1, 0, 1, 0, 1, 2, 3}, at::kLong).view({2, 4})));
  Sample unpacked{{1, 2}, {1, 2}, {}, {}};
  testing::expect_error(
      [&] {
        padded_collate_packed({p.get(0), unpacked});
      },
      {"pack 1", "packed dataset"});
}

class DatasetConfig : public ::testing::Test {
 protected:
  void SetUp() override { register_datasets(); }
  static DatasetPtr build(const std::string& body, int64_t max_seq_len = 0) {
    config::Config cfg(config::parse_yaml("dataset:\n" + body, "x.yaml"), "x.yaml");
    auto tok = std::make_shared<llama2::Llama2Tokenizer>(
        kModel, max_seq_len ? std::optional<int64_t>(max_seq_len) : std::nullopt);
    return config::instantiate<DatasetPtr, modules::ModelTokenizerPtr>(cfg, "dataset",
                                                                       config::Node::map(), tok);
  }
};

TEST_F(DatasetConfig, BuildsFromATorchtuneConfig) {
  DatasetPtr ds = build(
      "  _component_: torchtune.datasets.alpaca_dataset\n  source: json\n"
      "  data_files: " +
      kAlpaca + "\n  split: train\n  train_on_input: False\n");
  EXPECT_EQ(ds->size(), 64);
  EXPECT_EQ(ds->get(0).labels.front(), modules::kIgnoreIndex);
  DatasetPtr list = build(
      "  _component_: torchtune.datasets.alpaca_cleaned_dataset\n  source: json\n"
      "  data_files: [" +
      kAlpaca + ", " + kAlpaca +
      "]\n"
      "  column_map: {instruction: instruction, output: output}\n");
  EXPECT_EQ(list->size(), 128);
  DatasetPtr packed = build(
      "  _component_: torchtune.datasets.alpaca_dataset\n  source: json\n"
      "  data_files: " +
          kAlpaca + "\n  packed: True\n",
      400);
  EXPECT_TRUE(packed->packed());
  EXPECT_EQ(packed->get(0).tokens.size(), 400u);
}

TEST_F(DatasetConfig, ErrorsNameTheKeyOrTheDataLine) {
  ::setenv("HF_HUB_CACHE", "/nonexistent/hf_hub_cache", 1);
  testing::expect_error([] { build("  _component_: torchtune.datasets.alpaca_dataset\n"); },
                        {"dataset", "tatsu-lab/alpaca", "source: json"});
  testing::expect_error(
      [] {
        build(
            "  _component_: torchtune.datasets.alpaca_dataset\n  source: json\n"
            "  data_files: " +
            kAlpaca + "\n  column_map: {instruction: prompt}\n")
            ->get(5);
      },
      {kAlpaca + ":", "no 'prompt' column"});
  testing::expect_error(
      [] {
        build(
            "  _component_: torchtune.datasets.alpaca_dataset\n  source: json\n"
            "  data_files: " +
            kAlpaca + "\n  filter_fn: foo.bar\n");
      },
      {"dataset.filter_fn", "not supported"});
}

}  // namespace
}  // namespace tt::data

namespace tt::data {
namespace {

TEST(LocalFiles, HubNamesAreReadFromTheLocalCacheOnly) {
  namespace fs = std::filesystem;
  const fs::path cache = fs::temp_directory_path() / "tt_hf_hub_cache_data";
  fs::remove_all(cache);
  const fs::path repo = cache / "datasets--local-org--tiny-alpaca";
  fs::create_directories(repo / "snapshots/abc123/data");
  fs::create_directories(repo / "refs");
  std::ofstream(repo / "refs/main") << "abc123";
  fs::copy_file(kAlpaca, repo / "snapshots/abc123/data/train.json");
  ::setenv("HF_HUB_CACHE", cache.string().c_str(), 1);
  auto tok = std::make_shared<llama2::Llama2Tokenizer>(kModel);
  AlpacaOptions o;
  o.source = "local-org/tiny-alpaca";
  EXPECT_EQ(alpaca_dataset(tok, o)->size(), 64);
  // Parquet only: refused with the conversion and the data_files route.
  fs::remove(repo / "snapshots/abc123/data/train.json");
  std::ofstream(repo / "snapshots/abc123/data/train-00000-of-00001.parquet") << "PAR1";
  testing::expect_error(
      [&] { alpaca_dataset(tok, o, "dataset"); },
      {"dataset.source", "Parquet/Arrow", "to_json('data.jsonl')", "source: json, data_files"});
  ::setenv("HF_HUB_CACHE", "/nonexistent/hf_hub_cache", 1);
  fs::remove_all(cache);
}

TEST(LocalFiles, CsvAndTextAsHuggingFaceReadsThem) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / "tt_local_files";
  fs::create_directories(dir);
  std::ofstream(dir / "a.csv") << "q,a\n\"x, \"\"quoted\"\"\nline\",NA\r\nplain,\n";
  std::vector<JsonRecord> rows = load_csv_file((dir / "a.csv").string());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].find("q")->text, "x, \"quoted\"\nline");
  EXPECT_EQ(rows[0].find("a")->kind, FieldValue::Kind::kNull);  // pandas' NA
  EXPECT_EQ(rows[1].line, 4);
  EXPECT_EQ(rows[1].find("a")->kind, FieldValue::Kind::kNull);
  std::ofstream(dir / "b.csv") << "q,a\n\"open\n";
  testing::expect_error([&] { load_csv_file((dir / "b.csv").string()); },
                        {"b.csv:2", "never closed"});
  std::ofstream(dir / "c.txt") << "one\n\n  \r\nlast";
  std::vector<JsonRecord> lines = load_text_file((dir / "c.txt").string());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[1].find("text")->text, "");
  EXPECT_EQ(lines[2].find("text")->text, "  ");
  EXPECT_EQ(lines[3].find("text")->text, "last");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tt::data
