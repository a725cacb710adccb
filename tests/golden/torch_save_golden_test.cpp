// torch.save files written by the real torch.save (tests/scripts/make_torch_save_fixtures.py)
// read by load_torch_file: every value, type (dict vs OrderedDict, list vs tuple, bool vs int),
// dtype, shape, stride, storage offset and storage sharing as torch.load(weights_only=True)
// sees them, tensors bit for bit; our rewrite of each file reads back identically; and the bad
// files (a pickle exploit, a truncated zip, the legacy format, thousands of damaged pickles)
// end in tt::Errors naming the file, never a crash.
#include <ATen/ATen.h>
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "tests/unit/test_util.h"
#include "torchtune_cpp/checkpointing/safetensors.h"
#include "torchtune_cpp/checkpointing/torch_save.h"

namespace tt {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& file) {
  return std::string(TT_SOURCE_DIR) + "/tests/assets/golden/torch_save/" + file;
}

nlohmann::json expected() {
  std::ifstream in(fixture("expected.json"));
  return nlohmann::json::parse(in);
}

at::ScalarType dtype_named(const std::string& name) {
  static const std::map<std::string, at::ScalarType> kTypes = {
      {"float32", at::kFloat},  {"bfloat16", at::kBFloat16}, {"float16", at::kHalf},
      {"float64", at::kDouble}, {"int64", at::kLong},        {"int32", at::kInt},
      {"uint8", at::kByte},     {"bool", at::kBool}};
  return kTypes.at(name);
}

bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  return PickleValue(a) == PickleValue(b);
}

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() /
          ("tt_torch_save_golden_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// Compares a loaded tree with the JSON description of what torch.load returned.
class Checker {
 public:
  explicit Checker(const checkpointing::SafetensorsFile& values) : values_(values) {}

  void check(const nlohmann::json& want, const PickleValue& got, const std::string& at) {
    const std::string type = want["type"];
    if (type == "none") {
      EXPECT_TRUE(got.is_none()) << at << ": " << got.repr();
    } else if (type == "bool") {
      ASSERT_TRUE(got.is_bool()) << at << ": " << got.repr();
      EXPECT_EQ(got.to_bool(), want["value"].get<bool>()) << at;
    } else if (type == "int") {
      ASSERT_TRUE(got.is_int()) << at << ": " << got.repr();
      EXPECT_EQ(got.to_int(), want["value"].get<int64_t>()) << at;
    } else if (type == "float") {
      ASSERT_TRUE(got.is_double()) << at << ": " << got.repr();
      double w = want["value"].get<double>(), g = got.to_double();
      EXPECT_EQ(std::memcmp(&w, &g, sizeof(double)), 0) << at << ": " << g << " vs " << w;
    } else if (type == "str") {
      ASSERT_TRUE(got.is_string()) << at << ": " << got.repr();
      EXPECT_EQ(got.to_string(), want["value"].get<std::string>()) << at;
    } else if (type == "bytes") {
      ASSERT_TRUE(got.is_bytes()) << at << ": " << got.repr();
      std::string hex;
      for (unsigned char c : got.to_bytes()) {
        char buf[4];
        std::snprintf(buf, sizeof(buf), "%02x", c);
        hex += buf;
      }
      EXPECT_EQ(hex, want["hex"].get<std::string>()) << at;
    } else if (type == "tensor") {
      ASSERT_TRUE(got.is_tensor()) << at << ": " << got.repr();
      const at::Tensor& t = got.to_tensor();
      EXPECT_EQ(t.scalar_type(), dtype_named(want["dtype"])) << at;
      EXPECT_EQ(t.sizes().vec(), want["shape"].get<std::vector<int64_t>>()) << at;
      EXPECT_EQ(t.strides().vec(), want["stride"].get<std::vector<int64_t>>()) << at;
      EXPECT_EQ(t.storage_offset(), want["storage_offset"].get<int64_t>()) << at;
      EXPECT_TRUE(same_bits(t, values_.tensor(want["ref"])))
          << at << " differs from torch.load's values";
      if (t.storage().nbytes() > 0) {  // equal groups <=> one storage
        const int64_t group = want["storage"];
        const c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
        auto [it, fresh] = by_group_.emplace(group, s);
        EXPECT_EQ(it->second, s) << at << " should share the storage of group " << group;
        auto [jt, fresh2] = by_storage_.emplace(s, group);
        EXPECT_EQ(jt->second, group) << at << " shares a storage it should not";
      }
    } else if (type == "list" || type == "tuple") {
      ASSERT_TRUE(type == "list" ? got.is_list() : got.is_tuple()) << at << ": " << got.repr();
      ASSERT_EQ(got.items().size(), want["items"].size()) << at;
      for (size_t i = 0; i < got.items().size(); ++i)
        check(want["items"][i], got.items()[i], at + "[" + std::to_string(i) + "]");
    } else if (type == "dict") {
      ASSERT_TRUE(got.is_dict()) << at << ": " << got.repr();
      EXPECT_EQ(got.is_ordered_dict(), want["ordered"].get<bool>()) << at;
      ASSERT_EQ(got.dict_items().size(), want["items"].size()) << at;
      for (size_t i = 0; i < got.dict_items().size(); ++i) {
        const auto& [k, v] = got.dict_items()[i];
        check(want["items"][i][0], k, at + " key " + std::to_string(i));
        check(want["items"][i][1], v, at + "[" + k.repr() + "]");
      }
    } else {
      ADD_FAILURE() << at << ": unknown type " << type;
    }
  }

 private:
  const checkpointing::SafetensorsFile& values_;
  std::map<int64_t, const c10::StorageImpl*> by_group_;
  std::map<const c10::StorageImpl*, int64_t> by_storage_;
};

TEST(TorchSaveGolden, EveryFileReadsAsTorchLoadDoes) {
  checkpointing::SafetensorsFile values(fixture("expected.safetensors"));
  const nlohmann::json want = expected();
  ASSERT_EQ(want.size(), 5u);
  for (const auto& [file, tree] : want.items()) {
    SCOPED_TRACE(file);
    PickleValue got = checkpointing::load_torch_file(fixture(file));
    Checker(values).check(tree, got, file);
  }
}

TEST(TorchSaveGolden, OurRewriteOfEveryFileReadsBackIdentically) {
  const nlohmann::json want = expected();
  checkpointing::SafetensorsFile values(fixture("expected.safetensors"));
  for (const auto& [file, tree] : want.items()) {
    SCOPED_TRACE(file);
    PickleValue original = checkpointing::load_torch_file(fixture(file));
    const std::string copy = temp_path(file);
    checkpointing::save_torch_file(copy, original);
    PickleValue back = checkpointing::load_torch_file(copy);
    EXPECT_EQ(back, original);
    Checker(values).check(tree, back, file + " (rewritten)");  // views and sharing kept too
    fs::remove(copy);
  }
}

TEST(TorchSaveGolden, StateDictFilesLoadInOrder) {
  StateDict sd = checkpointing::load_state_dict_file(fixture("state_dict.pt"));
  std::vector<std::string> names;
  for (const auto& [k, t] : sd) names.push_back(k);
  EXPECT_EQ(names, (std::vector<std::string>{"w_f32", "w_bf16", "w_f16", "ids_i64", "mask_bool",
                                             "w_f32_t", "w_f32_slice", "scale", "empty"}));
  EXPECT_EQ(sd[6].second.storage_offset(), 8);  // w[1:3, 2:5] of a 4x6 tensor
  EXPECT_EQ(sd[7].second.dim(), 0);

  // The Hugging Face shards hold exactly the keys their index assigns them, in file order.
  std::ifstream in(fixture("pytorch_model.bin.index.json"));
  const nlohmann::json index = nlohmann::json::parse(in);
  for (const std::string shard :
       {"pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"}) {
    std::vector<std::string> want;
    for (const auto& [k, f] : index["weight_map"].items())
      if (f == shard) want.push_back(k);
    StateDict got = checkpointing::load_state_dict_file(fixture(shard));
    std::vector<std::string> keys;
    for (const auto& [k, t] : got) {
      keys.push_back(k);
      EXPECT_EQ(t.scalar_type(), at::kFloat) << k;
    }
    std::vector<std::string> sorted_keys = keys;
    std::sort(sorted_keys.begin(), sorted_keys.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(sorted_keys, want) << shard;
    EXPECT_TRUE(checkpointing::load_torch_file(fixture(shard)).is_ordered_dict());
  }
}

TEST(TorchSaveGolden, LoadedTensorsAreWritableAndTheFileStaysIntact) {
  StateDict sd = checkpointing::load_state_dict_file(fixture("state_dict.pt"));
  const at::Tensor before = sd[0].second.clone();
  sd[0].second.add_(1);                                    // copy-on-write over the mapped file
  EXPECT_TRUE(same_bits(sd[5].second, (before + 1).t()));  // the view sees it
  EXPECT_TRUE(
      same_bits(checkpointing::load_state_dict_file(fixture("state_dict.pt"))[0].second, before));
}

TEST(TorchSaveGolden, RecipeStateFieldsAsTorchtuneReadsThem) {
  const PickleValue rs = checkpointing::load_torch_file(fixture("recipe_state.pt"));
  EXPECT_EQ(rs.at("seed").to_int(), 42);
  EXPECT_EQ(rs.at("epochs_run").to_int(), 1);
  EXPECT_EQ(rs.at("total_epochs").to_int(), 3);
  EXPECT_TRUE(rs.at("max_steps_per_epoch").is_none());
  const PickleValue& opt = rs.at("optimizer");
  const PickleValue& group = opt.at("param_groups").items().at(0);
  EXPECT_EQ(group.at("lr").to_double(), 2e-5);
  EXPECT_EQ(group.at("betas"), PickleValue::tuple({0.9, 0.999}));
  EXPECT_TRUE(group.at("fused").to_bool());
  EXPECT_TRUE(group.at("foreach").is_none());
  EXPECT_EQ(group.at("params"), PickleValue::list({0, 1}));
  const at::Tensor& step = opt.at("state").at(0).at("step").to_tensor();
  EXPECT_EQ(step.dim(), 0);
  EXPECT_EQ(step.item<float>(), 3.0f);
  EXPECT_EQ(opt.at("state").at(1).at("exp_avg_sq").to_tensor().sizes(), (std::vector<int64_t>{3}));
  testing::expect_error(
      [] { checkpointing::load_state_dict_file(fixture("recipe_state.pt")); },
      {fixture("recipe_state.pt"), "[seed]", "not a plain state dict", "load_torch_file"});
}

TEST(TorchSaveGolden, MaliciousPickleIsRefusedBeforeAnythingRuns) {
  testing::expect_error([] { checkpointing::load_torch_file(fixture("malicious.pt")); },
                        {fixture("malicious.pt"), "refused", "'os.system'", "weights_only=True"});
}

TEST(TorchSaveGolden, TruncatedAndLegacyFilesAreErrorsNamingTheFile) {
  testing::expect_error([] { checkpointing::load_torch_file(fixture("truncated.pt")); },
                        {fixture("truncated.pt"), "truncated or corrupt"});
  testing::expect_error([] { checkpointing::load_state_dict_file(fixture("legacy.pt")); },
                        {fixture("legacy.pt"), "legacy"});
  testing::expect_error([] { checkpointing::load_torch_file(fixture("expected.safetensors")); },
                        {"expected.safetensors", "not a torch.save file", "SafetensorsFile"});
  testing::expect_error([] { checkpointing::load_torch_file(fixture("no_such_file.pt")); },
                        {"no_such_file.pt", "cannot open"});
  testing::expect_error([] { checkpointing::load_torch_file(fixture("")); }, {"is a folder"});
}

// Every truncation and many single-byte changes of a real data.pkl, in an otherwise valid zip:
// each load either succeeds or throws tt::Error naming the file (never a crash, hang or
// out-of-memory).
TEST(TorchSaveGolden, DamagedPicklesNeverCrash) {
  caffe2::serialize::PyTorchStreamReader reader(fixture("state_dict.pt"));
  auto [pkl_data, pkl_size] = reader.getRecord("data.pkl");
  const std::string pickle(static_cast<const char*>(pkl_data.get()), pkl_size);
  std::vector<std::pair<std::string, std::string>> storages;
  for (const std::string& name : reader.getAllRecords()) {
    if (name.rfind("data/", 0) != 0) continue;
    auto [d, n] = reader.getRecord(name);
    storages.emplace_back(name, std::string(static_cast<const char*>(d.get()), n));
  }
  const std::string path = temp_path("damaged.pt");
  auto attempt = [&](const std::string& pkl) {
    {
      caffe2::serialize::PyTorchStreamWriter writer(path);
      writer.writeRecord("data.pkl", pkl.data(), pkl.size());
      for (const auto& [name, bytes] : storages)
        writer.writeRecord(name, bytes.data(), bytes.size());
      writer.writeEndOfFile();
    }
    try {
      checkpointing::load_torch_file(path);
      return 0;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
      return 1;
    }
  };
  int failures = 0, cases = 0;
  for (size_t n = 0; n < pickle.size(); ++n, ++cases) failures += attempt(pickle.substr(0, n));
  for (size_t i = 0; i < pickle.size(); ++i) {
    const unsigned char flipped = static_cast<unsigned char>(pickle[i] ^ 0x20);
    for (unsigned char b : std::initializer_list<unsigned char>{0x00, 0xff, flipped}) {
      std::string damaged = pickle;
      damaged[i] = static_cast<char>(b);
      failures += attempt(damaged);
      ++cases;
    }
  }
  fs::remove(path);
  EXPECT_GT(failures, static_cast<int>(pickle.size()));  // every truncation at least fails
  std::cout << cases << " damaged pickles, " << failures << " refused\n";
}

}  // namespace
}  // namespace tt
