// The fused CUDA kernels' launchers (rms_norm.cu, feed_forward.cu, rope.cu), declared without
// CUDA or LibTorch types so that the C++ side of each op (rms_norm.cpp, ...) calls them with
// raw pointers and the .cu files compile without LibTorch's headers. Built only with the CUDA
// toolkit (TT_WITH_CUDA_KERNELS); each op's LibTorch path is its reference (fused_kernels.h).
// Every launcher queues its work on `stream` (a cudaStream_t) and returns a cudaError_t as
// int (0: launched).
#pragma once

#include <cstdint>

namespace tt::modules::cuda {

enum class DType { kFloat, kBFloat16, kHalf };

// y [rows, dim] = x * rsqrt(mean(x^2) + eps) * scale, in fp32, cast to x's dtype;
// rstd [rows] fp32 (the inverse RMS, all that backward needs besides x and scale).
int rms_norm_forward(const void* x, DType x_type, const void* scale, DType scale_type, void* y,
                     float* rstd, int64_t rows, int64_t dim, float eps, void* stream);
// dx [rows, dim] in x's dtype, and per-block partial sums of dscale [blocks, dim] fp32 (the
// caller sums them over blocks): blocks = rms_norm_backward_blocks(rows).
int rms_norm_backward(const void* dy, const void* x, DType x_type, const void* scale,
                      DType scale_type, const float* rstd, void* dx, float* dscale_partial,
                      int64_t rows, int64_t dim, void* stream);
int64_t rms_norm_backward_blocks(int64_t rows);
// The largest dim the kernels take (their per-block accumulator lives in shared memory).
constexpr int64_t kRmsNormMaxDim = 12288;

// out [n] = silu(gate) * up, in fp32, cast back; gate, up and out share one dtype.
int swiglu_forward(const void* gate, const void* up, void* out, DType type, int64_t n,
                   void* stream);
// dgate, dup [n] from dout and the forward's inputs.
int swiglu_backward(const void* dout, const void* gate, const void* up, void* dgate, void* dup,
                    DType type, int64_t n, void* stream);

// Rotates the interleaved pairs of x [B, T, H, hd] (element strides sb, st, sh; the last
// dimension contiguous) by the angles of position p: out[.., 2i] = x0 cos - sign x1 sin,
// out[.., 2i+1] = x1 cos + sign x0 sin, with cos/sin [max_pos, hd/2] fp32 and p = pos[b, t]
// (pos [B, T] int64) or t when pos is null. out is contiguous [B, T, H, hd] in x's dtype.
int rope_apply(const void* x, DType type, int64_t B, int64_t T, int64_t H, int64_t hd, int64_t sb,
               int64_t st, int64_t sh, const float* cos, const float* sin, const int64_t* pos,
               float sign, void* out, void* stream);

}  // namespace tt::modules::cuda
