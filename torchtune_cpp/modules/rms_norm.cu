// RMSNorm's fused CUDA kernels: one pass over each row for the statistics and the output,
// fp32 arithmetic on any input dtype, and only the inverse RMS kept for backward.
#include "torchtune_cpp/modules/cuda_kernels.h"
#include "torchtune_cpp/modules/cuda_util.cuh"

namespace tt::modules::cuda {

namespace {

constexpr int kThreads = 256;

// One block per row (grid-strided): the sum of squares, then the scaled output.
template <class T, class S>
__global__ void rms_norm_forward_kernel(const T* __restrict__ x, const S* __restrict__ scale,
                                        T* __restrict__ y, float* __restrict__ rstd, int64_t rows,
                                        int64_t dim, float eps) {
  __shared__ float scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * dim;
    float squares = 0.0f;
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) {
      const float v = to_float(xr[c]);
      squares += v * v;
    }
    const float r = rsqrtf(block_sum(squares, scratch) / static_cast<float>(dim) + eps);
    if (threadIdx.x == 0) rstd[row] = r;
    T* yr = y + row * dim;
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x)
      yr[c] = from_float<T>(to_float(xr[c]) * r * to_float(scale[c]));
  }
}

// dx = rstd * (g - xhat * mean(g * xhat)) with g = dy * scale and xhat = x * rstd; each block
// also sums dy * xhat over its rows into its own row of dscale_partial (a column always
// belongs to the same thread, so the shared accumulator needs no atomics).
template <class T, class S>
__global__ void rms_norm_backward_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                         const S* __restrict__ scale,
                                         const float* __restrict__ rstd, T* __restrict__ dx,
                                         float* __restrict__ dscale_partial, int64_t rows,
                                         int64_t dim) {
  extern __shared__ float acc[];  // [dim]
  __shared__ float scratch[32];
  for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) acc[c] = 0.0f;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * dim;
    const T* dyr = dy + row * dim;
    const float r = rstd[row];
    float dot = 0.0f;
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) {
      const float xhat = to_float(xr[c]) * r;
      const float d = to_float(dyr[c]);
      dot += d * to_float(scale[c]) * xhat;
      acc[c] += d * xhat;
    }
    const float mean = block_sum(dot, scratch) / static_cast<float>(dim);
    T* dxr = dx + row * dim;
    for (int64_t c = threadIdx.x; c < dim; c += blockDim.x) {
      const float xhat = to_float(xr[c]) * r;
      const float g = to_float(dyr[c]) * to_float(scale[c]);
      dxr[c] = from_float<T>(r * (g - xhat * mean));
    }
  }
  for (int64_t c = threadIdx.x; c < dim; c += blockDim.x)
    dscale_partial[blockIdx.x * dim + c] = acc[c];
}

int blocks_for(int64_t rows) {
  // Enough blocks to fill any current GPU several times over; rows are grid-strided.
  return static_cast<int>(rows < 1024 ? rows : 1024);
}

}  // namespace

int64_t rms_norm_backward_blocks(int64_t rows) {
  return blocks_for(rows);
}

int rms_norm_forward(const void* x, DType x_type, const void* scale, DType scale_type, void* y,
                     float* rstd, int64_t rows, int64_t dim, float eps, void* stream) {
  if (rows == 0) return 0;
  auto s = static_cast<cudaStream_t>(stream);
  TT_CUDA_DISPATCH(x_type, T, TT_CUDA_DISPATCH(scale_type, S, {
                     rms_norm_forward_kernel<T, S><<<blocks_for(rows), kThreads, 0, s>>>(
                         static_cast<const T*>(x), static_cast<const S*>(scale), static_cast<T*>(y),
                         rstd, rows, dim, eps);
                   }));
  return static_cast<int>(cudaGetLastError());
}

int rms_norm_backward(const void* dy, const void* x, DType x_type, const void* scale,
                      DType scale_type, const float* rstd, void* dx, float* dscale_partial,
                      int64_t rows, int64_t dim, void* stream) {
  if (rows == 0) return 0;
  auto s = static_cast<cudaStream_t>(stream);
  const size_t shared = static_cast<size_t>(dim) * sizeof(float);
  TT_CUDA_DISPATCH(x_type, T, TT_CUDA_DISPATCH(scale_type, S, {
                     rms_norm_backward_kernel<T, S><<<blocks_for(rows), kThreads, shared, s>>>(
                         static_cast<const T*>(dy), static_cast<const T*>(x),
                         static_cast<const S*>(scale), rstd, static_cast<T*>(dx), dscale_partial,
                         rows, dim);
                   }));
  return static_cast<int>(cudaGetLastError());
}

}  // namespace tt::modules::cuda
