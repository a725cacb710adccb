// SwiGLU MLP: on CUDA, silu(gate) * up runs as one fused kernel (feed_forward.cu) that keeps
// only its two inputs for backward; elsewhere, and as the reference, the LibTorch ops.
#include "torchtune_cpp/modules/feed_forward.h"

#include "torchtune_cpp/modules/fused_kernels.h"

#if defined(TT_WITH_CUDA_KERNELS)
#include <torch/csrc/autograd/custom_function.h>
#endif

namespace tt::modules {

#if defined(TT_WITH_CUDA_KERNELS)
namespace {

struct FusedSwiGLU : torch::autograd::Function<FusedSwiGLU> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, at::Tensor gate, at::Tensor up) {
    at::Tensor g = gate.contiguous(), u = up.contiguous();
    at::Tensor out = at::empty_like(g);
    check_launch(
        cuda::swiglu_forward(g.data_ptr(), u.data_ptr(), out.data_ptr(),
                             kernel_dtype(g.scalar_type()), g.numel(), current_cuda_stream(g)),
        "swiglu");
    ctx->save_for_backward({g, u});
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &g = saved[0], &u = saved[1];
    at::Tensor dout = grad_out[0].contiguous();
    at::Tensor dg = at::empty_like(g), du = at::empty_like(u);
    check_launch(cuda::swiglu_backward(dout.data_ptr(), g.data_ptr(), u.data_ptr(), dg.data_ptr(),
                                       du.data_ptr(), kernel_dtype(g.scalar_type()), g.numel(),
                                       current_cuda_stream(g)),
                 "swiglu backward");
    return {dg, du};
  }
};

}  // namespace
#endif

at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up) {
#if defined(TT_WITH_CUDA_KERNELS)
  if (use_fused_kernels(gate) && up.scalar_type() == gate.scalar_type() &&
      up.sizes() == gate.sizes() && up.is_cuda())
    return FusedSwiGLU::apply(gate, up);
#endif
  return at::silu(gate) * up;
}

at::Tensor swiglu_mlp(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& w2,
                      const at::Tensor& w3) {
  return at::linear(swiglu(at::linear(x, w1), at::linear(x, w3)), w2);
}

}  // namespace tt::modules
