// The fused-kernel switch and the C++ side's CUDA plumbing.
#include "torchtune_cpp/modules/fused_kernels.h"

#include <atomic>

#if defined(TT_WITH_CUDA_KERNELS)
#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime.h>
#endif

#include "torchtune_cpp/utils/check.h"

namespace tt::modules {

namespace {
// Off until switched on: the recipes set it from `fused_kernels`.
std::atomic<bool> g_enabled{false};
}  // namespace

void set_fused_kernels(bool enabled) {
  g_enabled = enabled;
}
bool fused_kernels_enabled() {
  return g_enabled;
}

bool fused_kernels_built() {
#if defined(TT_WITH_CUDA_KERNELS)
  return true;
#else
  return false;
#endif
}

bool use_fused_kernels(const at::Tensor& x) {
  if (!fused_kernels_built() || !g_enabled || !x.is_cuda()) return false;
  const at::ScalarType t = x.scalar_type();
  return t == at::kFloat || t == at::kBFloat16 || t == at::kHalf;
}

void* current_cuda_stream(const at::Tensor& x) {
#if defined(TT_WITH_CUDA_KERNELS)
  return at::cuda::getCurrentCUDAStream(x.get_device()).stream();
#else
  TT_CHECK(false, "fused_kernels", "this build has no CUDA kernels");
  return nullptr;
#endif
}

cuda::DType kernel_dtype(at::ScalarType type) {
  return type == at::kBFloat16 ? cuda::DType::kBFloat16
         : type == at::kHalf   ? cuda::DType::kHalf
                               : cuda::DType::kFloat;
}

void check_launch(int status, const char* kernel) {
#if defined(TT_WITH_CUDA_KERNELS)
  TT_CHECK(status == 0, kernel, "the CUDA kernel failed to launch: ",
           cudaGetErrorString(static_cast<cudaError_t>(status)));
#else
  TT_CHECK(status == 0, kernel, "the CUDA kernel failed to launch (status ", status, ")");
#endif
}

}  // namespace tt::modules
