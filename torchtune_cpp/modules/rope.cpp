// Rotary positional embeddings.
#include "torchtune_cpp/modules/rope.h"

#include <torch/csrc/autograd/custom_function.h>

#include "torchtune_cpp/modules/fused_kernels.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::modules {

namespace {

// Rotates adjacent pairs of x [B, T, H, hd] by angles whose cos/sin broadcast to
// [B, T, 1, hd/2], in fp32, returning x's dtype. sign = -1 rotates backwards (the gradient).
// Written as two fused multiply-adds straight into the output's even and odd lanes: x is
// read in its own dtype and promoted per element, so no fp32 copy of x and no stack of the
// two halves is ever materialised (a third of the memory traffic of the textbook formula).
at::Tensor rotate_pairs(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                        double sign) {
  const auto& s = x.sizes();
  at::Tensor xs = x.reshape({s[0], s[1], s[2], s[3] / 2, 2});
  at::Tensor x0 = xs.select(-1, 0), x1 = xs.select(-1, 1);
  at::Tensor out = at::empty_like(xs, at::MemoryFormat::Contiguous);
  at::Tensor o0 = out.select(-1, 0), o1 = out.select(-1, 1);
  at::addcmul_out(o0, x0 * cos, x1, sin, -sign);  // x0 cos - x1 sin
  at::addcmul_out(o1, x1 * cos, x0, sin, sign);   // x1 cos + x0 sin
  return out.flatten(3);
}

// The rotation as one autograd node: its gradient is the inverse rotation, so nothing but
// the (shared) cos/sin tables is kept for backward, unlike the dozen fp32 intermediates
// autograd would save for the elementwise formula.
struct RopeFunction : torch::autograd::Function<RopeFunction> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, at::Tensor x, at::Tensor cos,
                            at::Tensor sin) {
    ctx->save_for_backward({cos, sin});
    at::NoGradGuard no_grad;
    return rotate_pairs(x, cos, sin, 1.0);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    return {rotate_pairs(grad_out[0], saved[0], saved[1], -1.0), at::Tensor(), at::Tensor()};
  }
};

#if defined(TT_WITH_CUDA_KERNELS)
// On CUDA: one kernel (rope.cu) reads x through its strides and the tables by position and
// writes the rotated pairs, forward and (rotating back) backward; nothing is kept but the
// tables and the positions.
at::Tensor rope_kernel(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin,
                       const at::Tensor& pos, float sign) {
  at::Tensor xs = x.stride(3) == 1 ? x : x.contiguous();
  at::Tensor out = at::empty(xs.sizes(), xs.options());
  check_launch(cuda::rope_apply(xs.data_ptr(), kernel_dtype(xs.scalar_type()), xs.size(0),
                                xs.size(1), xs.size(2), xs.size(3), xs.stride(0), xs.stride(1),
                                xs.stride(2), cos.data_ptr<float>(), sin.data_ptr<float>(),
                                pos.defined() ? pos.data_ptr<int64_t>() : nullptr, sign,
                                out.data_ptr(), current_cuda_stream(xs)),
               "apply_rope");
  return out;
}

struct FusedRope : torch::autograd::Function<FusedRope> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, at::Tensor x, at::Tensor cos,
                            at::Tensor sin, at::Tensor pos) {
    ctx->save_for_backward({cos, sin});
    ctx->saved_data["pos"] = pos;
    return rope_kernel(x, cos, sin, pos, 1.0f);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto saved = ctx->get_saved_variables();
    at::Tensor pos = ctx->saved_data["pos"].toTensor();
    return {rope_kernel(grad_out[0], saved[0], saved[1], pos, -1.0f), at::Tensor(), at::Tensor(),
            at::Tensor()};
  }
};
#endif

}  // namespace

RopeCache make_rope_cache(int64_t head_dim, int64_t max_seq_len, double base, at::Device device) {
  auto f32 = at::TensorOptions().dtype(at::kFloat).device(device);
  // theta = 1 / base ** (arange(0, hd, 2)[:hd//2].float() / hd)
  at::Tensor exponents =
      at::arange(0, head_dim, 2, f32.dtype(at::kLong)).slice(0, 0, head_dim / 2).to(at::kFloat) /
      static_cast<double>(head_dim);
  at::Tensor theta = 1.0 / at::pow(base, exponents);
  at::Tensor positions = at::arange(max_seq_len, f32);
  at::Tensor angles = at::outer(positions, theta);  // [S, hd/2]
  return RopeCache{angles.cos(), angles.sin()};
}

at::Tensor apply_rope(const at::Tensor& x, const RopeCache& cache,
                      const std::optional<at::Tensor>& input_pos) {
  const int64_t B = x.size(0), T = x.size(1), hd = x.size(3);
  TT_CHECK(T <= cache.cos.size(0), "model.max_seq_len", "sequence of ", T,
           " tokens is longer than the model's max_seq_len ", cache.cos.size(0),
           "; raise max_seq_len or shorten the samples (tokenizer.max_seq_len)");
#if defined(TT_WITH_CUDA_KERNELS)
  if (use_fused_kernels(x) && cache.cos.is_cuda() && hd % 2 == 0) {
    at::Tensor pos = input_pos.has_value() ? input_pos->to(at::kLong).contiguous() : at::Tensor();
    return FusedRope::apply(x, cache.cos.contiguous(), cache.sin.contiguous(), pos);
  }
#endif
  at::Tensor cos, sin;  // broadcastable to [B, T, 1, hd/2]
  if (input_pos.has_value()) {
    at::Tensor pos = input_pos->to(at::kLong);
    cos = cache.cos.index_select(0, pos.reshape(-1)).view({B, T, 1, hd / 2});
    sin = cache.sin.index_select(0, pos.reshape(-1)).view({B, T, 1, hd / 2});
  } else {
    cos = cache.cos.slice(0, 0, T).view({1, T, 1, hd / 2});
    sin = cache.sin.slice(0, 0, T).view({1, T, 1, hd / 2});
  }
  return RopeFunction::apply(x, cos, sin);
}

}  // namespace tt::modules
