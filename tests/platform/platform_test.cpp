// Proves, against the LibTorch this project builds with, the mechanisms later features are
// built on: post-accumulate-grad hooks (optimizer in backward, gradient reduce-scatter),
// custom autograd functions with recomputation (activation checkpointing), SDPA with causal
// masks and grouped-query attention, at::_fused_adamw_, and c10d collectives over a
// TCPStore rendezvous (Gloo on CPU, NCCL on CUDA). Each is checked against plain ATen maths.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#if defined(TT_HAVE_GLOO)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(TT_WITH_CUDA)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <ATen/cuda/CUDAContext.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace {

bool cuda_available() {
#if defined(TT_WITH_CUDA)
  return at::hasCUDA() && at::cuda::device_count() > 0;
#else
  return false;
#endif
}

// ---------------------------------------------------------------------------------------
// Post-accumulate-grad hooks: fire once per backward, after .grad is final.
struct RecordingHook : torch::autograd::PostAccumulateGradHook {
  int* calls;
  at::Tensor* seen;
  bool free_grad;
  RecordingHook(int* c, at::Tensor* s, bool f) : calls(c), seen(s), free_grad(f) {}
  void operator()(const torch::autograd::Variable& param) override {
    ++*calls;
    *seen = param.grad().clone();
    if (free_grad) const_cast<torch::autograd::Variable&>(param).mutable_grad() = at::Tensor();
  }
};

TEST(Platform, PostAccumulateGradHookSeesFinalGradAndCanFreeIt) {
  at::Tensor p = at::arange(4, at::kFloat).set_requires_grad(true);
  int calls = 0;
  at::Tensor seen;
  torch::autograd::impl::set_post_acc_grad_hooks(
      p, std::make_unique<RecordingHook>(&calls, &seen, true));
  // p is used twice, so its gradient is accumulated from two paths before the hook runs.
  at::Tensor loss = (p * p).sum() + (3 * p).sum();
  loss.backward();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(at::equal(seen, 2 * p.detach() + 3));
  EXPECT_FALSE(p.grad().defined());  // freed inside the hook: the optimizer-in-backward pattern
}

// ---------------------------------------------------------------------------------------
// Custom autograd function that drops activations in forward and recomputes them in
// backward: the activation-checkpointing pattern. Gradients must be bitwise equal.
at::Tensor block(const at::Tensor& x, const at::Tensor& w) {
  return at::gelu(at::matmul(x, w)).tanh();
}

struct Recompute : torch::autograd::Function<Recompute> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, at::Tensor x, at::Tensor w) {
    ctx->save_for_backward({x, w});
    at::NoGradGuard no_grad;
    return block(x, w);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    at::Tensor x = saved[0].detach().requires_grad_(true);
    at::Tensor w = saved[1].detach().requires_grad_(true);
    at::AutoGradMode enable(true);
    at::Tensor y = block(x, w);
    return torch::autograd::grad({y}, {x, w}, {grad_out[0]});
  }
};

TEST(Platform, CustomFunctionRecomputationGivesBitwiseEqualGradients) {
  at::manual_seed(0);
  at::Tensor x0 = at::randn({8, 16});
  at::Tensor w0 = at::randn({16, 16});
  at::Tensor x1 = x0.clone().requires_grad_(true), w1 = w0.clone().requires_grad_(true);
  block(x1, w1).square().sum().backward();
  at::Tensor x2 = x0.clone().requires_grad_(true), w2 = w0.clone().requires_grad_(true);
  Recompute::apply(x2, w2).square().sum().backward();
  EXPECT_TRUE(at::equal(x1.grad(), x2.grad()));
  EXPECT_TRUE(at::equal(w1.grad(), w2.grad()));
}

// ---------------------------------------------------------------------------------------
// SDPA: causal, explicit block mask, and grouped-query attention without repeating k/v.
at::Tensor reference_attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const at::Tensor& allowed) {
  at::Tensor scores =
      at::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(q.size(-1)));
  scores = scores.masked_fill(allowed.logical_not(), -INFINITY);
  return at::matmul(at::softmax(scores, -1), v);
}

void check_sdpa(at::Device device) {
  at::manual_seed(1);
  auto opts = at::TensorOptions().dtype(at::kFloat).device(device);
  const int64_t B = 2, Hq = 8, Hkv = 2, T = 12, D = 16;
  at::Tensor q = at::randn({B, Hq, T, D}, opts), k = at::randn({B, Hkv, T, D}, opts),
             v = at::randn({B, Hkv, T, D}, opts);
  at::Tensor k_rep = k.repeat_interleave(Hq / Hkv, 1), v_rep = v.repeat_interleave(Hq / Hkv, 1);
  at::Tensor causal = at::ones({T, T}, opts.dtype(at::kBool)).tril();
  at::Tensor got = at::scaled_dot_product_attention(q, k, v, {}, 0.0, true, std::nullopt, true);
  // SDPA's kernels reduce over D and T in their own order (and block the softmax): outputs of
  // magnitude ~1 agree with the written-out attention within 1e-5.
  EXPECT_TRUE(at::allclose(got, reference_attention(q, k_rep, v_rep, causal), 1e-5, 1e-5));
  // Two packed documents of 5 and 7 tokens: block-causal through the explicit-mask path.
  at::Tensor doc =
      at::cat({at::zeros({5}, opts.dtype(at::kLong)), at::ones({7}, opts.dtype(at::kLong))});
  at::Tensor block_causal = causal.logical_and(doc.unsqueeze(0) == doc.unsqueeze(1));
  got = at::scaled_dot_product_attention(q, k, v, block_causal, 0.0, false, std::nullopt, true);
  EXPECT_TRUE(at::allclose(got, reference_attention(q, k_rep, v_rep, block_causal), 1e-5, 1e-5));
}

TEST(Platform, SdpaCausalBlockMaskAndGqaMatchReference) {
  check_sdpa(at::kCPU);
}

// ---------------------------------------------------------------------------------------
// at::_fused_adamw_ against AdamW written out (torch.optim.AdamW's maths).
void check_fused_adamw(at::Device device) {
  at::manual_seed(2);
  auto opts = at::TensorOptions().dtype(at::kFloat).device(device);
  at::Tensor p = at::randn({64}, opts), g = at::randn({64}, opts);
  at::Tensor m = at::randn({64}, opts).abs(), v = at::randn({64}, opts).abs();
  at::Tensor step = at::full({}, 4.0, opts);  // torch.optim increments it before the kernel
  const double lr = 1e-2, b1 = 0.9, b2 = 0.999, wd = 0.01, eps = 1e-8;
  at::Tensor rp = p.clone(), rm = m.clone(), rv = v.clone();
  double t = 4.0;
  rp.mul_(1 - lr * wd);
  rm.mul_(b1).add_(g, 1 - b1);
  rv.mul_(b2).addcmul_(g, g, 1 - b2);
  double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
  rp.addcdiv_(rm, (rv.sqrt() / std::sqrt(bc2)).add_(eps), -lr / bc1);
  at::_fused_adamw_({p}, {g}, {m}, {v}, {}, {step}, lr, b1, b2, wd, eps, false, false);
  EXPECT_EQ(step.item<double>(), 4.0);
  // The fused kernel orders (and FMA-contracts) the same operations differently: a few units
  // in the last place on values of magnitude ~1, so 1e-6 relative and absolute.
  EXPECT_TRUE(at::allclose(p, rp, 1e-6, 1e-6));
  EXPECT_TRUE(at::allclose(m, rm, 1e-6, 1e-6));
  EXPECT_TRUE(at::allclose(v, rv, 1e-6, 1e-6));
}

TEST(Platform, FusedAdamWMatchesWrittenOutAdamW) {
  check_fused_adamw(at::kCPU);
}

// ---------------------------------------------------------------------------------------
// c10d over a TCPStore rendezvous on loopback: two ranks (threads) with Gloo.
c10::intrusive_ptr<c10d::TCPStore> make_store(bool server, uint16_t port, size_t world) {
  c10d::TCPStoreOptions o;
  o.port = port;
  o.isServer = server;
  o.numWorkers = world;
  o.waitWorkers = false;
  o.timeout = std::chrono::seconds(30);
  return c10::make_intrusive<c10d::TCPStore>("127.0.0.1", o);
}

#if defined(TT_HAVE_GLOO)
TEST(Platform, GlooCollectivesOverTcpStoreRendezvous) {
  auto server = make_store(true, 0, 2);  // port 0: the OS picks a free port
  uint16_t port = server->getPort();
  const int world = 2;
  std::vector<at::Tensor> sums(world), gathered(world), scattered(world);
  auto rank_main = [&](int rank) {
    c10::intrusive_ptr<c10d::Store> store = rank == 0 ? server : make_store(false, port, world);
    auto opts = c10d::ProcessGroupGloo::Options::create();
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, opts);
    std::vector<at::Tensor> t{at::full({4}, static_cast<float>(rank + 1))};
    pg->allreduce(t)->wait();
    sums[rank] = t[0];
    at::Tensor shard = at::full({2}, static_cast<float>(rank));
    at::Tensor full = at::empty({2 * world});
    pg->_allgather_base(full, shard)->wait();
    gathered[rank] = full;
    at::Tensor input = at::arange(2 * world, at::kFloat) * (rank + 1);
    at::Tensor out = at::empty({2});
    pg->_reduce_scatter_base(out, input)->wait();
    scattered[rank] = out;
    pg->barrier()->wait();
  };
  std::thread other(rank_main, 1);
  rank_main(0);
  other.join();
  for (int r = 0; r < world; ++r) {
    EXPECT_TRUE(at::equal(sums[r], at::full({4}, 3.0f)));
    EXPECT_TRUE(at::equal(gathered[r], at::tensor({0.f, 0.f, 1.f, 1.f})));
    // sum over ranks of arange*(rank+1) = arange*3; rank r keeps elements [2r, 2r+2).
    EXPECT_TRUE(at::equal(scattered[r], at::arange(2 * r, 2 * r + 2, at::kFloat) * 3));
  }
}
#endif

// ---------------------------------------------------------------------------------------
// The same on CUDA (label gpu): flash/efficient SDPA in bf16, fused AdamW, NCCL.
TEST(GpuPlatform, SdpaAndFusedAdamWOnCuda) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  check_sdpa(at::kCUDA);
  check_fused_adamw(at::kCUDA);
  // bf16 causal attention (flash kernel) against the fp32 reference, bf16 tolerance.
  at::manual_seed(3);
  auto opts = at::TensorOptions().dtype(at::kBFloat16).device(at::kCUDA);
  at::Tensor q = at::randn({1, 32, 256, 128}, opts), k = at::randn({1, 8, 256, 128}, opts),
             v = at::randn({1, 8, 256, 128}, opts);
  at::Tensor got = at::scaled_dot_product_attention(q, k, v, {}, 0.0, true, std::nullopt, true);
  at::Tensor causal = at::ones({256, 256}, opts.dtype(at::kBool)).tril();
  at::Tensor ref = reference_attention(q.to(at::kFloat), k.repeat_interleave(4, 1).to(at::kFloat),
                                       v.repeat_interleave(4, 1).to(at::kFloat), causal);
  EXPECT_LT((got.to(at::kFloat) - ref).abs().max().item<float>(), 3e-2);
}

#if defined(TT_WITH_CUDA)
TEST(GpuPlatform, NcclAllReduceOverTcpStore) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device";
  auto store = make_store(true, 0, 1);
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, 0, 1, opts);
  std::vector<at::Tensor> t{at::full({1024}, 2.0f, at::TensorOptions().device(at::kCUDA))};
  pg->allreduce(t)->wait();
  EXPECT_TRUE(at::equal(t[0].cpu(), at::full({1024}, 2.0f)));
  at::Tensor shard = at::ones({8}, at::TensorOptions().device(at::kCUDA));
  at::Tensor full = at::empty({8}, shard.options());
  pg->_allgather_base(full, shard)->wait();
  EXPECT_TRUE(at::equal(full.cpu(), at::ones({8})));
  pg->shutdown();
}
#endif

}  // namespace

namespace {
// The torch wheel's libraries carry their own std::filesystem symbols; with LibTorch loaded,
// remove_all once crashed unless libstdc++ is linked ahead of it (torchtune_cpp's link options).
TEST(Platform, StdFilesystemWorksWithLibTorchLoaded) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "tt_platform_fs";
  fs::create_directories(dir / "a" / "b");
  { std::ofstream(dir / "a" / "b" / "f.txt") << "x"; }
  fs::rename(dir / "a" / "b" / "f.txt", dir / "a" / "g.txt");
  EXPECT_EQ(fs::remove_all(dir), 4u);
  EXPECT_FALSE(fs::exists(dir));
}
}  // namespace
