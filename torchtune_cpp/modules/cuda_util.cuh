// Device helpers shared by the fused kernels: loads and stores through fp32, and a block-wide
// sum. CUDA only (included by the .cu files).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace tt::modules::cuda {

__device__ __forceinline__ float to_float(float v) {
  return v;
}
__device__ __forceinline__ float to_float(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
__device__ __forceinline__ float to_float(__half v) {
  return __half2float(v);
}

template <class T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ __half from_float<__half>(float v) {
  return __float2half_rn(v);
}

// The sum of `v` over the block, returned to every thread. `scratch` holds 32 floats of
// shared memory; the block size is a multiple of 32, at most 1024.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();  // scratch may still be read from a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  v = lane < warps ? scratch[lane] : 0.0f;
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

}  // namespace tt::modules::cuda

// Dispatches `body` with `scalar_t` bound to the CUDA type of a DType.
#define TT_CUDA_DISPATCH(dtype, scalar_t, ...) \
  switch (dtype) {                             \
    case DType::kFloat: {                      \
      using scalar_t = float;                  \
      __VA_ARGS__;                             \
      break;                                   \
    }                                          \
    case DType::kBFloat16: {                   \
      using scalar_t = __nv_bfloat16;          \
      __VA_ARGS__;                             \
      break;                                   \
    }                                          \
    case DType::kHalf: {                       \
      using scalar_t = __half;                 \
      __VA_ARGS__;                             \
      break;                                   \
    }                                          \
  }
