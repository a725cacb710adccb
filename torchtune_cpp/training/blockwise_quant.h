// 8-bit block-wise quantization of optimizer state, the scheme of bitsandbytes' 8-bit
// optimizers (Dettmers et al., "8-bit Optimizers via Block-wise Quantization"):
//   - the tensor is cut into blocks of kQuantBlock elements; each block is scaled by its
//     absolute maximum (one fp32 per block), so an outlier only costs its own block precision;
//   - each scaled value in [-1, 1] is stored as the index of the nearest entry of a 256-entry
//     dynamic map: a decimal exponent (how many leading zero bits) and a linear fraction in the
//     remaining bits, so small magnitudes keep relative precision across seven decades.
//     The signed map (first moments) spends one bit on the sign; the unsigned map (second
//     moments, never negative) uses all eight for magnitude.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace tt::training {

constexpr int64_t kQuantBlock = 2048;

// The 256 code values, sorted ascending, fp32 on `device`: [256].
at::Tensor dynamic_quant_map(bool is_signed, at::Device device = at::kCPU);

struct BlockwiseQuantized {
  at::Tensor codes;   // uint8 [numel]
  at::Tensor absmax;  // fp32 [ceil(numel / kQuantBlock)]
};

// x (any shape, floating) -> codes and per-block absmax, on x's device.
BlockwiseQuantized quantize_blockwise(const at::Tensor& x, const at::Tensor& map);

// Back to fp32 with `sizes`: codes [numel], absmax [blocks] -> [sizes...]. `block` other than
// kQuantBlock reads state quantized elsewhere (bitsandbytes uses smaller blocks).
at::Tensor dequantize_blockwise(const at::Tensor& codes, const at::Tensor& absmax,
                                const at::Tensor& map, at::IntArrayRef sizes,
                                int64_t block = kQuantBlock);

}  // namespace tt::training
