// The checkpointers on real files (tests/assets/golden/checkpointing/, made by
// tests/scripts/make_checkpointing_fixtures.py with torchtune 0.6.1's own conversions, and
// tests/assets/golden/llama/hf_mha/ from transformers): every format loads to the same
// torchtune-keyed tensors; load -> save reproduces every input tensor bit for bit under the
// same shard partition and names; the outputs load in transformers / torch.load
// (tests/interop/check_saved_checkpoint.py); torchtune's argument errors; truncated files.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/common/temp_dir.h"
#include "tests/unit/test_util.h"
#include "torchtune_cpp/checkpointing/checkpointer.h"
#include "torchtune_cpp/checkpointing/safetensors.h"
#include "torchtune_cpp/checkpointing/torch_save.h"
#include "torchtune_cpp/config/config.h"
#include "torchtune_cpp/config/registry.h"

namespace tt {
namespace {

namespace fs = std::filesystem;
using testing::expect_error;

const std::string kAssets = std::string(TT_SOURCE_DIR) + "/tests/assets/golden/";
const std::string kFixtures = kAssets + "checkpointing/";
const std::string kHfSingle = kAssets + "llama/hf_mha";

using tt::testing::TempDir;

checkpointing::CheckpointerOptions options(const std::string& dir, std::vector<std::string> files,
                                           const std::string& out) {
  checkpointing::CheckpointerOptions o;
  o.checkpoint_dir = dir;
  o.checkpoint_files.names = std::move(files);
  o.model_type = "LLAMA2";
  o.output_dir = out;
  return o;
}

void expect_same(const StateDict& a, const StateDict& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (const auto& [k, t] : a) {
    const at::Tensor* other = find_tensor(b, k);
    ASSERT_NE(other, nullptr) << what << ": missing " << k;
    EXPECT_EQ(t.scalar_type(), other->scalar_type()) << what << ": " << k;
    EXPECT_EQ(t.sizes(), other->sizes()) << what << ": " << k;
    EXPECT_TRUE(at::equal(t, *other)) << what << ": " << k << " differs";
  }
}

StateDict reference_tune() {
  return checkpointing::load_state_dict_file(kFixtures + "torchtune/model.pt");
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

TEST(Checkpointer, EveryFormatLoadsToTheSameTuneTensors) {
  TempDir out;
  StateDict ref = reference_tune();
  ASSERT_EQ(ref.size(), 21u);
  {
    checkpointing::FullModelHFCheckpointer c(
        options(kHfSingle, {"model.safetensors"}, out.file("a")));
    EXPECT_EQ(c.config().head_dim, 16);
    EXPECT_DOUBLE_EQ(c.config().rope_theta, 10000.0);
    expect_same(c.load_checkpoint().model, ref, "hf single safetensors");
  }
  {
    checkpointing::FullModelHFCheckpointer c(options(
        kFixtures + "hf_st_2shard",
        {"model-00002-of-00002.safetensors", "model-00001-of-00002.safetensors"}, out.file("b")));
    checkpointing::CheckpointDict d = c.load_checkpoint();
    expect_same(d.model, ref, "hf 2-shard safetensors");
    EXPECT_FALSE(d.recipe_state.has_value());
  }
  {
    checkpointing::CheckpointerOptions o = options(kFixtures + "hf_bin_2shard", {}, out.file("c"));
    o.checkpoint_files.formatted = true;
    o.checkpoint_files.filename_format = "pytorch_model-{}-of-{}.bin";
    o.checkpoint_files.max_filename = "00002";
    checkpointing::FullModelHFCheckpointer c(o);
    expect_same(c.load_checkpoint().model, ref, "hf 2-shard .bin (inv_freq dropped)");
    EXPECT_EQ(c.weight_map().size(), 22u);  // the inv_freq buffer stays in the map
  }
  {
    checkpointing::FullModelMetaCheckpointer c(
        options(kFixtures + "meta", {"consolidated.00.pth"}, out.file("d")));
    expect_same(c.load_checkpoint().model, ref, "meta");
  }
  {
    checkpointing::FullModelTorchTuneCheckpointer c(
        options(kFixtures + "torchtune", {"model.pt"}, out.file("e")));
    expect_same(c.load_checkpoint().model, ref, "torchtune");
  }
}

// Every tensor of `src_files` (other than `skip`) appears bit for bit in the same-named
// output file.
void expect_shards_reproduced(const std::string& src_dir, const std::string& out_dir,
                              const std::vector<std::pair<std::string, std::string>>& in_out) {
  for (const auto& [in_name, out_name] : in_out) {
    StateDict in = in_name.size() > 12 && in_name.substr(in_name.size() - 12) == ".safetensors"
                       ? checkpointing::SafetensorsFile(src_dir + "/" + in_name).state_dict()
                       : checkpointing::load_state_dict_file(src_dir + "/" + in_name);
    StateDict out = out_name.substr(out_name.size() - 12) == ".safetensors"
                        ? checkpointing::SafetensorsFile(out_dir + "/" + out_name).state_dict()
                        : checkpointing::load_state_dict_file(out_dir + "/" + out_name);
    in.erase(std::remove_if(in.begin(), in.end(),
                            [](const NamedTensor& nt) {
                              return nt.first.find("inv_freq") != std::string::npos;
                            }),
             in.end());
    expect_same(in, out, out_name);
  }
}

TEST(Checkpointer, HfSafetensorsRoundTripKeepsPartitionAndNames) {
  TempDir out;
  const std::string src = kFixtures + "hf_st_2shard";
  checkpointing::FullModelHFCheckpointer c(options(
      src, {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}, out.str()));
  checkpointing::CheckpointDict d = c.load_checkpoint();
  c.save_checkpoint(d.model, 0, false, nullptr);
  const std::string epoch = out.file("epoch_0");
  EXPECT_EQ(files_in(epoch),
            (std::vector<std::string>{"config.json", "model-00001-of-00002.safetensors",
                                      "model-00002-of-00002.safetensors",
                                      "model.safetensors.index.json"}));
  expect_shards_reproduced(
      src, epoch,
      {{"model-00001-of-00002.safetensors", "model-00001-of-00002.safetensors"},
       {"model-00002-of-00002.safetensors", "model-00002-of-00002.safetensors"}});
  // The index equals the input's (same keys, files and total size).
  EXPECT_EQ(read_json(epoch + "/model.safetensors.index.json"),
            read_json(src + "/model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(out.file("recipe_state")));
  // Nothing but epoch_0 is left in output_dir (no staging folders).
  EXPECT_EQ(std::distance(fs::directory_iterator(out.str()), fs::directory_iterator()), 1);
}

TEST(Checkpointer, HfBinRoundTripWithIndexAndSideFiles) {
  TempDir out;
  const std::string src = kFixtures + "hf_bin_2shard";
  checkpointing::CheckpointerOptions o = options(
      src, {"pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin"}, out.str());
  o.safe_serialization = false;
  checkpointing::FullModelHFCheckpointer c(o);
  checkpointing::CheckpointDict d = c.load_checkpoint();
  PickleValue state = PickleValue::dict({{PickleValue("seed"), PickleValue(int64_t{7})},
                                         {PickleValue("epochs_run"), PickleValue(int64_t{1})}});
  c.save_checkpoint(d.model, 0, true, &state);
  const std::string epoch = out.file("epoch_0");
  EXPECT_EQ(
      files_in(epoch),
      (std::vector<std::string>{"config.json", "generation_config.json", "model-00001-of-00002.bin",
                                "model-00002-of-00002.bin", "original/params.json",
                                "pytorch_model.bin.index.json", "recipe_state.pt"}));
  expect_shards_reproduced(src, epoch,
                           {{"pytorch_model-00001-of-00002.bin", "model-00001-of-00002.bin"},
                            {"pytorch_model-00002-of-00002.bin", "model-00002-of-00002.bin"}});
  nlohmann::json index = read_json(epoch + "/pytorch_model.bin.index.json");
  EXPECT_EQ(index["weight_map"].size(), 22u);
  EXPECT_EQ(index["weight_map"]["model.layers.0.self_attn.rotary_emb.inv_freq"],
            "model-00001-of-00002.bin");
  EXPECT_EQ(index["weight_map"]["lm_head.weight"], "model-00002-of-00002.bin");
  // total_size counts the tensors written (the inv_freq buffer is not).
  EXPECT_EQ(
      index["metadata"]["total_size"].get<int64_t>(),
      read_json(kFixtures + "hf_st_2shard/model.safetensors.index.json")["metadata"]["total_size"]
          .get<int64_t>());
  // Python's json.dump(indent=2) layout.
  std::ifstream in(epoch + "/pytorch_model.bin.index.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.rfind("{\n  \"metadata\": {\n    \"total_size\": ", 0), 0u) << text.substr(0, 80);
  // recipe state (plus our save time, which orders checkpoints), and reading it back on
  // resume from output_dir.
  auto without_save_time = [](const PickleValue& v) {
    PickleValue out = PickleValue::dict();
    for (const auto& [k, x] : v.dict_items())
      if (!(k.is_string() && k.to_string() == "torchtune_cpp_saved_at_ns")) out.set(k, x);
    return out;
  };
  PickleValue written = checkpointing::load_torch_file(out.file("recipe_state/recipe_state.pt"));
  ASSERT_NE(written.find("torchtune_cpp_saved_at_ns"), nullptr);
  EXPECT_TRUE(written.at("torchtune_cpp_saved_at_ns").is_int());
  EXPECT_EQ(without_save_time(written), state);
  checkpointing::CheckpointerOptions r = options(
      src, {"epoch_0/model-00001-of-00002.bin", "epoch_0/model-00002-of-00002.bin"}, out.str());
  r.resume_from_checkpoint = true;  // deprecated spelling still resumes
  checkpointing::FullModelHFCheckpointer resumed(r);
  EXPECT_TRUE(resumed.should_load_recipe_state());
  checkpointing::CheckpointDict back = resumed.load_checkpoint();
  expect_same(back.model, d.model, "resumed");
  ASSERT_TRUE(back.recipe_state.has_value());
  EXPECT_EQ(without_save_time(*back.recipe_state), state);
}

TEST(Checkpointer, MetaAndTorchTuneRoundTrip) {
  TempDir out;
  {
    const std::string src = kFixtures + "meta";
    checkpointing::FullModelMetaCheckpointer c(
        options(src, {"consolidated.00.pth"}, out.file("meta")));
    c.save_checkpoint(c.load_checkpoint().model, 2, false, nullptr);
    EXPECT_EQ(files_in(out.file("meta/epoch_2")),
              (std::vector<std::string>{"model-00001-of-00001.bin", "params.json"}));
    expect_same(
        checkpointing::load_state_dict_file(src + "/consolidated.00.pth"),
        checkpointing::load_state_dict_file(out.file("meta/epoch_2/model-00001-of-00001.bin")),
        "meta");
  }
  {
    const std::string src = kFixtures + "torchtune";
    checkpointing::FullModelTorchTuneCheckpointer c(options(src, {"model.pt"}, out.file("tune")));
    StateDict sd = c.load_checkpoint().model;
    c.save_checkpoint(sd, 0, false, nullptr);
    const auto plain_size = fs::file_size(out.file("tune/epoch_0/model-00001-of-00001.bin"));
    // Parameters that view one flat buffer are saved each with its own storage.
    int64_t total = 0;
    for (const auto& nt : sd) total += nt.second.numel();
    at::Tensor flat = at::empty({total}, sd[0].second.options());
    StateDict views;
    int64_t offset = 0;
    for (const auto& [k, t] : sd) {
      at::Tensor v = flat.narrow(0, offset, t.numel()).view(t.sizes());
      v.copy_(t);
      views.emplace_back(k, v);
      offset += t.numel();
    }
    c.save_checkpoint(views, 0, false, nullptr);
    EXPECT_EQ(fs::file_size(out.file("tune/epoch_0/model-00001-of-00001.bin")), plain_size);
    expect_same(
        checkpointing::load_state_dict_file(src + "/model.pt"),
        checkpointing::load_state_dict_file(out.file("tune/epoch_0/model-00001-of-00001.bin")),
        "views");
    // One small view of the buffer: the file holds that tensor's bytes, not the buffer.
    const NamedTensor& norm = *std::find_if(
        views.begin(), views.end(), [](const NamedTensor& nt) { return nt.first == "norm.scale"; });
    c.save_checkpoint({norm}, 0, false, nullptr);
    EXPECT_LT(fs::file_size(out.file("tune/epoch_0/model-00001-of-00001.bin")), 64u * 1024);
    // A second save of the same epoch replaces the folder whole.
    c.save_checkpoint(sd, 0, false, nullptr);
    EXPECT_EQ(files_in(out.file("tune/epoch_0")),
              (std::vector<std::string>{"model-00001-of-00001.bin"}));
    expect_same(
        checkpointing::load_state_dict_file(src + "/model.pt"),
        checkpointing::load_state_dict_file(out.file("tune/epoch_0/model-00001-of-00001.bin")),
        "torchtune");
  }
}

TEST(Checkpointer, FailedSaveLeavesNoEpochFolder) {
  TempDir out;
  checkpointing::FullModelHFCheckpointer c(options(kHfSingle, {"model.safetensors"}, out.str()));
  StateDict sd = c.load_checkpoint().model;
  sd.emplace_back("layers.9.attn.q_proj.weight", at::zeros({64, 64}));  // not in the input
  expect_error([&] { c.save_checkpoint(sd, 0, false, nullptr); },
               {"model.layers.9.self_attn.q_proj.weight"});
  EXPECT_EQ(std::distance(fs::directory_iterator(out.str()), fs::directory_iterator()), 0);
  // A failure in the middle of writing (here: a dtype safetensors cannot hold, on the last
  // tensor) removes the partial folder and leaves an earlier complete epoch_0 untouched.
  sd.pop_back();
  c.save_checkpoint(sd, 0, false, nullptr);
  const auto before = files_in(out.file("epoch_0"));
  sd.back().second = at::zeros(sd.back().second.sizes(), at::kComplexFloat);
  expect_error([&] { c.save_checkpoint(sd, 0, false, nullptr); }, {});
  EXPECT_EQ(std::distance(fs::directory_iterator(out.str()), fs::directory_iterator()), 1);
  EXPECT_EQ(files_in(out.file("epoch_0")), before);
  sd.pop_back();
  expect_shards_reproduced(kHfSingle, out.file("epoch_0"),
                           {{"model.safetensors", "model-00001-of-00001.safetensors"}});
}

TEST(Checkpointer, OutputsLoadInTransformersAndTorchLoad) {
  TempDir out;
  checkpointing::FullModelHFCheckpointer hf(
      options(kHfSingle, {"model.safetensors"}, out.file("hf")));
  hf.save_checkpoint(hf.load_checkpoint().model, 0, false, nullptr);
  checkpointing::CheckpointerOptions o = options(
      kFixtures + "hf_st_2shard",
      {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}, out.file("hfbin"));
  o.safe_serialization = false;
  checkpointing::FullModelHFCheckpointer hfbin(o);
  hfbin.save_checkpoint(hfbin.load_checkpoint().model, 0, false, nullptr);
  checkpointing::FullModelMetaCheckpointer meta(
      options(kFixtures + "meta", {"consolidated.00.pth"}, out.file("meta")));
  meta.save_checkpoint(meta.load_checkpoint().model, 0, false, nullptr);
  checkpointing::FullModelTorchTuneCheckpointer tune(
      options(kFixtures + "torchtune", {"model.pt"}, out.file("tune")));
  PickleValue state = PickleValue::dict({{PickleValue("seed"), PickleValue(int64_t{1})}});
  tune.save_checkpoint(tune.load_checkpoint().model, 0, true, &state);
  const std::string command = std::string(TT_TEST_PYTHON) + " " + TT_SOURCE_DIR +
                              "/tests/interop/check_saved_checkpoint.py " + kHfSingle +
                              "/reference_fp32.safetensors " + (out.file("hf/epoch_0")) + " " +
                              (out.file("hfbin/epoch_0")) + " " +
                              (out.file("hfbin/epoch_0/model-00001-of-00002.bin")) + " " +
                              (out.file("meta/epoch_0/model-00001-of-00001.bin")) + " " +
                              (out.file("tune/epoch_0/model-00001-of-00001.bin")) + " " +
                              (out.file("tune/recipe_state/recipe_state.pt"));
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

TEST(Checkpointer, TorchtuneErrors) {
  TempDir out;
  expect_error(
      [&] {
        checkpointing::FullModelHFCheckpointer(
            options(kHfSingle, {"missing.safetensors"}, out.str()));
      },
      {"No file with name: missing.safetensors found in", kHfSingle});
  expect_error(
      [&] {
        checkpointing::FullModelMetaCheckpointer(options(kHfSingle + "/nope", {"a"}, out.str()));
      },
      {"is not a valid directory."});
  expect_error(
      [&] {
        checkpointing::FullModelHFCheckpointer(
            options(kHfSingle, {"model.safetensors"}, kHfSingle + "/out"));
      },
      {"The output directory cannot be the same as or a subdirectory of the checkpoint directory"});
  expect_error(
      [&] {
        checkpointing::FullModelTorchTuneCheckpointer(
            options(kFixtures + "torchtune", {"model.pt"}, kFixtures + "torchtune"));
      },
      {"cannot be the same as"});
  expect_error(
      [&] {
        checkpointing::FullModelMetaCheckpointer(
            options(kFixtures + "meta", {"consolidated.00.pth", "consolidated.01.pth"}, out.str()));
      },
      {"Currently we only support reading from a single checkpoint file. Got 2 files instead."});
  {
    checkpointing::CheckpointerOptions o = options(kHfSingle, {"model.safetensors"}, out.str());
    o.adapter_checkpoint = "adapter_0.pt";
    expect_error([&] { checkpointing::FullModelHFCheckpointer{o}; },
                 {"adapter_checkpoint", "not supported"});
  }
  {
    checkpointing::CheckpointerOptions o = options(kHfSingle, {"model.safetensors"}, out.str());
    o.model_type = "llama2";
    expect_error([&] { checkpointing::FullModelHFCheckpointer{o}; },
                 {"not a torchtune ModelType", "LLAMA2"});
    o.model_type = "MISTRAL";  // the same conversion as LLAMA2
    EXPECT_NO_THROW(checkpointing::FullModelHFCheckpointer{o});
    o.model_type = "LLAMA3_2";
    expect_error([&] { checkpointing::FullModelHFCheckpointer{o}; }, {"not supported"});
  }
  {
    // Resuming with nothing in output_dir: no listed files there, no complete checkpoint.
    checkpointing::CheckpointerOptions o = options(kHfSingle, {"model.safetensors"}, out.str());
    o.should_load_recipe_state = true;
    expect_error([&] { checkpointing::FullModelHFCheckpointer{o}; },
                 {"nothing to resume from", out.str()});
    // torchtune's convention (files listed under output_dir) without the recipe state file.
    std::filesystem::copy_file(kHfSingle + "/model.safetensors", out.file("model.safetensors"));
    expect_error([&] { checkpointing::FullModelHFCheckpointer{o}; },
                 {"If should_load_recipe_state is True, recipe_checkpoint file must be provided."});
  }
  checkpointing::CheckpointFiles f;
  f.formatted = true;
  f.filename_format = "model-{}-of-{}.safetensors";
  f.max_filename = "00003";
  EXPECT_EQ(checkpointing::formatted_checkpoint_files(f),
            (std::vector<std::string>{"model-00001-of-00003.safetensors",
                                      "model-00002-of-00003.safetensors",
                                      "model-00003-of-00003.safetensors"}));
  f.max_filename_is_string = false;
  expect_error([&] { checkpointing::formatted_checkpoint_files(f); },
               {"`max_filename` must be a string"});
  f.max_filename_is_string = true;
  f.filename_format = "model-{}.safetensors";
  expect_error([&] { checkpointing::formatted_checkpoint_files(f); }, {"exactly two placeholders"});
  f.max_filename.clear();
  expect_error([&] { checkpointing::formatted_checkpoint_files(f); },
               {"Must pass 'filename_format' and 'max_filename'"});
}

TEST(Checkpointer, TruncatedShardNamesTheFile) {
  TempDir in, out;
  fs::copy_file(kFixtures + "hf_st_2shard/config.json", in.file("config.json"));
  for (const char* name : {"model-00001-of-00002.safetensors", "model-00002-of-00002.bin"}) {
    std::string src = std::string(name).find(".bin") != std::string::npos
                          ? kFixtures + "hf_bin_2shard/pytorch_model-00002-of-00002.bin"
                          : kFixtures + "hf_st_2shard/" + name;
    fs::copy_file(src, in.file(name));
    fs::resize_file(in.file(name), fs::file_size(in.file(name)) / 2);
    checkpointing::FullModelHFCheckpointer c(options(in.str(), {name}, out.str()));
    expect_error([&] { c.load_checkpoint(); }, {name});
  }
  std::ofstream(in.file("bad.pt")) << "not a zip";
  checkpointing::FullModelTorchTuneCheckpointer t(options(in.str(), {"bad.pt"}, out.str()));
  expect_error([&] { t.load_checkpoint(); }, {"bad.pt"});
}

config::Config config_from(const TempDir& dir, const std::string& yaml) {
  std::ofstream(dir.file("test.yaml")) << yaml;
  return config::Config::load(dir.file("test.yaml"));
}

TEST(Checkpointer, BuiltFromConfigWithCallSiteKeyword) {
  checkpointing::register_checkpointers();
  TempDir out, cfg_dir;
  for (const char* name :
       {"torchtune.training.FullModelHFCheckpointer", "torchtune.utils.FullModelHFCheckpointer"}) {
    std::string yaml =
        std::string("checkpointer:\n  _component_: ") + name + "\n  checkpoint_dir: " + kFixtures +
        "hf_st_2shard\n  checkpoint_files:\n    filename_format: model-{}-of-{}.safetensors\n"
        "    max_filename: \"00002\"\n  model_type: LLAMA2\n  output_dir: " +
        out.str() + "\n";
    config::Config cfg = config_from(cfg_dir, yaml);
    config::Node kw = config::Node::map();
    kw.set("should_load_recipe_state", config::Node::scalar("False"));
    auto c = config::instantiate<checkpointing::CheckpointerPtr>(cfg, "checkpointer", kw);
    EXPECT_EQ(c->checkpoint_paths().size(), 2u);
    EXPECT_EQ(c->load_checkpoint().model.size(), 21u);
  }
  std::string yaml =
      std::string(
          "checkpointer:\n  _component_: torchtune.training.FullModelMetaCheckpointer\n"
          "  checkpoint_dir: ") +
      kFixtures +
      "meta\n  checkpoint_files: [consolidated.00.pth]\n"
      "  model_type: LLAMA2\n  output_dir: " +
      out.str() + "\n  safe_serialization: False\n";
  // Meta has no safe_serialization keyword, as in torchtune.
  expect_error(
      [&] {
        config::instantiate<checkpointing::CheckpointerPtr>(config_from(cfg_dir, yaml),
                                                            "checkpointer", config::Node::map());
      },
      {"safe_serialization"});
  yaml = yaml.substr(0, yaml.find("  safe_serialization"));
  auto meta = config::instantiate<checkpointing::CheckpointerPtr>(
      config_from(cfg_dir, yaml), "checkpointer", config::Node::map());
  EXPECT_EQ(meta->load_checkpoint().model.size(), 21u);
  // An unquoted max_filename is an int in YAML: torchtune's error.
  yaml = std::string(
             "checkpointer:\n  _component_: torchtune.training.FullModelHFCheckpointer\n  "
             "checkpoint_dir: ") +
         kFixtures +
         "hf_st_2shard\n  checkpoint_files:\n    filename_format: model-{}-of-{}.safetensors\n"
         "    max_filename: 00002\n  model_type: LLAMA2\n  output_dir: " +
         out.str() + "\n";
  expect_error(
      [&] {
        config::instantiate<checkpointing::CheckpointerPtr>(config_from(cfg_dir, yaml),
                                                            "checkpointer", config::Node::map());
      },
      {"`max_filename` must be a string"});
}

}  // namespace
}  // namespace tt
