// Multi-head self-attention with grouped-query attention, as torchtune's
// MultiHeadAttention for Llama2: q/k/v projections, RoPE on q and k, scaled dot-product
// attention (flash / memory-efficient kernels on CUDA), output projection, no biases.
//
// Masking: causal by default. A packed batch gives `mask` [B, T, T] (true = may attend,
// block-causal across documents) and `input_pos` [B, T] restarting per document; that
// goes through SDPA's explicit-mask path. GQA uses SDPA's enable_gqa, so repeated k/v are
// never materialised.
#pragma once

#include <ATen/ATen.h>

#include <optional>

#include "torchtune_cpp/modules/rope.h"

namespace tt::modules {

struct AttentionShape {
  int64_t num_heads;
  int64_t num_kv_heads;
  int64_t head_dim;
};

// x [B, T, D]; q_proj [H*hd, D]; k_proj, v_proj [Hkv*hd, D]; output_proj [D, H*hd].
// Returns [B, T, D].
at::Tensor self_attention(const at::Tensor& x, const at::Tensor& q_proj, const at::Tensor& k_proj,
                          const at::Tensor& v_proj, const at::Tensor& output_proj,
                          const AttentionShape& shape, const RopeCache& rope,
                          const std::optional<at::Tensor>& mask,
                          const std::optional<at::Tensor>& input_pos);

}  // namespace tt::modules
