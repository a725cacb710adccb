// RMSNorm: the LibTorch path (CPU, and the reference), or on CUDA the fused kernels of
// rms_norm.cu, which keep only the inverse RMS for backward where the composite path keeps
// an fp32 copy of the input and its intermediates.
#include "torchtune_cpp/modules/rms_norm.h"

#include "torchtune_cpp/modules/fused_kernels.h"

#if defined(TT_WITH_CUDA_KERNELS)
#include <torch/csrc/autograd/custom_function.h>
#endif

namespace tt::modules {

#if defined(TT_WITH_CUDA_KERNELS)
namespace {

struct FusedRmsNorm : torch::autograd::Function<FusedRmsNorm> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, at::Tensor x, at::Tensor scale,
                            double eps) {
    const int64_t dim = x.size(-1), rows = x.numel() / dim;
    at::Tensor xc = x.contiguous(), sc = scale.contiguous();
    at::Tensor y = at::empty_like(xc);
    at::Tensor rstd = at::empty({rows}, xc.options().dtype(at::kFloat));
    check_launch(
        cuda::rms_norm_forward(xc.data_ptr(), kernel_dtype(xc.scalar_type()), sc.data_ptr(),
                               kernel_dtype(sc.scalar_type()), y.data_ptr(), rstd.data_ptr<float>(),
                               rows, dim, static_cast<float>(eps), current_cuda_stream(xc)),
        "rms_norm");
    ctx->save_for_backward({xc, sc, rstd});
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &x = saved[0], &scale = saved[1], &rstd = saved[2];
    const int64_t dim = x.size(-1), rows = x.numel() / dim;
    at::Tensor dy = grad_out[0].contiguous();
    at::Tensor dx = at::empty_like(x);
    at::Tensor partial =
        at::empty({cuda::rms_norm_backward_blocks(rows), dim}, x.options().dtype(at::kFloat));
    check_launch(cuda::rms_norm_backward(
                     dy.data_ptr(), x.data_ptr(), kernel_dtype(x.scalar_type()), scale.data_ptr(),
                     kernel_dtype(scale.scalar_type()), rstd.data_ptr<float>(), dx.data_ptr(),
                     partial.data_ptr<float>(), rows, dim, current_cuda_stream(x)),
                 "rms_norm backward");
    return {dx, partial.sum(0).to(scale.scalar_type()), at::Tensor()};
  }
};

}  // namespace
#endif

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& scale, double eps) {
#if defined(TT_WITH_CUDA_KERNELS)
  if (use_fused_kernels(x) && use_fused_kernels(scale) && x.size(-1) <= cuda::kRmsNormMaxDim &&
      x.size(-1) == scale.numel())
    return FusedRmsNorm::apply(x, scale, eps);
#endif
  // The scale is promoted to fp32 explicitly (exact for bf16), as the composite
  // implementation torchtune reaches does implicitly; this keeps the fused kernel usable.
  return at::rms_norm(x.to(at::kFloat), {x.size(-1)}, scale.to(at::kFloat), eps)
      .to(x.scalar_type());
}

}  // namespace tt::modules
