// The switch between each op's fused CUDA kernel (cuda_kernels.h: RMSNorm, SwiGLU, RoPE) and
// its LibTorch path, which stays the CPU path and the reference the kernels are tested
// against. The ops (rms_norm, swiglu_mlp, apply_rope) ask use_fused_kernels(x); the recipes
// set the switch from the config key `fused_kernels`.
#pragma once

#include <ATen/ATen.h>

#include "torchtune_cpp/modules/cuda_kernels.h"

namespace tt::modules {

void set_fused_kernels(bool enabled);
bool fused_kernels_enabled();
// Whether this build has the kernels (compiled with the CUDA toolkit: TT_WITH_CUDA_KERNELS).
bool fused_kernels_built();
// The kernels serve `x`: built, switched on, and x a CUDA tensor of fp32, bf16 or fp16.
bool use_fused_kernels(const at::Tensor& x);

// For the ops' C++ side: the current CUDA stream of x's device (a cudaStream_t), and a
// launcher's status turned into a tt::Error naming the kernel.
void* current_cuda_stream(const at::Tensor& x);
void check_launch(int status, const char* kernel);
// The kernels' name for a dtype (fp32, bf16 or fp16).
cuda::DType kernel_dtype(at::ScalarType type);

// Sets the switch for a scope (tests compare both paths).
class FusedKernelsScope {
 public:
  explicit FusedKernelsScope(bool enabled) : saved_(fused_kernels_enabled()) {
    set_fused_kernels(enabled);
  }
  ~FusedKernelsScope() { set_fused_kernels(saved_); }
  FusedKernelsScope(const FusedKernelsScope&) = delete;
  FusedKernelsScope& operator=(const FusedKernelsScope&) = delete;

 private:
  bool saved_;
};

}  // namespace tt::modules
