// The fused CUDA kernels (modules/cuda_kernels.h) against their ops' LibTorch path, on the
// GPU: outputs and gradients in fp32 within 1e-5, and in bf16 no further from the fp32
// result than the LibTorch path itself is. Skipped without a GPU or a build with the kernels.
#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "torchtune_cpp/modules/feed_forward.h"
#include "torchtune_cpp/modules/fused_kernels.h"
#include "torchtune_cpp/modules/rms_norm.h"
#include "torchtune_cpp/modules/rope.h"

namespace tt::modules {
namespace {

using Op = std::function<at::Tensor(const std::vector<at::Tensor>&)>;

// The op's output and the gradients of its inputs for the upstream gradient `grad`.
std::vector<at::Tensor> run(const Op& op, const std::vector<at::Tensor>& inputs,
                            const at::Tensor& grad, bool fused) {
  FusedKernelsScope scope(fused);
  std::vector<at::Tensor> leaves;
  for (const at::Tensor& t : inputs) leaves.push_back(t.detach().clone().requires_grad_(true));
  at::Tensor out = op(leaves);
  out.backward(grad.to(out.scalar_type()));
  std::vector<at::Tensor> results{out.detach().to(at::kFloat)};
  for (const at::Tensor& l : leaves) results.push_back(l.grad().to(at::kFloat));
  return results;
}

double max_diff(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

// fp32: fused within 1e-5 (relative to the values' scale) of the LibTorch path; bf16: the
// fused error against the fp32 result at most the LibTorch path's own bf16 error (+25%:
// both round once, but their fp32 sums run in different orders).
void expect_matches(const Op& op, const std::vector<at::Tensor>& fp32_inputs) {
  const at::Tensor grad = at::randn_like(op(fp32_inputs)).to(at::kFloat);
  const std::vector<at::Tensor> ref = run(op, fp32_inputs, grad, false);
  const std::vector<at::Tensor> fused = run(op, fp32_inputs, grad, true);
  for (size_t i = 0; i < ref.size(); ++i) {
    SCOPED_TRACE(i == 0 ? "output" : "gradient of input " + std::to_string(i - 1));
    const double scale = std::max(1.0, ref[i].abs().max().item<double>());
    EXPECT_LE(max_diff(fused[i], ref[i]), 1e-5 * scale);
  }
  std::vector<at::Tensor> bf16_inputs;
  for (const at::Tensor& t : fp32_inputs) bf16_inputs.push_back(t.to(at::kBFloat16));
  // The fp32 result on the bf16-rounded inputs is what both bf16 paths approximate.
  std::vector<at::Tensor> rounded;
  for (const at::Tensor& t : bf16_inputs) rounded.push_back(t.to(at::kFloat));
  const std::vector<at::Tensor> exact = run(op, rounded, grad, false);
  const std::vector<at::Tensor> unfused16 = run(op, bf16_inputs, grad, false);
  const std::vector<at::Tensor> fused16 = run(op, bf16_inputs, grad, true);
  for (size_t i = 0; i < exact.size(); ++i) {
    SCOPED_TRACE(i == 0 ? "bf16 output" : "bf16 gradient of input " + std::to_string(i - 1));
    EXPECT_LE(max_diff(fused16[i], exact[i]), 1.25 * max_diff(unfused16[i], exact[i]) + 1e-6);
  }
}

bool have_kernels() {
  return fused_kernels_built() && at::hasCUDA();
}

TEST(GpuFusedKernels, RmsNormMatchesTheLibTorchPath) {
  if (!have_kernels()) GTEST_SKIP() << "no CUDA device, or a build without the CUDA kernels";
  at::manual_seed(1);
  const auto cuda = at::TensorOptions().device(at::kCUDA);
  for (int64_t dim : {64, 1000, 4096}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    expect_matches([](const std::vector<at::Tensor>& in) { return rms_norm(in[0], in[1], 1e-5); },
                   {at::randn({3, 7, dim}, cuda), 1.0 + 0.1 * at::randn({dim}, cuda)});
  }
}

TEST(GpuFusedKernels, SwigluMatchesTheLibTorchPath) {
  if (!have_kernels()) GTEST_SKIP() << "no CUDA device, or a build without the CUDA kernels";
  at::manual_seed(2);
  const auto cuda = at::TensorOptions().device(at::kCUDA);
  expect_matches([](const std::vector<at::Tensor>& in) { return swiglu(in[0], in[1]); },
                 {3 * at::randn({2, 9, 1000}, cuda), at::randn({2, 9, 1000}, cuda)});
}

TEST(GpuFusedKernels, RopeMatchesTheLibTorchPathOnViewsAndPackedPositions) {
  if (!have_kernels()) GTEST_SKIP() << "no CUDA device, or a build without the CUDA kernels";
  at::manual_seed(3);
  const auto cuda = at::TensorOptions().device(at::kCUDA);
  const int64_t B = 2, T = 11, H = 4, hd = 16;
  const RopeCache cache = make_rope_cache(hd, 64, 10000.0, at::Device(at::kCUDA, 0));
  const at::Tensor pos =
      at::cat({at::arange(5, cuda.dtype(at::kLong)), at::arange(6, cuda.dtype(at::kLong))})
          .expand({B, T})
          .contiguous();
  for (bool packed : {false, true}) {
    SCOPED_TRACE(packed ? "packed positions" : "positions 0..T-1");
    // q as the projections leave it: a view of [B, T, 3H, hd] (heads not contiguous).
    expect_matches(
        [&](const std::vector<at::Tensor>& in) {
          at::Tensor q = in[0].view({B, T, 3 * H, hd}).narrow(2, H, H);
          return apply_rope(q, cache, packed ? std::optional<at::Tensor>(pos) : std::nullopt);
        },
        {at::randn({B, T, 3 * H * hd}, cuda)});
  }
}

}  // namespace
}  // namespace tt::modules
