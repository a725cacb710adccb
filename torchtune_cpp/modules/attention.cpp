// Self-attention.
#include "torchtune_cpp/modules/attention.h"

namespace tt::modules {

at::Tensor self_attention(const at::Tensor& x, const at::Tensor& q_proj, const at::Tensor& k_proj,
                          const at::Tensor& v_proj, const at::Tensor& output_proj,
                          const AttentionShape& shape, const RopeCache& rope,
                          const std::optional<at::Tensor>& mask,
                          const std::optional<at::Tensor>& input_pos) {
  const int64_t B = x.size(0), T = x.size(1);
  const int64_t H = shape.num_heads, Hkv = shape.num_kv_heads, hd = shape.head_dim;
  at::Tensor q = at::linear(x, q_proj).view({B, T, H, hd});
  at::Tensor k = at::linear(x, k_proj).view({B, T, Hkv, hd});
  at::Tensor v = at::linear(x, v_proj).view({B, T, Hkv, hd});
  q = apply_rope(q, rope, input_pos).transpose(1, 2);  // [B, H, T, hd]
  k = apply_rope(k, rope, input_pos).transpose(1, 2);  // [B, Hkv, T, hd]
  v = v.transpose(1, 2);
  std::optional<at::Tensor> sdpa_mask;
  if (mask.has_value()) sdpa_mask = mask->unsqueeze(1);  // [B, 1, T, T]
  at::Tensor out = at::scaled_dot_product_attention(q, k, v, sdpa_mask, 0.0,
                                                    /*is_causal=*/!mask.has_value(), std::nullopt,
                                                    /*enable_gqa=*/H != Hkv);
  return at::linear(out.transpose(1, 2).reshape({B, T, H * hd}), output_proj);
}

}  // namespace tt::modules
