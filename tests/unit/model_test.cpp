// The Llama2 model's mechanics: deferred (meta) construction at 7B/70B scale, the builders
// in the registry, the per-layer wrapper (activation checkpointing bitwise equal, hooks in
// execution order), state-dict loading errors, conversion errors, safetensors errors.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <filesystem>
#include <fstream>

#include "tests/unit/test_util.h"
#include "torchtune_cpp/checkpointing/safetensors.h"
#include "torchtune_cpp/components.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/config/yaml_io.h"
#include "torchtune_cpp/models/llama2/convert_weights.h"
#include "torchtune_cpp/models/llama2/model_builders.h"
#include "torchtune_cpp/modules/layer_wrapper.h"
#include "torchtune_cpp/modules/loss.h"
#include "torchtune_cpp/modules/transformer.h"
#include "torchtune_cpp/training/precision.h"

namespace tt {
namespace {

int64_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

modules::DecoderArgs tiny_args() {
  return llama2::llama2_args(64, 3, 4, 2, 32, 64, 0.0, 48);
}

std::shared_ptr<modules::TransformerDecoder> tiny_model(uint64_t seed = 7) {
  auto m = modules::make_decoder(tiny_args());
  modules::materialize(*m, at::kCPU, at::kFloat, nullptr, modules::normal_init(0.2, seed));
  return m;
}

TEST(Model, DeferredInitBuilds7BAnd70BWithoutMemory) {
  int64_t before = resident_bytes();
  auto m7 = modules::make_decoder(llama2::llama2_7b_args(), at::kBFloat16);
  auto m70 = modules::make_decoder(llama2::llama2_70b_args(), at::kBFloat16);
  EXPECT_EQ(modules::num_parameters(*m7), 6738415616);
  EXPECT_EQ(modules::num_parameters(*m70), 68976648192);
  EXPECT_EQ(m70->layers[0].k_proj.sizes(), (std::vector<int64_t>{1024, 8192}));  // 8 kv heads
  EXPECT_EQ(m7->layers[0].w1.size(0), 11008);  // torchtune's hidden-dim rule
  EXPECT_LT(resident_bytes() - before, 100 << 20);
  EXPECT_TRUE(m7->tok_embeddings.is_meta());
  testing::expect_error(
      [&] {
        modules::hidden_states(*m7, {at::zeros({1, 4}, at::kLong)});
      },
      {"has not been materialised"});
}

TEST(Model, HiddenDimRuleAndBuilderArgs) {
  EXPECT_EQ(llama2::scale_hidden_dim_for_mlp(4096), 11008);
  EXPECT_EQ(llama2::scale_hidden_dim_for_mlp(5120), 13824);
  EXPECT_EQ(llama2::llama2_args(100, 2, 4, std::nullopt, 64, 32).num_kv_heads, 4);
  EXPECT_EQ(llama2::llama2_args(100, 2, 4, 0, 64, 32).intermediate_dim, 256);
  testing::expect_error([] { modules::make_decoder(llama2::llama2_args(100, 2, 3, 3, 64, 32)); },
                        {"model.embed_dim", "multiple of num_heads"});
  testing::expect_error([] { modules::make_decoder(llama2::llama2_args(100, 2, 4, 3, 64, 32)); },
                        {"multiple of num_kv_heads"});
}

TEST(Model, BuildersAreRegisteredUnderTorchtuneNames) {
  register_builtin_components();
  config::Config cfg(
      config::parse_yaml("model:\n  _component_: torchtune.models.llama2.llama2_13b\n"
                         "tiny:\n  _component_: torchtune.models.llama2.llama2\n"
                         "  vocab_size: 64\n  num_layers: 3\n  num_heads: 4\n"
                         "  num_kv_heads: 2\n  embed_dim: 32\n  max_seq_len: 64\n"
                         "  intermediate_dim: 48\n",
                         "m.yaml"),
      "m.yaml");
  auto m13 = config::instantiate<llama2::ModelPtr>(cfg, "model", config::Node::map());
  EXPECT_EQ(modules::num_parameters(*m13), 13015864320);
  auto tiny = config::instantiate<llama2::ModelPtr>(cfg, "tiny", config::Node::map());
  EXPECT_EQ(modules::num_parameters(*tiny),
            modules::num_parameters(*modules::make_decoder(tiny_args())));
  config::Config bad(
      config::parse_yaml("model:\n  _component_: torchtune.models.llama2.llama2_7b\n  dim: 3\n",
                         "b.yaml"),
      "b.yaml");
  testing::expect_error(
      [&] { config::instantiate<llama2::ModelPtr>(bad, "model", config::Node::map()); },
      {"b.yaml:3:8", "unexpected keyword argument 'dim'", "(none)"});
}

// Gradients with activation checkpointing, of every layer or of some, are bitwise those
// without it (CPU, fp32).
TEST(Model, ActivationCheckpointingGivesBitwiseEqualGradients) {
  at::Tensor tokens = at::randint(0, 64, {2, 16}, at::kLong);
  at::Tensor labels = at::randint(0, 64, {2, 16}, at::kLong);
  for (const std::vector<bool>& layers :
       {std::vector<bool>{true, true, true}, std::vector<bool>{true, false, true},
        std::vector<bool>{false, true, false}}) {
    auto plain = tiny_model(), ckpt = tiny_model();
    ASSERT_EQ(ckpt->wrapper.num_layers, 3);
    ckpt->wrapper.checkpointed = layers;
    at::Tensor la = modules::cross_entropy(modules::forward(*plain, {tokens}), labels);
    at::Tensor lb = modules::cross_entropy(modules::forward(*ckpt, {tokens}), labels);
    EXPECT_TRUE(at::equal(la, lb));
    la.backward();
    lb.backward();
    StateDict pa = modules::named_parameters(*plain), pb = modules::named_parameters(*ckpt);
    for (size_t i = 0; i < pa.size(); ++i)
      EXPECT_TRUE(at::equal(pa[i].second.grad(), pb[i].second.grad())) << pa[i].first;
  }
}

// The wrapper recomputes exactly the layers marked checkpointed (never the last): a marked
// layer's function runs again in backward, an unmarked one's does not.
TEST(Model, OnlyTheCheckpointedLayersAreRecomputed) {
  modules::LayerWrapper wrapper;
  wrapper.num_layers = 4;
  wrapper.checkpointed = {true, false, true, true};
  std::vector<int> calls(4, 0);
  at::Tensor w = at::randn({8, 8}).requires_grad_(true);
  at::Tensor x = at::randn({2, 8}).requires_grad_(true);
  at::Tensor h = x;
  for (int64_t i = 0; i < 4; ++i) {
    h = modules::run_layer(wrapper, i, h, {w}, [&, i](const at::Tensor& in) {
      ++calls[i];
      return at::tanh(at::matmul(in, w));
    });
  }
  EXPECT_EQ(calls, (std::vector<int>{1, 1, 1, 1}));
  h.sum().backward();
  EXPECT_EQ(calls, (std::vector<int>{2, 1, 2, 1}));  // the last layer is not recomputed
}

TEST(GpuModel, ActivationOffloadingGivesBitwiseEqualGradients) {
  // Each checkpointed layer's input goes to pinned host memory and back; nothing else changes.
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(3);
  at::Tensor tokens = at::randint(0, 64, {2, 16}, at::kLong).cuda();
  at::Tensor labels = at::randint(0, 64, {2, 16}, at::kLong).cuda();
  std::vector<StateDict> grads;
  for (bool offload : {false, true}) {
    auto m = tiny_model();
    StateDict cpu = modules::named_parameters(*m);
    auto g = modules::make_decoder(tiny_args());
    modules::materialize(*g, at::Device(at::kCUDA, 0), at::kFloat, &cpu, {});
    g->wrapper.checkpointed.assign(g->wrapper.num_layers, true);
    g->wrapper.offload_activations = offload;
    modules::cross_entropy(modules::forward(*g, {tokens}), labels).backward();
    StateDict out;
    for (auto& [k, p] : modules::named_parameters(*g)) out.emplace_back(k, p.grad().cpu());
    grads.push_back(out);
  }
  for (size_t i = 0; i < grads[0].size(); ++i)
    EXPECT_TRUE(at::equal(grads[0][i].second, grads[1][i].second)) << grads[0][i].first;
}

struct Recorder : modules::LayerHooks {
  std::vector<std::string> events;
  void before_forward(int64_t l) override { events.push_back("F" + std::to_string(l)); }
  void after_forward(int64_t l) override { events.push_back("f" + std::to_string(l)); }
  void before_backward(int64_t l) override { events.push_back("B" + std::to_string(l)); }
  void after_backward(int64_t l) override { events.push_back("b" + std::to_string(l)); }
};

TEST(Model, LayerHooksFireInExecutionOrderWithAndWithoutCheckpointing) {
  const std::vector<std::string> want = {"F0", "f0", "F1", "f1", "F2", "f2",
                                         "B2", "b2", "B1", "b1", "B0", "b0"};
  for (bool ac : {false, true}) {
    SCOPED_TRACE(ac ? "with activation checkpointing" : "without");
    auto m = tiny_model();
    auto rec = std::make_shared<Recorder>();
    m->wrapper.hooks.push_back(rec);
    m->wrapper.checkpointed.assign(m->wrapper.num_layers, ac);
    modules::forward(*m, {at::randint(0, 64, {1, 8}, at::kLong)}).sum().backward();
    EXPECT_EQ(rec->events, want);
  }
}

TEST(Model, PostAccumulateGradHooksFireInsideRecomputedLayers) {
  // The optimizer-in-backward mechanism: a parameter hook sees its final gradient, also when
  // the layer is recomputed by activation checkpointing.
  auto m = tiny_model();
  m->wrapper.checkpointed.assign(m->wrapper.num_layers, true);
  int fired = 0;
  struct Count : torch::autograd::PostAccumulateGradHook {
    int* n;
    explicit Count(int* c) : n(c) {}
    void operator()(const torch::autograd::Variable& p) override { *n += p.grad().defined(); }
  };
  for (auto& [key, p] : modules::named_parameters(*m))
    torch::autograd::impl::set_post_acc_grad_hooks(p, std::make_unique<Count>(&fired));
  modules::forward(*m, {at::randint(0, 64, {1, 8}, at::kLong)}).sum().backward();
  EXPECT_EQ(fired, static_cast<int>(modules::named_parameters(*m).size()));
}

TEST(Model, LoadStateDictReportsMismatches) {
  auto m = tiny_model();
  StateDict sd = modules::named_parameters(*m);
  sd.erase(sd.begin() + 1);
  sd.emplace_back("layers.9.attn.q_proj.weight", at::zeros({4}));
  sd[0].second = at::zeros({3, 3});
  testing::expect_error(
      [&] { modules::load_state_dict(*m, sd); },
      {"does not match the model", "missing key layers.0.attn.q_proj.weight",
       "unexpected key layers.9.attn.q_proj.weight", "tok_embeddings.weight: shape [3, 3]"});
}

TEST(Model, ConversionRefusesUnknownKeysWithTorchtunesMessage) {
  testing::expect_error([] { llama2::hf_to_tune_key("model.layers.0.self_attn.qkv.weight"); },
                        {"Error converting the state dict. Found unexpected key: "
                         "\"model.layers.0.self_attn.qkv.weight\""});
  EXPECT_FALSE(llama2::hf_to_tune_key("model.layers.3.self_attn.rotary_emb.inv_freq").has_value());
  EXPECT_FALSE(llama2::meta_to_tune_key("rope.freqs").has_value());
  EXPECT_EQ(*llama2::hf_to_tune_key("model.layers.12.mlp.up_proj.weight"),
            "layers.12.mlp.w3.weight");
  EXPECT_EQ(llama2::tune_to_meta_key("layers.12.mlp_norm.scale"), "layers.12.ffn_norm.weight");
  // The permutation and its inverse, with GQA's kv-head count for k.
  llama2::HfShape s{8, 2, 64, std::nullopt};
  at::Tensor k = at::randn({16, 64});
  at::Tensor k_tune = llama2::hf_to_tune_tensor("layers.0.attn.k_proj.weight", k, s);
  EXPECT_TRUE(at::equal(k_tune[2], k[1]));  // tune[h*hd + 2i] = hf[h*hd + i]
  EXPECT_TRUE(at::equal(k_tune[3], k[5]));  // tune[h*hd + 2i + 1] = hf[h*hd + hd/2 + i]
  EXPECT_TRUE(at::equal(llama2::tune_to_hf_tensor("layers.0.attn.k_proj.weight", k_tune, s), k));
}

TEST(Precision, DtypesAsTorchtune) {
  EXPECT_EQ(training::training_dtype(std::nullopt, at::kCPU), at::kFloat);
  EXPECT_EQ(training::training_dtype(std::string("fp32"), at::kCPU), at::kFloat);
  EXPECT_EQ(training::training_dtype(std::string("bf16"), at::kCPU), at::kBFloat16);
  testing::expect_error(
      [] { training::training_dtype(std::string("fp16"), at::kCPU); },
      {"dtype",
       "full fp16 training is not supported with this recipe. Please use bf16 or fp32 instead."});
  testing::expect_error(
      [] { training::training_dtype(std::string("bfloat16"), at::kCPU, "c.yaml:3:8: dtype"); },
      {"c.yaml:3:8: dtype", "unknown dtype 'bfloat16'"});
}

TEST(Safetensors, TruncatedAndCorruptFilesNameTheProblem) {
  namespace fs = std::filesystem;
  std::string good =
      std::string(TT_SOURCE_DIR) + "/tests/assets/golden/llama/hf_mha/model.safetensors";
  fs::path dir = fs::temp_directory_path() / "tt_safetensors_test";
  fs::create_directories(dir);
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(dir / "truncated.safetensors", std::ios::binary)
      << bytes.substr(0, bytes.size() - 100);
  std::ofstream(dir / "tiny.safetensors", std::ios::binary) << "abc";
  std::string corrupt = bytes;
  corrupt[12] = '#';
  std::ofstream(dir / "corrupt.safetensors", std::ios::binary) << corrupt;
  testing::expect_error(
      [&] { checkpointing::SafetensorsFile((dir / "truncated.safetensors").string()); },
      {"truncated.safetensors [", "the file is truncated"});
  testing::expect_error(
      [&] { checkpointing::SafetensorsFile((dir / "tiny.safetensors").string()); }, {"too short"});
  testing::expect_error(
      [&] { checkpointing::SafetensorsFile((dir / "corrupt.safetensors").string()); }, {"corrupt"});
  testing::expect_error(
      [&] { checkpointing::SafetensorsFile((dir / "missing.safetensors").string()); },
      {"cannot open"});
  checkpointing::SafetensorsFile f(good);
  EXPECT_EQ(f.keys().size(), 21u);
  testing::expect_error([&] { f.tensor("nope"); }, {"no tensor named 'nope'"});
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tt
