// Block-wise dynamic 8-bit quantization; see blockwise_quant.h.
#include "torchtune_cpp/training/blockwise_quant.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace tt {

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
      const double lo = 0.1 + 0.9 * static_cast<double>(k) / n, hi = 0.1 + 0.9 * static_cast<double>(k + 1) / n;
      const float v = static_cast<float>(scale * (lo + hi) / 2);
      values.push_back(v);
      if (is_signed) values.push_back(-v);
    }
  }
  if (is_signed) values.push_back(1.0f);  // 0, +-127 magnitudes and 1: 256 codes
  std::sort(values.begin(), values.end());
  return at::tensor(values, at::TensorOptions().dtype(at::kFloat)).to(device);
}

BlockwiseQuantized quantize_blockwise(const at::Tensor& x, const at::Tensor& map) {
  const int64_t numel = x.numel();
  const int64_t blocks = (numel + kQuantBlock - 1) / kQuantBlock;
  at::Tensor flat = x.reshape(-1).to(at::kFloat);
  at::Tensor padded = at::constant_pad_nd(flat, {0, blocks * kQuantBlock - numel}).view({blocks, kQuantBlock});
  at::Tensor absmax = padded.abs().amax(1);                                                   // [blocks]
  at::Tensor scaled = padded / absmax.clamp_min(1e-30).unsqueeze(1);                          // [-1, 1]
  // Nearest code: the insertion point and its left neighbour, whichever is closer.
  at::Tensor right = at::bucketize(scaled, map).clamp(1, map.numel() - 1);
  at::Tensor left = right - 1;
  at::Tensor pick_left = (scaled - map.index_select(0, left.view(-1)).view_as(scaled)).abs() <=
                         (map.index_select(0, right.view(-1)).view_as(scaled) - scaled).abs();
  at::Tensor codes = at::where(pick_left, left, right).to(at::kByte).view(-1).slice(0, 0, numel);
  return {codes.contiguous(), absmax};
}

at::Tensor dequantize_blockwise(const at::Tensor& codes, const at::Tensor& absmax, const at::Tensor& map,
                                at::IntArrayRef sizes) {
  const int64_t numel = codes.numel();
  const int64_t blocks = absmax.numel();
  at::Tensor values = map.index_select(0, codes.to(at::kLong));                             // [numel]
  at::Tensor padded = at::constant_pad_nd(values, {0, blocks * kQuantBlock - numel}).view({blocks, kQuantBlock});
  return (padded * absmax.unsqueeze(1)).view(-1).slice(0, 0, numel).reshape(sizes);
}

}  // namespace tt
