// RoPE's fused CUDA kernel: each thread rotates one interleaved pair in registers, reading x
// through its strides (q and k are views of the projections) and the fp32 cos/sin tables by
// position, and writes the contiguous result; backward is the same kernel rotating back.
#include "torchtune_cpp/modules/cuda_kernels.h"
#include "torchtune_cpp/modules/cuda_util.cuh"

namespace tt::modules::cuda {

namespace {

constexpr int kThreads = 256;

template <class T>
__global__ void rope_kernel(const T* __restrict__ x, int64_t T_len, int64_t H, int64_t half,
                            int64_t sb, int64_t st, int64_t sh, const float* __restrict__ cos,
                            const float* __restrict__ sin, const int64_t* __restrict__ pos,
                            float sign, T* __restrict__ out, int64_t pairs) {
  for (int64_t p = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; p < pairs;
       p += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    // p = ((b * T + t) * H + h) * half + i
    const int64_t i = p % half;
    const int64_t h = (p / half) % H;
    const int64_t bt = p / (half * H);
    const int64_t t = bt % T_len, b = bt / T_len;
    const int64_t angle = (pos != nullptr ? pos[bt] : t) * half + i;
    const float c = cos[angle], s = sign * sin[angle];
    const T* xp = x + b * sb + t * st + h * sh + 2 * i;
    const float x0 = to_float(xp[0]), x1 = to_float(xp[1]);
    out[2 * p] = from_float<T>(x0 * c - x1 * s);
    out[2 * p + 1] = from_float<T>(x1 * c + x0 * s);
  }
}

}  // namespace

int rope_apply(const void* x, DType type, int64_t B, int64_t T, int64_t H, int64_t hd, int64_t sb,
               int64_t st, int64_t sh, const float* cos, const float* sin, const int64_t* pos,
               float sign, void* out, void* stream) {
  const int64_t pairs = B * T * H * (hd / 2);
  if (pairs == 0) return 0;
  auto s = static_cast<cudaStream_t>(stream);
  const int64_t blocks64 = (pairs + kThreads - 1) / kThreads;
  const int blocks = static_cast<int>(blocks64 < 65535 ? blocks64 : 65535);
  TT_CUDA_DISPATCH(type, S, {
    rope_kernel<S><<<blocks, kThreads, 0, s>>>(static_cast<const S*>(x), T, H, hd / 2, sb, st, sh,
                                               cos, sin, pos, sign, static_cast<S*>(out), pairs);
  });
  return static_cast<int>(cudaGetLastError());
}

}  // namespace tt::modules::cuda
