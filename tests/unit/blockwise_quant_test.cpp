// 8-bit block-wise optimizer state (training/blockwise_quant.h) and PagedAdamW8bit:
//   - the dynamic maps: 256 sorted distinct codes in [-1, 1] (signed) / [0, 1) (unsigned),
//     zero exact, seven decades of relative precision;
//   - quantize -> dequantize error per element within half a code step of its decade, times
//     the block's absmax; zeros stay zero; blocks are independent (an outlier costs only its
//     own block);
//   - PagedAdamW8bit follows fp32 AdamW closely, and its state_dict (bitsandbytes' state1 /
//     absmax1 / qmap1 names) restores an optimizer that continues bit for bit.
#include <gtest/gtest.h>

#include "torchtune_cpp/training/blockwise_quant.h"
#include "torchtune_cpp/training/optimizer.h"

namespace tt {
namespace {

TEST(BlockwiseQuant, DynamicMaps) {
  for (bool is_signed : {true, false}) {
    at::Tensor m = training::dynamic_quant_map(is_signed);
    ASSERT_EQ(m.numel(), 256);
    EXPECT_TRUE(at::equal(m, std::get<0>(m.sort())));
    EXPECT_EQ(std::get<0>(at::_unique(m)).numel(), 256);
    EXPECT_EQ((m == 0).sum().item<int64_t>(), 1);
    EXPECT_LE(m.max().item<float>(), 1.0f);
    EXPECT_EQ(m.min().item<float>() < 0, is_signed);
    // The smallest non-zero magnitude is in the seventh decade below 1.
    at::Tensor mags = m.abs();
    EXPECT_LT(mags.masked_select(mags > 0).min().item<float>(),
              1e-6f * (is_signed ? 1.0f : 0.1f) * 1.1f);
  }
}

TEST(BlockwiseQuant, RoundTripErrorIsBoundedPerBlock) {
  at::manual_seed(0);
  at::Tensor x = at::randn({3, 5000}) * at::logspace(-6, 0, 5000).unsqueeze(0);  // many scales
  x.index_put_({1, 17}, 1000.0);  // an outlier in one block of row 1
  for (bool is_signed : {true, false}) {
    at::Tensor in = is_signed ? x : x.abs();
    at::Tensor map = training::dynamic_quant_map(is_signed);
    training::BlockwiseQuantized q = training::quantize_blockwise(in, map);
    ASSERT_EQ(q.codes.scalar_type(), at::kByte);
    ASSERT_EQ(q.codes.numel(), in.numel());
    ASSERT_EQ(q.absmax.numel(), (in.numel() + training::kQuantBlock - 1) / training::kQuantBlock);
    at::Tensor back = training::dequantize_blockwise(q.codes, q.absmax, map, in.sizes());
    // Per element: at most half the coarsest code step (0.9/64/2 signed, 0.9/128/2 unsigned)
    // of the block's absmax, and relative precision kept for values down to 1% of it (a
    // linear 8-bit code would have none below 1/127).
    at::Tensor flat = in.reshape(-1), err = (back.reshape(-1) - flat).abs();
    at::Tensor scale = q.absmax.repeat_interleave(training::kQuantBlock).slice(0, 0, flat.numel());
    EXPECT_LE((err / scale).max().item<double>(), is_signed ? 0.00704 : 0.00352);
    at::Tensor mid = flat.abs() >= scale * 0.01;
    EXPECT_LE((err / flat.abs()).masked_select(mid).max().item<double>(), 0.15);
    // Blocks without the outlier keep their own precision.
    EXPECT_LE(err.slice(0, 0, training::kQuantBlock).max().item<double>(),
              0.00704 * q.absmax[0].item<double>());
    EXPECT_LT(q.absmax[0].item<double>(), 10.0);  // row 0's blocks never saw the outlier
    training::BlockwiseQuantized z = training::quantize_blockwise(at::zeros({5000}), map);
    EXPECT_TRUE(at::equal(training::dequantize_blockwise(z.codes, z.absmax, map, {5000}),
                          at::zeros({5000})));
  }
}

TEST(BlockwiseQuant, PagedAdamW8bitTracksAdamWAndResumesExactly) {
  at::manual_seed(1);
  auto make = [](at::Tensor init) { return StateDict{{"w", init.clone().requires_grad_(true)}}; };
  at::Tensor w0 = at::randn({64, 128}) * 0.1;
  training::OptimizerOptions eight;
  eight.state_on_host = true;
  eight.state_bits = 8;
  eight.lr = 1e-2;
  training::OptimizerOptions fp32 = eight;
  fp32.state_bits = 32;
  training::Optimizer a(make(w0), eight), b(make(w0), fp32);
  std::vector<at::Tensor> grads;
  for (int s = 0; s < 20; ++s) grads.push_back(at::randn({64, 128}));
  for (int s = 0; s < 10; ++s) {
    for (training::Optimizer* o : {&a, &b}) o->params()[0].second.mutable_grad() = grads[s].clone();
    a.step();
    b.step();
  }
  at::Tensor wa = a.params()[0].second.detach(), wb = b.params()[0].second.detach();
  const double moved = (wb - w0).abs().mean().item<double>();
  EXPECT_LT((wa - wb).abs().mean().item<double>(), 0.02 * moved);
  ASSERT_TRUE(a.state().at(0).quantized());

  // Restored from its state dict, the 8-bit optimizer continues exactly as the original.
  PickleValue sd = a.state_dict();
  ASSERT_TRUE(sd.at("state").at(int64_t{0}).find("absmax1") != nullptr);
  training::Optimizer c(make(wa), eight);
  c.load_state_dict(sd, "t");
  for (int s = 10; s < 20; ++s) {
    for (training::Optimizer* o : {&a, &c}) o->params()[0].second.mutable_grad() = grads[s].clone();
    a.step();
    c.step();
  }
  EXPECT_TRUE(at::equal(a.params()[0].second, c.params()[0].second));
  // And into a plain AdamW, dequantized.
  training::OptimizerOptions plain;
  plain.lr = 1e-2;
  training::Optimizer d(make(wa), plain);
  d.load_state_dict(sd, "t");
  EXPECT_EQ(d.state().at(0).exp_avg.scalar_type(), at::kFloat);
  EXPECT_FALSE(d.state().at(0).quantized());
}

}  // namespace
}  // namespace tt

namespace tt {
namespace {

TEST(BlockwiseQuant, LargeTensorsQuantizeInPassesAndOtherBlockSizesRead) {
  // More than one pass of 8192 blocks (16.7M elements), with a different scale per block.
  at::manual_seed(2);
  const int64_t n = 8192 * training::kQuantBlock + 5000;
  at::Tensor x = at::randn({n}) * at::rand({n}).add_(0.01);
  at::Tensor map = training::dynamic_quant_map(true);
  training::BlockwiseQuantized q = training::quantize_blockwise(x, map);
  ASSERT_EQ(q.absmax.numel(), 8192 + 3);
  at::Tensor back = training::dequantize_blockwise(q.codes, q.absmax, map, {n});
  at::Tensor scale = q.absmax.repeat_interleave(training::kQuantBlock).slice(0, 0, n);
  EXPECT_LE(((back - x).abs() / scale).max().item<double>(), 0.00704);
  // The last pass equals quantizing its blocks alone.
  training::BlockwiseQuantized tail =
      training::quantize_blockwise(x.slice(0, 8192 * training::kQuantBlock), map);
  EXPECT_TRUE(at::equal(tail.codes, q.codes.slice(0, 8192 * training::kQuantBlock)));
  // State quantized with smaller blocks (bitsandbytes' 256) reads back with its block size.
  at::Tensor y = at::randn({1000});
  at::Tensor codes = at::empty({1000}, at::kByte), absmax = at::empty({4});
  for (int64_t b = 0; b < 4; ++b) {
    training::BlockwiseQuantized part = training::quantize_blockwise(
        y.slice(0, b * 256, std::min<int64_t>(1000, (b + 1) * 256)), map);
    codes.slice(0, b * 256, std::min<int64_t>(1000, (b + 1) * 256)).copy_(part.codes);
    absmax[b] = part.absmax[0];
  }
  at::Tensor z = training::dequantize_blockwise(codes, absmax, map, {1000}, 256);
  EXPECT_LE((z - y).abs().max().item<double>(), 0.00704 * y.abs().max().item<double>());
}

}  // namespace
}  // namespace tt

namespace tt {
namespace {

TEST(GpuPagedAdamW, HostStateOnCudaMatchesFusedAdamW) {
  // fp32 moments in page-locked host memory, streamed per parameter: the same kernel and the
  // same numbers as fused AdamW keeping its state on the GPU; 8-bit state tracks them.
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  at::manual_seed(4);
  const at::Device cuda(at::kCUDA, 0);
  at::Tensor w0 = (at::randn({3000, 700}) * 0.1).to(cuda);  // over one pass of blocks
  auto make = [&] { return StateDict{{"w", w0.clone().requires_grad_(true)}}; };
  training::OptimizerOptions fused;
  fused.fused = true;
  fused.lr = 1e-2;
  training::OptimizerOptions paged = fused;
  paged.fused.reset();
  paged.state_on_host = true;
  training::OptimizerOptions eight = paged;
  eight.state_bits = 8;
  training::Optimizer a(make(), fused), b(make(), paged), c(make(), eight);
  for (int s = 0; s < 5; ++s) {
    at::Tensor g = at::randn({3000, 700}, at::TensorOptions().device(cuda));
    for (training::Optimizer* o : {&a, &b, &c}) o->params()[0].second.mutable_grad() = g.clone();
    a.step();
    b.step();
    c.step();
  }
  EXPECT_TRUE(at::equal(a.params()[0].second, b.params()[0].second));
  EXPECT_FALSE(b.state().at(0).exp_avg.is_cuda());
  PickleValue sa = a.state_dict(), sb = b.state_dict();
  EXPECT_TRUE(at::equal(sa.at("state").at(int64_t{0}).at("exp_avg").to_tensor().cpu(),
                        sb.at("state").at(int64_t{0}).at("exp_avg").to_tensor()));
  const double moved = (a.params()[0].second - w0).abs().mean().item<double>();
  EXPECT_LT((c.params()[0].second - a.params()[0].second).abs().mean().item<double>(),
            0.02 * moved);
}

}  // namespace
}  // namespace tt
