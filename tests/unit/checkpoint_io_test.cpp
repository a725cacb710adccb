// Writing checkpoints: the streaming safetensors writer read back by SafetensorsFile (every
// dtype, non-contiguous and out-of-order input, the temp-file rename, abandoned writers, clear
// refusals), torch.save round trips of a recipe_state-like tree and of state dicts (views,
// the streaming TorchSaveWriter, refusals), and the same files loaded by Python's
// torch.load(weights_only=True) and safetensors.torch.load_file
// (tests/interop/load_our_files.py, run with TT_TEST_PYTHON).
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>

#include "tests/common/temp_dir.h"
#include "tests/unit/test_util.h"
#include "torchtune_cpp/checkpointing/safetensors.h"
#include "torchtune_cpp/checkpointing/safetensors_writer.h"
#include "torchtune_cpp/checkpointing/torch_save.h"

namespace tt {
namespace {

namespace fs = std::filesystem;

// A fresh folder per test, removed afterwards.
using tt::testing::TempDir;

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void write_all(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary) << data;
}

// (arange(numel) * step + start) in float64, cast to dtype: the same recipe
// tests/interop/load_our_files.py uses to rebuild the expected values in Python.
at::Tensor gen(at::ScalarType dtype, std::vector<int64_t> shape, double start, double step) {
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  return (at::arange(numel, at::kDouble) * step + start).to(dtype).reshape(shape);
}

bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  return PickleValue(a) == PickleValue(b);  // dtype, shape and bytes
}

const c10::StorageImpl* storage_of(const at::Tensor& t) {
  return t.storage().unsafeGetStorageImpl();
}

// ---------------------------------------------------------------------------------------------
// Expected values for the Python side, as JSON: each tensor by its gen() recipe.

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string json_double(double d) {
  char buf[40];
  std::snprintf(buf, sizeof(buf), "%.17g", d);
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos) s += ".0";  // Python must read a float
  return s;
}

// Makes tensors with gen() and remembers each one's recipe for the manifest.
struct Recipes {
  std::map<const void*, std::string> specs;

  at::Tensor make(at::ScalarType dtype, std::vector<int64_t> shape, double start, double step,
                  const std::string& group) {
    at::Tensor t = gen(dtype, shape, start, step);
    specs[t.unsafeGetTensorImpl()] = spec(dtype, shape, start, step, false, group);
    return t;
  }
  // base.t(), a view sharing base's storage (base must be 2-D and made by make()).
  at::Tensor transpose(const at::Tensor& base, double start, double step,
                       const std::string& group) {
    at::Tensor t = base.t();
    specs[t.unsafeGetTensorImpl()] =
        spec(base.scalar_type(), base.sizes().vec(), start, step, true, group);
    return t;
  }
  static std::string spec(at::ScalarType dtype, const std::vector<int64_t>& shape, double start,
                          double step, bool transpose, const std::string& group) {
    std::ostringstream out;
    out << "{\"type\": \"tensor\", \"dtype\": \"" << python_dtype_name(dtype) << "\", \"shape\": [";
    for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
    out << "], \"start\": " << json_double(start) << ", \"step\": " << json_double(step)
        << ", \"transpose\": " << (transpose ? "true" : "false")
        << ", \"storage\": " << json_string(group) << "}";
    return out.str();
  }

  std::string json(const PickleValue& v) const {
    using K = PickleValue::Kind;
    switch (v.kind()) {
      case K::kNone:
        return "{\"type\": \"none\"}";
      case K::kBool:
        return std::string("{\"type\": \"bool\", \"value\": ") + (v.to_bool() ? "true" : "false") +
               "}";
      case K::kInt:
        return "{\"type\": \"int\", \"value\": " + std::to_string(v.to_int()) + "}";
      case K::kDouble:
        return "{\"type\": \"float\", \"value\": " + json_double(v.to_double()) + "}";
      case K::kString:
        return "{\"type\": \"str\", \"value\": " + json_string(v.to_string()) + "}";
      case K::kBytes: {
        std::string hex;
        for (unsigned char c : v.to_bytes()) {
          char buf[4];
          std::snprintf(buf, sizeof(buf), "%02x", c);
          hex += buf;
        }
        return "{\"type\": \"bytes\", \"hex\": \"" + hex + "\"}";
      }
      case K::kTensor:
        return specs.at(v.to_tensor().unsafeGetTensorImpl());
      case K::kList:
      case K::kTuple: {
        std::string out =
            std::string("{\"type\": \"") + (v.is_list() ? "list" : "tuple") + "\", \"items\": [";
        for (size_t i = 0; i < v.items().size(); ++i) out += (i ? ", " : "") + json(v.items()[i]);
        return out + "]}";
      }
      case K::kDict: {
        std::string out = std::string("{\"type\": \"dict\", \"ordered\": ") +
                          (v.is_ordered_dict() ? "true" : "false") + ", \"items\": [";
        for (size_t i = 0; i < v.dict_items().size(); ++i)
          out += (i ? ", " : "") + std::string("[") + json(v.dict_items()[i].first) + ", " +
                 json(v.dict_items()[i].second) + "]";
        return out + "]}";
      }
    }
    return "";
  }
};

// torchtune 0.6's recipe_state.pt layout (single device), plus the scalar corners.
PickleValue recipe_state_tree(Recipes& r) {
  using PV = PickleValue;
  at::Tensor base = r.make(at::kFloat, {3, 4}, -1.5, 0.25, "base");
  PV adam0 = PV::dict({{"step", r.make(at::kFloat, {}, 3.0, 0.0, "s0")},
                       {"exp_avg", r.make(at::kFloat, {4, 3}, 0.5, -0.125, "m0")},
                       {"exp_avg_sq", r.make(at::kFloat, {4, 3}, 1e-8, 3e-9, "v0")}});
  PV adam1 = PV::dict({{"step", r.make(at::kFloat, {}, 3.0, 0.0, "s1")},
                       {"exp_avg", r.make(at::kBFloat16, {3}, 0.1, 0.3, "m1")},
                       {"exp_avg_sq", r.make(at::kBFloat16, {3}, 0.01, 0.02, "v1")}});
  PV group = PV::dict({{"lr", 2e-5},
                       {"betas", PV::tuple({0.9, 0.999})},
                       {"eps", 1e-8},
                       {"weight_decay", 0.01},
                       {"amsgrad", false},
                       {"foreach", PV()},
                       {"maximize", false},
                       {"capturable", false},
                       {"differentiable", false},
                       {"fused", true},
                       {"params", PV::list({0, 1})}});
  return PV::dict({
      {"seed", 42},
      {"epochs_run", 1},
      {"total_epochs", 3},
      {"max_steps_per_epoch", PV()},
      {"dataloader", PV::dict({{"_num_yielded", 2},
                               {"_sampler_iter_state", PV()},
                               {"_iterator_finished", false},
                               {"generator", r.make(at::kByte, {16}, 7, 13, "gen")}})},
      {"optimizer", PV::dict({{"state", PV::dict({{0, adam0}, {1, adam1}})},
                              {"param_groups", PV::list({group})}})},
      {"misc", PV::dict({{"neg", -7},
                         {"int32_min", int64_t{-2147483648LL}},
                         {"big", int64_t{1} << 40},
                         {"int64_min", std::numeric_limits<int64_t>::min()},
                         {"int64_max", std::numeric_limits<int64_t>::max()},
                         {"u16", 65535},
                         {"neg_zero", -0.0},
                         {"one", 1.0},
                         {"text", "h\xc3\xa9llo \xe2\x98\x83"},
                         {"bytes", PV::bytes(std::string("\x00\xff\x80"
                                                         "ab",
                                                         5))},
                         {"empty_bytes", PV::bytes("")},
                         {"tuples", PV::list({PV::tuple(), PV::tuple({1}), PV::tuple({1, "a"}),
                                              PV::tuple({1, 2.5, PV()}),
                                              PV::tuple({1, 2, 3, 4, PV::tuple({5})})})},
                         {"base", base},
                         {"base_t", r.transpose(base, -1.5, 0.25, "base")},
                         {"f16", r.make(at::kHalf, {2, 2}, 0.5, 1.5, "h")},
                         {"i64", r.make(at::kLong, {3}, -1099511627776.0, 1099511627776.0, "l")},
                         {"i32", r.make(at::kInt, {2}, -5, 9, "i")},
                         {"mask", r.make(at::kBool, {5}, 0, 1, "b")},
                         {"f64", r.make(at::kDouble, {2}, 0.1, 0.2, "d")},
                         {"empty", r.make(at::kFloat, {0, 3}, 0, 0, "e")},
                         {"od", PV::ordered_dict({{"z", 1}, {"a", 2}})}})},
  });
}

// ---------------------------------------------------------------------------------------------
// safetensors

TEST(SafetensorsWriter, RoundTripsEveryDtypeThroughOurReader) {
  TempDir dir;
  const std::string path = dir.file("model.safetensors");
  at::Tensor base = gen(at::kFloat, {3, 4}, -2, 0.5);
  StateDict want = {{"f32", gen(at::kFloat, {3, 4}, 0.1, 0.7)},
                    {"bf16", gen(at::kBFloat16, {5, 3}, -1, 0.3)},
                    {"f16", gen(at::kHalf, {2, 2}, 0.5, 1.5)},
                    {"f64", gen(at::kDouble, {2}, 0.1, 0.2)},
                    {"i64", gen(at::kLong, {4}, -1099511627776.0, 1e12)},
                    {"i32", gen(at::kInt, {3}, -5, 9)},
                    {"i16", gen(at::kShort, {3}, -5, 9)},
                    {"i8", gen(at::kChar, {3}, -5, 9)},
                    {"u8", gen(at::kByte, {3}, 250, 2)},
                    {"bool", gen(at::kBool, {5}, 0, 1)},
                    {"scalar", gen(at::kFloat, {}, 2.5, 0)},
                    {"empty", gen(at::kFloat, {0, 3}, 0, 0)},
                    {"transposed", base.t()}};
  ASSERT_FALSE(want.back().second.is_contiguous());
  {
    checkpointing::SafetensorsWriter writer(path, checkpointing::tensor_specs(want));
    for (auto it = want.rbegin(); it != want.rend(); ++it) writer.write(it->first, it->second);
    EXPECT_TRUE(fs::exists(path + ".tmp"));
    EXPECT_FALSE(fs::exists(path));
    writer.finish();
  }
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  checkpointing::SafetensorsFile file(path);
  EXPECT_EQ(file.metadata().at("format"), "pt");
  ASSERT_EQ(file.keys().size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(file.keys()[i], want[i].first);  // declaration order, whatever the write order
    EXPECT_TRUE(same_bits(file.tensor(want[i].first), want[i].second)) << want[i].first;
  }
  // The header is padded with spaces to a multiple of 8, so the data is 8-byte aligned.
  std::string bytes = read_all(path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[i]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(bytes[8], '{');
  EXPECT_NE(bytes.find("{\"__metadata__\":{\"format\":\"pt\"}"), std::string::npos);
}

TEST(SafetensorsWriter, AbandonedWriterLeavesNoFileAndKeepsTheOldOne) {
  TempDir dir;
  const std::string fresh = dir.file("fresh.safetensors");
  {
    checkpointing::SafetensorsWriter writer(fresh,
                                            {{"a", at::kFloat, {2}}, {"b", at::kFloat, {2}}});
    writer.write("a", at::ones({2}));
  }
  EXPECT_FALSE(fs::exists(fresh));
  EXPECT_FALSE(fs::exists(fresh + ".tmp"));

  const std::string old = dir.file("old.safetensors");
  checkpointing::save_safetensors(old, {{"a", at::ones({2})}});
  const std::string before = read_all(old);
  try {
    checkpointing::SafetensorsWriter writer(old, {{"a", at::kFloat, {2}}});
    writer.write("a", at::ones({3}));  // wrong shape: throws, the writer unwinds unfinished
  } catch (const Error&) {
  }
  EXPECT_EQ(read_all(old), before);
  EXPECT_FALSE(fs::exists(old + ".tmp"));
}

TEST(SafetensorsWriter, RefusesMismatchesClearly) {
  TempDir dir;
  const std::string path = dir.file("x.safetensors");
  checkpointing::SafetensorsWriter writer(path,
                                          {{"a", at::kBFloat16, {2, 3}}, {"b", at::kFloat, {1}}});
  testing::expect_error([&] { writer.write("zzz", at::ones({1})); }, {path, "zzz", "not declared"});
  testing::expect_error([&] { writer.write("a", at::ones({2, 3})); }, {"[a]", "Float", "BFloat16"});
  testing::expect_error(
      [&] {
        writer.write("a", at::ones({3, 2}, at::kBFloat16));
      },
      {"[a]", "shape"});
  writer.write("a", at::ones({2, 3}, at::kBFloat16));
  testing::expect_error(
      [&] {
        writer.write("a", at::ones({2, 3}, at::kBFloat16));
      },
      {"written twice"});
  testing::expect_error([&] { writer.finish(); }, {path, "never written", "b"});
  testing::expect_error(
      [&] {
        checkpointing::SafetensorsWriter(dir.file("c.safetensors"),
                                         {{"c", at::kComplexFloat, {1}}});
      },
      {"[c]", "cannot write dtype", "BF16"});
  testing::expect_error(
      [&] {
        checkpointing::SafetensorsWriter(dir.file("d.safetensors"),
                                         {{"d", at::kFloat, {1}}, {"d", at::kFloat, {1}}});
      },
      {"[d]", "declared twice"});
  testing::expect_error(
      [&] {
        checkpointing::SafetensorsWriter(dir.file("e.safetensors"),
                                         {{"__metadata__", at::kFloat, {1}}});
      },
      {"__metadata__"});
  testing::expect_error(
      [&] { checkpointing::SafetensorsWriter(dir.file("no/such/dir/f.safetensors"), {}); },
      {"no/such/dir/f.safetensors.tmp", "cannot create"});
}

// ---------------------------------------------------------------------------------------------
// torch.save

TEST(TorchSave, RecipeStateTreeRoundTrips) {
  TempDir dir;
  Recipes r;
  const PickleValue tree = recipe_state_tree(r);
  const std::string path = dir.file("recipe_state.pt");
  checkpointing::save_torch_file(path, tree);
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  const PickleValue back = checkpointing::load_torch_file(path);
  EXPECT_EQ(back, tree) << back.repr();
  EXPECT_FALSE(back.is_ordered_dict());
  EXPECT_TRUE(back.at("misc").at("od").is_ordered_dict());
  EXPECT_EQ(back.at("optimizer").at("state").dict_items()[1].first, PickleValue(1));
  EXPECT_EQ(back.at("optimizer").at("param_groups").items()[0].at("lr").to_double(), 2e-5);
  EXPECT_EQ(back.at("misc").at("bytes").to_bytes(), std::string("\x00\xff\x80"
                                                                "ab",
                                                                5));
  // The view and its base share one storage again, with the view's strides.
  const at::Tensor& b = back.at("misc").at("base").to_tensor();
  const at::Tensor& bt = back.at("misc").at("base_t").to_tensor();
  EXPECT_EQ(storage_of(b), storage_of(bt));
  EXPECT_EQ(bt.strides(), (std::vector<int64_t>{1, 4}));
  EXPECT_NE(storage_of(b), storage_of(back.at("misc").at("f16").to_tensor()));
}

TEST(TorchSave, StateDictRoundTripKeepsOrderViewsAndDevice) {
  TempDir dir;
  at::Tensor w = gen(at::kBFloat16, {4, 6}, -3, 0.125);
  StateDict sd = {{"z.weight", w},
                  {"a.weight", gen(at::kFloat, {3}, 1, 2)},
                  {"z.weight_t", w.t()},
                  {"slice", w.slice(0, 1, 3).slice(1, 2, 5)}};
  const std::string path = dir.file("model.bin");
  checkpointing::save_state_dict_file(path, sd);
  EXPECT_TRUE(checkpointing::load_torch_file(path).is_ordered_dict());
  StateDict back = checkpointing::load_state_dict_file(path);
  ASSERT_EQ(back.size(), sd.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    EXPECT_EQ(back[i].first, sd[i].first);
    EXPECT_TRUE(same_bits(back[i].second, sd[i].second)) << sd[i].first;
    EXPECT_EQ(back[i].second.strides(), sd[i].second.strides()) << sd[i].first;
    EXPECT_EQ(back[i].second.storage_offset(), sd[i].second.storage_offset()) << sd[i].first;
  }
  // The transpose and the slice are views of w's storage, "a.weight" has its own.
  EXPECT_EQ(storage_of(back[2].second), storage_of(back[0].second));
  EXPECT_EQ(storage_of(back[3].second), storage_of(back[0].second));
  EXPECT_NE(storage_of(back[1].second), storage_of(back[0].second));
  // Loaded tensors are writable (copy-on-write over the file) and the file is unchanged.
  back[0].second.add_(1);
  EXPECT_TRUE(same_bits(back[2].second, (sd[0].second + 1).t()));
  EXPECT_TRUE(same_bits(checkpointing::load_state_dict_file(path)[0].second, sd[0].second));

  testing::expect_error(
      [&] {
        checkpointing::save_state_dict_file(dir.file("dup.bin"), {{"x", w}, {"x", w}});
      },
      {"[x]", "twice"});
}

TEST(TorchSave, StreamingWriterTakesTensorsOneAtATime) {
  TempDir dir;
  const std::string path = dir.file("stream.pt");
  PickleValue tree = PickleValue::ordered_dict();
  {
    checkpointing::TorchSaveWriter writer(path);
    for (int i = 0; i < 4; ++i) {
      at::Tensor t = gen(at::kBFloat16, {8, 5}, i, 0.5);  // dropped after write(): nothing kept
      PickleValue v = writer.write(t);
      EXPECT_TRUE(v.to_tensor().is_meta());
      tree.set("layer." + std::to_string(i), v);
    }
    at::Tensor base = gen(at::kFloat, {2, 3}, 0, 1);
    tree.set("base", writer.write(base));
    tree.set("base_t", writer.write(base.t()));
    tree.set("plain", gen(at::kFloat, {2}, 5, 1));  // an ordinary tensor, written by finish()
    tree.set("step", 7);
    EXPECT_TRUE(fs::exists(path + ".tmp"));
    writer.finish(tree);
    testing::expect_error([&] { writer.write(at::ones({1})); }, {path, "after finish"});
  }
  const PickleValue back = checkpointing::load_torch_file(path);
  ASSERT_TRUE(back.is_ordered_dict());
  ASSERT_EQ(back.size(), 8u);
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(same_bits(back.at("layer." + std::to_string(i)).to_tensor(),
                          gen(at::kBFloat16, {8, 5}, i, 0.5)));
  EXPECT_TRUE(same_bits(back.at("base_t").to_tensor(), gen(at::kFloat, {2, 3}, 0, 1).t()));
  EXPECT_EQ(storage_of(back.at("base").to_tensor()), storage_of(back.at("base_t").to_tensor()));
  EXPECT_TRUE(same_bits(back.at("plain").to_tensor(), gen(at::kFloat, {2}, 5, 1)));
  EXPECT_EQ(back.at("step").to_int(), 7);
}

TEST(TorchSave, AbandonedWriterLeavesTheTargetUntouched) {
  TempDir dir;
  const std::string path = dir.file("model.pt");
  write_all(path, "old contents");
  {
    checkpointing::TorchSaveWriter writer(path);
    writer.write(at::ones({1000}));
  }
  EXPECT_EQ(read_all(path), "old contents");
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(TorchSave, RefusesWhatPythonCouldNotLoad) {
  TempDir dir;
  const std::string path = dir.file("bad.pt");
  testing::expect_error(
      [&] {
        checkpointing::save_torch_file(path, PickleValue::dict({{PickleValue::list(), 1}}));
      },
      {path, "not hashable"});
  testing::expect_error(
      [&] {
        checkpointing::save_torch_file(path, at::empty({2}, at::TensorOptions().device(at::kMeta)));
      },
      {path, "meta tensor has no data"});
  at::Tensor f = at::ones({4});
  testing::expect_error(
      [&] {
        checkpointing::save_torch_file(path, PickleValue::list({f, f.view(at::kInt)}));
      },
      {path, "different dtypes"});
  testing::expect_error([&] { checkpointing::save_torch_file(path, at::ones({2}, at::kUInt16)); },
                        {path, "cannot save dtype"});
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(TorchSave, ValueAccessorsNameTheTypes) {
  PickleValue d = PickleValue::dict({{"seed", 42}, {"lr", 2e-5}});
  testing::expect_error([&] { d.at("seed").to_string(); }, {"expected a str", "int 42"});
  testing::expect_error([&] { d.at("epochs"); }, {"no key 'epochs'", "'seed'", "'lr'"});
  EXPECT_EQ(d.at("seed").to_double(), 42.0);  // ints widen to float, as in Python
  d.set("seed", 7);
  EXPECT_EQ(d.size(), 2u);
  EXPECT_EQ(d.at("seed").to_int(), 7);
  EXPECT_NE(PickleValue(1), PickleValue(true));
  EXPECT_NE(PickleValue(1), PickleValue(1.0));
  EXPECT_NE(PickleValue::list({1}), PickleValue::tuple({1}));
  EXPECT_NE(PickleValue::dict(), PickleValue::ordered_dict());
  EXPECT_EQ(PickleValue::dict({{"a", PickleValue::tuple({1, "x", PickleValue()})}}).repr(),
            "{'a': (1, 'x', None)}");
}

// Tensors on the GPU are written one CPU copy at a time: a non-contiguous tensor to
// safetensors, whole storages (views kept) to torch.save, and through the streaming writer.
TEST(GpuCheckpointIo, WritersTakeCudaTensors) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  TempDir dir;
  const at::Tensor host = gen(at::kBFloat16, {4, 6}, -3, 0.125);
  const at::Tensor w = host.to(at::kCUDA);
  checkpointing::save_safetensors(dir.file("m.safetensors"), {{"w_t", w.t()}, {"w", w}});
  checkpointing::SafetensorsFile st(dir.file("m.safetensors"));
  EXPECT_TRUE(same_bits(st.tensor("w_t"), host.t()));
  EXPECT_TRUE(same_bits(st.tensor("w"), host));

  checkpointing::save_torch_file(dir.file("tree.pt"),
                                 PickleValue::dict({{"w", w}, {"w_t", w.t()}}));
  const PickleValue tree = checkpointing::load_torch_file(dir.file("tree.pt"));
  EXPECT_TRUE(tree.at("w").to_tensor().is_cpu());
  EXPECT_TRUE(same_bits(tree.at("w_t").to_tensor(), host.t()));
  EXPECT_EQ(storage_of(tree.at("w").to_tensor()), storage_of(tree.at("w_t").to_tensor()));

  {
    checkpointing::TorchSaveWriter writer(dir.file("stream.pt"));
    PickleValue rows = writer.write(w.slice(0, 1, 3));
    writer.finish(PickleValue::list({rows}));
  }
  const at::Tensor rows =
      checkpointing::load_torch_file(dir.file("stream.pt")).items()[0].to_tensor();
  EXPECT_TRUE(same_bits(rows, host.slice(0, 1, 3)));
  EXPECT_EQ(rows.storage_offset(), 6);
  EXPECT_EQ(rows.storage().nbytes(), host.nbytes());  // as torch.save: the whole storage
}

// ---------------------------------------------------------------------------------------------
// Python reads what we write

TEST(CheckpointInterop, PythonLoadsOurFiles) {
  TempDir dir;
  Recipes r;
  const PickleValue tree = recipe_state_tree(r);
  checkpointing::save_torch_file(dir.file("recipe_state.pt"), tree);

  at::Tensor w = r.make(at::kBFloat16, {4, 6}, -3, 0.125, "w");
  StateDict sd = {{"tok_embeddings.weight", w},
                  {"norm.scale", r.make(at::kFloat, {6}, 1, -0.25, "n")},
                  {"output.weight_t", r.transpose(w, -3, 0.125, "w")}};
  checkpointing::save_state_dict_file(dir.file("model-00001-of-00001.bin"), sd);
  PickleValue sd_tree = PickleValue::ordered_dict();
  for (const auto& [k, t] : sd) sd_tree.set(k, t);

  // The streaming writer's file (storages before the pickle) must load the same way.
  PickleValue streamed = PickleValue::dict();
  {
    checkpointing::TorchSaveWriter writer(dir.file("streamed.pt"));
    at::Tensor a = r.make(at::kHalf, {3, 2}, 0.5, 0.25, "sa");
    PickleValue pa = writer.write(a);
    r.specs[pa.to_tensor().unsafeGetTensorImpl()] = r.specs.at(a.unsafeGetTensorImpl());
    streamed.set("a", pa);
    streamed.set("n", 3);
    writer.finish(streamed);
  }

  at::Tensor base = r.make(at::kFloat, {3, 4}, -2, 0.5, "");
  StateDict st = {{"model.embed_tokens.weight", r.make(at::kBFloat16, {5, 3}, -1, 0.3, "")},
                  {"model.norm.weight", r.make(at::kHalf, {2, 2}, 0.5, 1.5, "")},
                  {"ids", r.make(at::kLong, {4}, -1099511627776.0, 1e12, "")},
                  {"mask", r.make(at::kBool, {5}, 0, 1, "")},
                  {"scalar", r.make(at::kFloat, {}, 2.5, 0, "")},
                  {"lm_head.weight", r.transpose(base, -2, 0.5, "")}};
  checkpointing::save_safetensors(dir.file("model.safetensors"), st);

  std::string st_json = "[";
  for (size_t i = 0; i < st.size(); ++i)
    st_json += (i ? ", " : "") + std::string("[") + json_string(st[i].first) + ", " +
               r.specs.at(st[i].second.unsafeGetTensorImpl()) + "]";
  st_json += "]";
  const std::string manifest =
      "{\"files\": [\n"
      "{\"path\": \"recipe_state.pt\", \"format\": \"torch\", \"value\": " +
      r.json(tree) +
      "},\n"
      "{\"path\": \"model-00001-of-00001.bin\", \"format\": \"torch\", \"value\": " +
      r.json(sd_tree) +
      "},\n"
      "{\"path\": \"streamed.pt\", \"format\": \"torch\", \"value\": " +
      r.json(streamed) +
      "},\n"
      "{\"path\": \"model.safetensors\", \"format\": \"safetensors\", \"metadata\": {\"format\": "
      "\"pt\"}, "
      "\"tensors\": " +
      st_json + "}\n]}\n";
  write_all(dir.file("manifest.json"), manifest);

  const std::string command = std::string(TT_TEST_PYTHON) + " " + TT_SOURCE_DIR +
                              "/tests/interop/load_our_files.py " + dir.file("manifest.json");
  int status = std::system(command.c_str());
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << command << " failed (its output is above); manifest:\n"
      << manifest;
}

}  // namespace
}  // namespace tt
