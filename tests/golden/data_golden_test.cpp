// The data path against torchtune itself: tests/scripts/make_data_fixtures.py ran torchtune
// 0.6.1's alpaca_dataset / alpaca_cleaned_dataset on the project's data files, its
// padded_collate_sft, its recipes' sampler and PackedDataset, and recorded every value.
// Every case must match exactly.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "torchtune_cpp/data/alpaca.h"
#include "torchtune_cpp/data/collate.h"
#include "torchtune_cpp/data/packed.h"
#include "torchtune_cpp/data/sampler.h"
#include "torchtune_cpp/models/llama2/tokenizer.h"

namespace tt::data {
namespace {

using nlohmann::json;

const std::string kRoot = TT_SOURCE_DIR;

const json& fixture() {
  static const json data = [] {
    std::ifstream in(kRoot + "/tests/assets/golden/data/alpaca.json");
    EXPECT_TRUE(in.good()) << "missing tests/assets/golden/data/alpaca.json";
    return in.good() ? json::parse(in) : json::object();
  }();
  return data;
}

std::vector<int64_t> ids(const json& j) {
  return j.get<std::vector<int64_t>>();
}

llama2::TokenizerPtr tokenizer(const json& c) {
  std::optional<int64_t> max_seq_len;
  if (c.contains("max_seq_len") && !c["max_seq_len"].is_null())
    max_seq_len = c["max_seq_len"].get<int64_t>();
  const std::string path = kRoot + "/" + fixture()["tokenizer"].get<std::string>();
  if (c.contains("prompt_template") && c["prompt_template"].is_null())
    return std::make_shared<llama2::Llama2Tokenizer>(path, max_seq_len, modules::PromptTemplate{});
  return std::make_shared<llama2::Llama2Tokenizer>(path, max_seq_len);
}

DatasetPtr dataset(const json& c, bool packed = false) {
  AlpacaOptions o;
  o.source = "json";
  o.data_files = {kRoot + "/" +
                  c.value("data_files", std::string("tests/assets/data/alpaca_tiny.json"))};
  o.train_on_input = c["train_on_input"].get<bool>();
  o.packed = packed;
  if (c.contains("column_map") && c["column_map"].is_object()) {
    const json& m = c["column_map"];
    o.columns = AlpacaColumns{m["instruction"], m["input"], m["output"]};
  }
  return alpaca_dataset(tokenizer(c), o);
}

TEST(DataGolden, FixtureComesFromTorchtune061) {
  ASSERT_TRUE(fixture().contains("versions"));
  EXPECT_EQ(fixture()["versions"]["torchtune"].get<std::string>().substr(0, 5), "0.6.1");
  EXPECT_GE(fixture()["datasets"].size(), 6u);
  EXPECT_GE(fixture()["sampler"].size(), 100u);
}

TEST(DataGolden, AlpacaSamplesMatchTorchtune) {
  size_t checked = 0;
  for (const json& c : fixture()["datasets"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    DatasetPtr ds = dataset(c);
    const json& samples = c["samples"];
    ASSERT_EQ(ds->size(), static_cast<int64_t>(samples.size()));
    for (size_t i = 0; i < samples.size(); ++i) {
      Sample s = ds->get(static_cast<int64_t>(i));
      EXPECT_EQ(s.tokens, ids(samples[i]["tokens"])) << "sample " << i;
      EXPECT_EQ(s.labels, ids(samples[i]["labels"])) << "sample " << i;
      ++checked;
    }
  }
  EXPECT_GE(checked, 300u);
}

TEST(DataGolden, SplitSlicesSelectTorchtunesRecords) {
  const json& full = fixture()["datasets"][0];
  ASSERT_EQ(full["train_on_input"].get<bool>(), true);
  ASSERT_GE(fixture()["splits"].size(), 10u);
  for (const json& c : fixture()["splits"]) {
    const std::string split = c["split"];
    SCOPED_TRACE(split);
    AlpacaOptions o;
    o.source = "json";
    o.data_files = {kRoot + "/" + full["data_files"].get<std::string>()};
    o.split = split;
    DatasetPtr ds = alpaca_dataset(tokenizer(full), o);
    const std::vector<int64_t> indices = ids(c["indices"]);
    ASSERT_EQ(ds->size(), static_cast<int64_t>(indices.size()));
    for (size_t i = 0; i < indices.size(); ++i)
      EXPECT_EQ(ds->get(static_cast<int64_t>(i)).tokens,
                ids(full["samples"][static_cast<size_t>(indices[i])]["tokens"]));
  }
}

at::Tensor tensor_2d(const json& rows) {
  std::vector<int64_t> flat;
  for (const json& r : rows)
    for (int64_t v : ids(r)) flat.push_back(v);
  return at::tensor(flat, at::kLong).view({static_cast<int64_t>(rows.size()), -1});
}

TEST(DataGolden, PaddedCollateMatchesTorchtune) {
  const json& first = fixture()["datasets"][0];
  DatasetPtr ds = dataset(first);
  for (const json& c : fixture()["collate"]) {
    std::vector<Sample> batch;
    for (int64_t i : ids(c["indices"])) batch.push_back(ds->get(i));
    SftBatch b = padded_collate_sft(batch, 0, modules::kIgnoreIndex);
    EXPECT_TRUE(at::equal(b.tokens, tensor_2d(c["tokens"]))) << c["indices"].dump();
    EXPECT_TRUE(at::equal(b.labels, tensor_2d(c["labels"]))) << c["indices"].dump();
  }
}

TEST(DataGolden, SamplerOrderMatchesTorch) {
  for (const json& c : fixture()["sampler"]) {
    const int64_t world = c["world_size"];
    for (int64_t rank = 0; rank < world; ++rank) {
      SamplerOptions o{world, rank, c["shuffle"].get<bool>(), c["seed"].get<int64_t>(),
                       c["drop_last"].get<bool>()};
      EXPECT_EQ(distributed_sampler_indices(c["n"].get<int64_t>(), c["epoch"].get<int64_t>(), o),
                ids(c["indices"][static_cast<size_t>(rank)]))
          << c.dump().substr(0, 120) << " rank " << rank;
    }
  }
}

// numpy.packbits of the flattened boolean tensor (most significant bit first), as hex.
std::string packbits_hex(const at::Tensor& mask) {
  at::Tensor flat = mask.contiguous().view(-1);
  const bool* m = flat.data_ptr<bool>();
  const int64_t n = flat.numel();
  std::string hex;
  const char* digits = "0123456789abcdef";
  for (int64_t i = 0; i < n; i += 8) {
    unsigned byte = 0;
    for (int64_t j = 0; j < 8; ++j) byte = (byte << 1) | (i + j < n && m[i + j] ? 1u : 0u);
    hex += digits[byte >> 4];
    hex += digits[byte & 15];
  }
  return hex;
}

TEST(DataGolden, LargeSamplerOrdersMatchTorch) {
  ASSERT_GE(fixture()["sampler_large"].size(), 3u);
  for (const json& c : fixture()["sampler_large"]) {
    SamplerOptions o{c["world_size"].get<int64_t>(), c["rank"].get<int64_t>(), true,
                     c["seed"].get<int64_t>(), false};
    std::vector<int64_t> got =
        distributed_sampler_indices(c["n"].get<int64_t>(), c["epoch"].get<int64_t>(), o);
    SCOPED_TRACE(c["n"].dump());
    ASSERT_EQ(static_cast<int64_t>(got.size()), c["size"].get<int64_t>());
    const std::vector<int64_t> head = ids(c["head"]), tail = ids(c["tail"]);
    EXPECT_EQ(std::vector<int64_t>(got.begin(), got.begin() + 20), head);
    EXPECT_EQ(std::vector<int64_t>(got.end() - 20, got.end()), tail);
    int64_t checksum = 0;
    for (size_t i = 0; i < got.size(); ++i) checksum += static_cast<int64_t>(i) * got[i];
    EXPECT_EQ(checksum, c["checksum"].get<int64_t>());
  }
}

TEST(DataGolden, PackedDatasetMatchesTorchtune) {
  for (const json& c : fixture()["packed"]) {
    const int64_t max_seq_len = c["max_seq_len"];
    SCOPED_TRACE(max_seq_len);
    json opts = {{"max_seq_len", max_seq_len}, {"train_on_input", c["train_on_input"]}};
    DatasetPtr ds = dataset(opts, true);
    const json& packs = c["packs"];
    ASSERT_EQ(ds->size(), static_cast<int64_t>(packs.size()));
    for (size_t i = 0; i < packs.size(); ++i) {
      Sample p = ds->get(static_cast<int64_t>(i));
      EXPECT_EQ(p.tokens, ids(packs[i]["tokens"])) << "pack " << i;
      EXPECT_EQ(p.labels, ids(packs[i]["labels"])) << "pack " << i;
      EXPECT_EQ(p.input_pos, ids(packs[i]["input_pos"])) << "pack " << i;
      EXPECT_EQ(p.seq_lens, ids(packs[i]["seq_lens"])) << "pack " << i;
    }
    const json& c2 = c["collate"];
    std::vector<Sample> batch;
    for (int64_t i : ids(c2["indices"])) batch.push_back(ds->get(i));
    PackedBatch b = padded_collate_packed(batch);
    EXPECT_TRUE(at::equal(b.tokens, tensor_2d(c2["tokens"])));
    EXPECT_TRUE(at::equal(b.labels, tensor_2d(c2["labels"])));
    EXPECT_TRUE(at::equal(b.input_pos, tensor_2d(c2["input_pos"])));
    EXPECT_EQ(b.mask.sizes().vec(), ids(c2["mask_shape"]));
    EXPECT_EQ(packbits_hex(b.mask), c2["mask_packbits_hex"].get<std::string>());
  }
}

}  // namespace
}  // namespace tt::data
