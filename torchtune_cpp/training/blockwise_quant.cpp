// Block-wise dynamic 8-bit quantization; see blockwise_quant.h.
#include "torchtune_cpp/training/blockwise_quant.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tt::training {

at::Tensor dynamic_quant_map(bool is_signed, at::Device device) {
  // Magnitude bits: 7 with a sign, 8 without. Decade e (values in [10^-(e+1), 10^-e)) has e
  // leading zero bits, an indicator bit, and the rest of the bits as a linear fraction:
  // 2^(bits-1-e) values at the midpoints of an even split of [0.1, 1] x 10^-e.
  const int bits = is_signed ? 7 : 8;
  std::vector<float> values = {0.0f};
  for (int e = 0; e < bits; ++e) {
    const int64_t n = int64_t{1} << (bits - 1 - e);
    const double scale = std::pow(10.0, -e);
    for (int64_t k = 0; k < n; ++k) {
      const double lo = 0.1 + 0.9 * static_cast<double>(k) / n,
                   hi = 0.1 + 0.9 * static_cast<double>(k + 1) / n;
      const float v = static_cast<float>(scale * (lo + hi) / 2);
      values.push_back(v);
      if (is_signed) values.push_back(-v);
    }
  }
  if (is_signed) values.push_back(1.0f);  // 0, +-127 magnitudes and 1: 256 codes
  std::sort(values.begin(), values.end());
  return at::tensor(values, at::TensorOptions().dtype(at::kFloat)).to(device);
}

namespace {

// Blocks handled per pass: bounds the temporaries (indices, masks, scaled values) to a few
// hundred MB whatever the tensor's size.
constexpr int64_t kBlocksPerPass = 8192;

}  // namespace

BlockwiseQuantized quantize_blockwise(const at::Tensor& x, const at::Tensor& map) {
  const int64_t numel = x.numel();
  const int64_t blocks = (numel + kQuantBlock - 1) / kQuantBlock;
  at::Tensor flat = x.reshape(-1);
  at::Tensor codes = at::empty({blocks * kQuantBlock}, x.options().dtype(at::kByte));
  at::Tensor absmax = at::empty({blocks}, x.options().dtype(at::kFloat));
  for (int64_t b0 = 0; b0 < blocks; b0 += kBlocksPerPass) {
    const int64_t b1 = std::min(blocks, b0 + kBlocksPerPass);
    const int64_t e0 = b0 * kQuantBlock, e1 = std::min(numel, b1 * kQuantBlock);
    at::Tensor part = at::constant_pad_nd(flat.slice(0, e0, e1).to(at::kFloat),
                                          {0, (b1 - b0) * kQuantBlock - (e1 - e0)})
                          .view({b1 - b0, kQuantBlock});
    at::Tensor amax = part.abs().amax(1);                           // [blocks]
    at::Tensor scaled = part / amax.clamp_min(1e-30).unsqueeze(1);  // [-1, 1]
    // Nearest code: the insertion point or its left neighbour, whichever is closer.
    at::Tensor right = at::bucketize(scaled, map, /*out_int32=*/true).clamp_(1, map.numel() - 1);
    at::Tensor left = right - 1;
    at::Tensor pick_left = (scaled - map.index_select(0, left.view(-1)).view_as(scaled)).abs() <=
                           (map.index_select(0, right.view(-1)).view_as(scaled) - scaled).abs();
    codes.slice(0, b0 * kQuantBlock, b1 * kQuantBlock)
        .copy_(at::where(pick_left, left, right).view(-1));
    absmax.slice(0, b0, b1).copy_(amax);
  }
  return {codes.slice(0, 0, numel).contiguous(), absmax};
}

at::Tensor dequantize_blockwise(const at::Tensor& codes, const at::Tensor& absmax,
                                const at::Tensor& map, at::IntArrayRef sizes, int64_t block) {
  const int64_t numel = codes.numel();
  const int64_t blocks = absmax.numel();
  at::Tensor out = at::empty({numel}, codes.options().dtype(at::kFloat));
  const int64_t per_pass = std::max<int64_t>(1, kBlocksPerPass * kQuantBlock / block);
  for (int64_t b0 = 0; b0 < blocks; b0 += per_pass) {
    const int64_t b1 = std::min(blocks, b0 + per_pass);
    const int64_t e0 = b0 * block, e1 = std::min(numel, b1 * block);
    at::Tensor values = map.index_select(0, codes.reshape(-1).slice(0, e0, e1).to(at::kInt));
    at::Tensor padded =
        at::constant_pad_nd(values, {0, (b1 - b0) * block - (e1 - e0)}).view({b1 - b0, block});
    out.slice(0, e0, e1).copy_(
        (padded * absmax.slice(0, b0, b1).unsqueeze(1)).view(-1).slice(0, 0, e1 - e0));
  }
  return out.view(sizes);
}

}  // namespace tt::training
