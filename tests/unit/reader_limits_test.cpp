// The readers of untrusted files refuse what they cannot read safely, each with a tt::Error
// naming the file (and key or line): safetensors files as strictly as Python's safetensors
// (every file of tests/assets/golden/safetensors_bad/, made and judged by
// tests/scripts/make_bad_safetensors.py), torch.save pickles that nest too deep, expand without
// bound or point outside their storages, JSON datasets nested too deep, holding numbers out of
// range or NUL bytes, CSV files whose short rows would pad out to billions of values, and
// configs whose YAML nests too deep or expands through aliases ("billion laughs"), whose
// interpolations multiply or nest without bound, whose dotted override keys are thousands of
// levels deep, or whose scalars are long enough to overflow a recursive regular expression.
#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "tests/common/temp_dir.h"
#include "tests/unit/test_util.h"
#include "torchtune_cpp/checkpointing/safetensors.h"
#include "torchtune_cpp/checkpointing/torch_save.h"
#include "torchtune_cpp/config/config.h"
#include "torchtune_cpp/config/node.h"
#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/data/json_records.h"
#include "torchtune_cpp/data/local_files.h"

namespace tt {
namespace {

namespace fs = std::filesystem;
using namespace std::string_literals;

// A scratch folder removed at the end of the test.
using tt::testing::TempDir;

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

// ---------------------------------------------------------------------------------------------
// safetensors

const std::string kBadSafetensors =
    std::string(TT_SOURCE_DIR) + "/tests/assets/golden/safetensors_bad/";

at::ScalarType torch_dtype(const std::string& name) {
  static const std::map<std::string, at::ScalarType> kTypes = {
      {"float32", at::kFloat},  {"bfloat16", at::kBFloat16}, {"float16", at::kHalf},
      {"float64", at::kDouble}, {"int64", at::kLong},        {"int32", at::kInt},
      {"uint8", at::kByte},     {"bool", at::kBool}};
  return kTypes.at(name);
}

TEST(SafetensorsStrict, RefusesEveryFilePythonRefusesAndReadsTheOthersAlike) {
  std::ifstream in(kBadSafetensors + "expected.json");
  const nlohmann::json expected = nlohmann::json::parse(in);
  int refused = 0, loaded = 0;
  for (const auto& c : expected["cases"]) {
    const std::string path = kBadSafetensors + c["file"].get<std::string>();
    SCOPED_TRACE(c["file"].get<std::string>() + ": " + c["what"].get<std::string>());
    if (c["python"] == "refused") {
      std::vector<std::string> parts = {path};
      if (c.contains("names")) parts.push_back(c["names"].get<std::string>());
      testing::expect_error([&] { checkpointing::SafetensorsFile f(path); }, parts);
      ++refused;
      continue;
    }
    checkpointing::SafetensorsFile f(path);
    const auto& tensors = c["tensors"];
    EXPECT_EQ(f.keys().size(), tensors.size());
    for (auto it = tensors.begin(); it != tensors.end(); ++it) {
      ASSERT_TRUE(f.contains(it.key())) << it.key();
      at::Tensor t = f.tensor(it.key());
      EXPECT_EQ(t.scalar_type(), torch_dtype(it.value()["dtype"]));
      EXPECT_EQ(t.sizes().vec(), it.value()["shape"].get<std::vector<int64_t>>());
      at::Tensor want = at::tensor(it.value()["values"].get<std::vector<double>>(), at::kDouble);
      EXPECT_TRUE(at::equal(t.to(at::kDouble).flatten(), want)) << it.key();
    }
    std::map<std::string, std::string> metadata;
    if (c["metadata"].is_object())
      metadata = c["metadata"].get<std::map<std::string, std::string>>();
    EXPECT_EQ(f.metadata(), metadata);
    ++loaded;
  }
  EXPECT_GE(refused, 40);
  EXPECT_GE(loaded, 8);
}

TEST(SafetensorsStrict, MessagesSayWhatIsWrong) {
  auto bad = [](const std::string& name) { return kBadSafetensors + name + ".safetensors"; };
  testing::expect_error([&] { checkpointing::SafetensorsFile f(bad("overlap")); },
                        {"[b]", "overlap", "'a'"});
  testing::expect_error([&] { checkpointing::SafetensorsFile f(bad("gap")); },
                        {"[b]", "4 bytes", "'a'"});
  testing::expect_error([&] { checkpointing::SafetensorsFile f(bad("trailing_bytes")); },
                        {"3 bytes after the last tensor"});
  testing::expect_error([&] { checkpointing::SafetensorsFile f(bad("shape_bytes_overflow")); },
                        {"[a]", "overflow"});
  testing::expect_error([&] { checkpointing::SafetensorsFile f(bad("shape_float")); },
                        {"[a]", "shape", "4.0"});
  testing::expect_error([&] { checkpointing::SafetensorsFile f(bad("offsets_string")); },
                        {"[a]", "data_offsets", "two"});
  testing::expect_error([&] { checkpointing::SafetensorsFile f(bad("dtype_unknown")); },
                        {"[a]", "'F31'"});
  testing::expect_error([&] { checkpointing::SafetensorsFile f(bad("metadata_int_value")); },
                        {"__metadata__", "format"});
  testing::expect_error([&] { checkpointing::SafetensorsFile f(bad("header_deep")); },
                        {"128 levels"});
  testing::expect_error([&] { checkpointing::SafetensorsFile f(bad("header_too_large")); },
                        {"100000000"});
}

// The reader still reads the real files (every fixture written by Python's safetensors).
TEST(SafetensorsStrict, ReadsEveryCommittedSafetensorsFixture) {
  int files = 0;
  for (const auto& e :
       fs::recursive_directory_iterator(std::string(TT_SOURCE_DIR) + "/tests/assets/golden")) {
    if (e.path().extension() != ".safetensors" ||
        e.path().parent_path().filename() == "safetensors_bad")
      continue;
    checkpointing::SafetensorsFile f(e.path().string());
    EXPECT_EQ(f.state_dict().size(), f.keys().size());
    ++files;
  }
  EXPECT_GE(files, 5);
}

// ---------------------------------------------------------------------------------------------
// torch.save

// A torch.save zip around a hand-written data.pkl and the given storage records.
std::string write_torch_zip(const TempDir& dir, const std::string& name, const std::string& pickle,
                            const std::vector<std::pair<std::string, std::string>>& storages = {}) {
  const std::string path = (dir.path() / name).string();
  caffe2::serialize::PyTorchStreamWriter writer(path);
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  for (const auto& [record, bytes] : storages)
    writer.writeRecord(record, bytes.data(), bytes.size());
  writer.writeEndOfFile();
  return path;
}

const std::string kOrderedDict = "ccollections\nOrderedDict\n";

// OrderedDict([(0, <inner>)]), nested `depth` times around None.
std::string nested_ordered_dicts(size_t depth) {
  return "\x80\x02" + repeat(kOrderedDict + "]K\x00"s, depth) + "N" +
         repeat(
             "\x86"
             "a\x85R",
             depth) +
         ".";
}

TEST(TorchSaveLimits, NestingThroughOrderedDictIsBounded) {
  TempDir dir;
  const std::string ok = write_torch_zip(dir, "ok.pt", nested_ordered_dicts(50));
  EXPECT_TRUE(checkpointing::load_torch_file(ok).is_ordered_dict());
  const std::string deep = write_torch_zip(dir, "deep.pt", nested_ordered_dicts(3000));
  testing::expect_error([&] { checkpointing::load_torch_file(deep); },
                        {deep, "nested more than 1000 levels"});
}

TEST(TorchSaveLimits, ExpansionThroughTheMemoIsBounded) {
  // x_{k+1} = OrderedDict([(0, x_k), (1, x_k)]) through BINPUT/BINGET: 2^40 values in 1 KB.
  std::string p =
      "\x80\x02N"
      "q\x00"
      "0"s;
  for (int k = 0; k < 40; ++k) {
    const char slot = static_cast<char>(k), next = static_cast<char>(k + 1);
    p += kOrderedDict + "](K\x00h"s + slot + "\x86K\x01h" + slot +
         "\x86"
         "e\x85Rq" +
         next + "0";
  }
  p += std::string("h") + static_cast<char>(40) + ".";
  TempDir dir;
  const std::string path = write_torch_zip(dir, "bomb.pt", p);
  const auto start = std::chrono::steady_clock::now();
  testing::expect_error([&] { checkpointing::load_torch_file(path); },
                        {path, "expands to more than"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

// _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', numel), offset, size, stride, ...)
std::string tensor_pickle(int64_t numel, const std::string& offset_size_stride) {
  auto i32 = [](int64_t v) {
    std::string s = "J";
    for (int b = 0; b < 4; ++b)
      s += static_cast<char>((static_cast<uint32_t>(v) >> (8 * b)) & 0xFF);
    return s;
  };
  return "\x80\x02"
         "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
         "ctorch\nFloatStorage\n"
         "X\x01\x00\x00\x00"
         "0X\x03\x00\x00\x00"
         "cpu"s +
         i32(numel) + "tQ" + offset_size_stride + "\x89" + kOrderedDict + ")RtR.";
}

TEST(TorchSaveLimits, TensorsOutsideTheirStorageNameTheRecord) {
  TempDir dir;
  const std::string four_floats(16, '\0');
  // offset 2, size (4,), stride (1,): elements 2..5 of a 4-element storage.
  const std::string past = write_torch_zip(
      dir, "past.pt", tensor_pickle(4, "K\x02K\x04\x85K\x01\x85"), {{"data/0", four_floats}});
  testing::expect_error([&] { checkpointing::load_torch_file(past); },
                        {past, "data/0", "element 5", "4 elements"});
  // size (-1,)
  const std::string negative =
      write_torch_zip(dir, "negative.pt", tensor_pickle(4, "K\x00J\xff\xff\xff\xff\x85K\x01\x85"s),
                      {{"data/0", four_floats}});
  testing::expect_error([&] { checkpointing::load_torch_file(negative); },
                        {negative, "data/0", "negative"});
  // size (2^31-1, 2^31-1), stride (2^31-1, 2^31-1)... overflows int64 on the last element
  const std::string big = "J\xff\xff\xff\x7f";
  const std::string overflow =
      write_torch_zip(dir, "overflow.pt",
                      tensor_pickle(4, "K\x00("s + repeat(big, 3) + "t(" + repeat(big, 3) + "t"),
                      {{"data/0", four_floats}});
  testing::expect_error([&] { checkpointing::load_torch_file(overflow); },
                        {overflow, "data/0", "overflows"});
  // the pickle wants 2^31 - 1 floats; the record holds 16 bytes
  const std::string huge =
      write_torch_zip(dir, "huge.pt", tensor_pickle(0x7fffffff, "K\x00K\x01\x85K\x01\x85"s),
                      {{"data/0", four_floats}});
  testing::expect_error([&] { checkpointing::load_torch_file(huge); }, {huge, "data/0"});
  // the record is 15 bytes: not a whole number of floats
  const std::string odd =
      write_torch_zip(dir, "odd.pt", tensor_pickle(4, "K\x00K\x01\x85K\x01\x85"s),
                      {{"data/0", std::string(15, '\0')}});
  testing::expect_error([&] { checkpointing::load_torch_file(odd); }, {odd, "data/0", "15 bytes"});
  // and a good one
  const std::string good = write_torch_zip(
      dir, "good.pt", tensor_pickle(4, "K\x01K\x03\x85K\x01\x85"), {{"data/0", four_floats}});
  EXPECT_EQ(checkpointing::load_torch_file(good).to_tensor().sizes().vec(),
            std::vector<int64_t>({3}));
}

// ---------------------------------------------------------------------------------------------
// JSON datasets

TEST(JsonReaderLimits, DeeplyNestedRecordsAreRefusedNotACrash) {
  TempDir dir;
  const std::string deep = repeat("[", 100000) + repeat("]", 100000);
  const std::string jsonl = dir.write("deep.jsonl",
                                      "{\"instruction\": \"a\", \"output\": \"b\"}\n"
                                      "{\"instruction\": \"a\", \"output\": \"b\", \"extra\": " +
                                          deep + "}\n");
  testing::expect_error([&] { data::load_json_file(jsonl); },
                        {jsonl + ":2:", "nested more than 1000 levels"});
  const std::string array =
      dir.write("deep.json", "[\n{\"instruction\": \"a\"},\n {\"x\": " + deep + "}\n]\n");
  testing::expect_error([&] { data::load_json_file(array); },
                        {array + ":3:", "nested more than 1000 levels"});
  // 1000 levels are fine, and read as their JSON text
  const std::string ok =
      dir.write("ok.jsonl", "{\"x\": " + repeat("[", 999) + repeat("]", 999) + "}\n");
  EXPECT_EQ(data::load_json_file(ok).at(0).find("x")->text.size(), 2 * 999u);
}

TEST(JsonReaderLimits, NumbersOutOfRangeAreMalformedData) {
  TempDir dir;
  const std::string jsonl = dir.write("big.jsonl", "{\"a\": \"x\"}\n{\"a\": 1e999}\n");
  testing::expect_error([&] { data::load_json_file(jsonl); }, {jsonl + ":2", "1e999"});
  const std::string array = dir.write("big.json", "[{\"a\": \"x\"},\n {\"a\": -1e400}]");
  testing::expect_error([&] { data::load_json_file(array); }, {array + ":2", "-1e400"});
}

// nlohmann reads a NUL byte as the end of the input: what follows it must not vanish silently.
TEST(JsonReaderLimits, NulBytesAreNotTheEndOfTheFile) {
  TempDir dir;
  const std::string jsonl =
      dir.write("nul.jsonl", "{\"a\": \"x\"}\n{\"a\": \"y\"}\0{\"a\": \"z\"}\n"s);
  testing::expect_error([&] { data::load_json_file(jsonl); }, {jsonl + ":2:11", "NUL byte"});
  const std::string array = dir.write("nul.json", "[{\"a\": \"x\"}]\0, {\"a\": \"y\"}]"s);
  testing::expect_error([&] { data::load_json_file(array); }, {array + ":1:13", "NUL byte"});
}

// Short CSV rows are padded to the header's width; a wide header over many short rows must
// not multiply into billions of values.
TEST(CsvReaderLimits, WideHeadersOverShortRowsAreBounded) {
  TempDir dir;
  std::string header;
  for (int i = 0; i < 20000; ++i) header += (i ? ",c" : "c") + std::to_string(i);
  const std::string wide = dir.write("wide.csv", header + "\n" + repeat("x\n", 20000));
  testing::expect_error([&] { data::load_csv_file(wide); },
                        {wide, "20000 rows under a header of 20000 columns"});
  // A real dataset's shape reads, short rows padded with nulls.
  const std::string ok =
      dir.write("ok.csv", "instruction,input,output\n" + repeat("a,,b\nc\n", 1000));
  const auto records = data::load_csv_file(ok);
  ASSERT_EQ(records.size(), 2000u);
  EXPECT_EQ(records[1].find("output")->kind, data::FieldValue::Kind::kNull);
}

// ---------------------------------------------------------------------------------------------
// YAML configs

TEST(YamlReaderLimits, DeepNestingIsRefusedWithTheLimit) {
  const std::string flow = "a: 1\nb: " + repeat("[", 100000) + repeat("]", 100000) + "\n";
  testing::expect_error([&] { config::parse_yaml(flow, "flow.yaml"); },
                        {"flow.yaml:2:", "nested more than 256 levels"});
  const std::string block = "a:\n" + repeat("- ", 3000) + "x\n";
  testing::expect_error([&] { config::parse_yaml(block, "block.yaml"); },
                        {"block.yaml:2:", "nested more than 256 levels"});
  std::string maps;
  for (int i = 0; i < 300; ++i) maps += std::string(2 * i, ' ') + "k:\n";
  testing::expect_error([&] { config::parse_yaml(maps, "maps.yaml"); },
                        {"maps.yaml:", "nested more than 256 levels"});
  // 255 levels are fine
  const config::Node ok =
      config::parse_yaml("a: " + repeat("[", 255) + repeat("]", 255), "ok.yaml");
  EXPECT_TRUE(ok.find("a")->is_list());
}

TEST(YamlReaderLimits, AliasExpansionIsBounded) {
  // The classic "billion laughs": 9 levels of 10 aliases, 10^9 strings from 600 bytes.
  std::string laughs =
      "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
  for (char c = 'b'; c <= 'i'; ++c) {
    const char p = static_cast<char>(c - 1);
    laughs += std::string(1, c) + ": &" + c + " [" + repeat(std::string("*") + p + ",", 8) + "*" +
              p + "]\n";
  }
  ASSERT_LT(laughs.size(), 700u);
  TempDir dir;
  const std::string path = dir.write("laughs.yaml", laughs);
  const auto start = std::chrono::steady_clock::now();
  testing::expect_error([&] { config::load_yaml_file(path); },
                        {path + ":", "expands to more than 100000 values through aliases"});
  testing::expect_error([&] { config::Config::load(path); }, {path + ":", "through aliases"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  // Ordinary aliases still work, and copy the anchored value.
  const config::Node n =
      config::parse_yaml("base: &b {lr: 1, wd: [2, 3]}\nopt: *b\n", "alias.yaml");
  EXPECT_TRUE(config::same_value(*n.find("base"), *n.find("opt")));
}

TEST(YamlReaderLimits, AliasInsideItsOwnAnchorIsACycle) {
  testing::expect_error([] { config::parse_yaml("a: &x [1, *x]\n", "cycle.yaml"); },
                        {"cycle.yaml:1:", "alias *x", "inside the value it names"});
  testing::expect_error([] { config::parse_yaml("a: &x {b: *x}\n", "cycle.yaml"); },
                        {"cycle.yaml:1:", "*x"});
}

TEST(YamlReaderLimits, InterpolationExpansionIsBounded) {
  // Interpolations of interpolations multiply as aliases do: 10^8 values from 700 bytes.
  std::string text = "l0: [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 8; ++i)
    text += "l" + std::to_string(i) + ": [" + repeat("\"${l" + std::to_string(i - 1) + "}\", ", 9) +
            "\"${l" + std::to_string(i - 1) + "}\"]\n";
  ASSERT_LE(text.size(), 700u);
  TempDir dir;
  const std::string path = dir.write("interpolations.yaml", text);
  const auto start = std::chrono::steady_clock::now();
  testing::expect_error([&] { config::Config::load(path); },
                        {path + ":", "copies more than 100000 values"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
  // A deep chain over a long list resolves to the same tree (each level rebuilt, not copied).
  const std::string wide = dir.write("wide.yaml", "a: " + repeat("[", 200) + repeat("1,", 2000) +
                                                      "\"${b}\"" + repeat("]", 200) + "\nb: 2\n");
  const config::Config cfg = config::Config::load(wide);
  const config::Node* leaf = &cfg.node("a");
  for (int i = 1; i < 200; ++i) leaf = &leaf->items.at(0);
  ASSERT_EQ(leaf->items.size(), 2001u);
  EXPECT_EQ(leaf->items.back().text, "2");
}

TEST(YamlReaderLimits, NestedInterpolationsAreBounded) {
  TempDir dir;
  const std::string inner = dir.write(
      "inner.yaml", "a: \"" + repeat("${", 20000) + "b" + repeat("}", 20000) + "\"\nb: 1\n");
  testing::expect_error([&] { config::Config::load(inner); },
                        {inner + ":1:", "nest more than 256 levels"});
  std::string chain;
  for (int i = 0; i < 5000; ++i)
    chain += "k" + std::to_string(i) + ": ${k" + std::to_string(i + 1) + "}\n";
  chain += "k5000: 1\n";
  const std::string path = dir.write("chain.yaml", chain);
  testing::expect_error([&] { config::Config::load(path); },
                        {path + ":", "nest more than 256 levels"});
  // A few levels are what configs use.
  const std::string ok = dir.write(
      "ok.yaml", "a: ${b}\nb: ${c}\nc: x${d}\nd: \"${oc.env:TT_UNSET_VAR_X,${e}}\"\ne: 5\n");
  EXPECT_EQ(config::Config::load(ok).get_string("a"), "x5");
}

TEST(ConfigNodeLimits, DeepDottedKeysAreRefused) {
  TempDir dir;
  const std::string path = dir.write("c.yaml", "a: 1\n");
  const std::string key = repeat("k.", 20000) + "x";
  testing::expect_error([&] { config::Config::load(path, {key + "=1"}); },
                        {"key 'k.k.k.", "more than the 256 levels"});
  testing::expect_error([&] { config::Config::load(path, {"~" + key}); },
                        {"more than the 256 levels"});
  EXPECT_EQ(
      config::Config::load(path, {repeat("k.", 200) + "x=1"}).get_int(repeat("k.", 200) + "x"), 1);
}

TEST(ConfigNodeLimits, LongScalarsAreTypedWithoutDeepRecursion) {
  // Scalar typing of very long text (libstdc++'s std::regex recurses once per character).
  EXPECT_EQ(config::Node::scalar(repeat("1", 200000)).scalar_type(), config::ScalarType::kInt);
  EXPECT_EQ(config::Node::scalar("1." + repeat("5", 200000)).scalar_type(),
            config::ScalarType::kFloat);
  EXPECT_EQ(config::Node::scalar(repeat("a", 200000)).scalar_type(), config::ScalarType::kString);
  // Integers that do not fit int64 are not integers to read (no exception, no overflow).
  EXPECT_FALSE(config::Node::scalar(repeat("1", 30)).as_int().has_value());
  EXPECT_FALSE(config::Node::scalar(repeat("9", 30) + ":00").as_int().has_value());
  EXPECT_FALSE(config::Node::scalar("1" + repeat(":59", 20)).as_int().has_value());
  EXPECT_EQ(*config::Node::scalar("1:30").as_int(), 90);
  EXPECT_EQ(*config::Node::scalar("-0x10").as_int(), -16);
}

// The scalar rules against the regular expressions they implement (PyYAML's resolvers with
// OmegaConf's float rule), on every short string over the characters that matter.
TEST(ConfigNodeLimits, ScalarTypingMatchesTheResolverExpressions) {
  const std::regex bool_re(
      "yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF");
  const std::regex int_re(
      "[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
      "|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+");
  const std::regex float_re(
      "[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)"
      "|\\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)");
  auto expected = [&](const std::string& t) {
    if (t.empty() || t == "~" || t == "null" || t == "Null" || t == "NULL")
      return config::ScalarType::kNull;
    if (std::regex_match(t, bool_re)) return config::ScalarType::kBool;
    if (std::regex_match(t, int_re)) return config::ScalarType::kInt;
    if (std::regex_match(t, float_re)) return config::ScalarType::kFloat;
    return config::ScalarType::kString;
  };
  const std::string alphabet = "0169_.eE+-xb:aF";
  std::vector<std::string> texts = {
      "",     "~",    "null", "yes",  "Off",   "oN",   ".inf", "-.Inf", "+.INF", ".nan",
      ".NaN", ".nAn", "1:30", "1:60", "1:5:9", "0x1F", "0b2",  "1e",    "1e+",   ".5e-3",
      ".5e3", "0o7",  "1__",  "_1",   "0xg",   "1:",   ":1",   "08",    "07_"};
  std::vector<std::string> level = {""};
  for (int len = 1; len <= 4; ++len) {
    std::vector<std::string> next;
    for (const std::string& s : level)
      for (char c : alphabet) next.push_back(s + c);
    texts.insert(texts.end(), next.begin(), next.end());
    level = std::move(next);
  }
  for (const std::string& t : texts)
    EXPECT_EQ(config::Node::scalar(t).scalar_type(), expected(t)) << "'" << t << "'";
}

}  // namespace
}  // namespace tt
