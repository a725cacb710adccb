// SwiGLU's fused CUDA kernels: silu(gate) * up in one pass, in fp32 with one rounding, and
// its gradients from the two inputs alone (nothing else is kept for backward).
#include "torchtune_cpp/modules/cuda_kernels.h"
#include "torchtune_cpp/modules/cuda_util.cuh"

namespace tt::modules::cuda {

namespace {

constexpr int kThreads = 256;

template <class T>
__global__ void swiglu_forward_kernel(const T* __restrict__ gate, const T* __restrict__ up,
                                      T* __restrict__ out, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float g = to_float(gate[i]);
    const float sig = 1.0f / (1.0f + expf(-g));
    out[i] = from_float<T>(g * sig * to_float(up[i]));
  }
}

// d silu(g) / dg = sig(g) (1 + g (1 - sig(g))).
template <class T>
__global__ void swiglu_backward_kernel(const T* __restrict__ dout, const T* __restrict__ gate,
                                       const T* __restrict__ up, T* __restrict__ dgate,
                                       T* __restrict__ dup, int64_t n) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float g = to_float(gate[i]);
    const float d = to_float(dout[i]);
    const float sig = 1.0f / (1.0f + expf(-g));
    dgate[i] = from_float<T>(d * to_float(up[i]) * sig * (1.0f + g * (1.0f - sig)));
    dup[i] = from_float<T>(d * g * sig);
  }
}

int blocks_for(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<int>(blocks < 65535 ? blocks : 65535);
}

}  // namespace

int swiglu_forward(const void* gate, const void* up, void* out, DType type, int64_t n,
                   void* stream) {
  if (n == 0) return 0;
  auto s = static_cast<cudaStream_t>(stream);
  TT_CUDA_DISPATCH(type, T, {
    swiglu_forward_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(
        static_cast<const T*>(gate), static_cast<const T*>(up), static_cast<T*>(out), n);
  });
  return static_cast<int>(cudaGetLastError());
}

int swiglu_backward(const void* dout, const void* gate, const void* up, void* dgate, void* dup,
                    DType type, int64_t n, void* stream) {
  if (n == 0) return 0;
  auto s = static_cast<cudaStream_t>(stream);
  TT_CUDA_DISPATCH(type, T, {
    swiglu_backward_kernel<T><<<blocks_for(n), kThreads, 0, s>>>(
        static_cast<const T*>(dout), static_cast<const T*>(gate), static_cast<const T*>(up),
        static_cast<T*>(dgate), static_cast<T*>(dup), n);
  });
  return static_cast<int>(cudaGetLastError());
}

}  // namespace tt::modules::cuda
