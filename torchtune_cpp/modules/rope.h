// Rotary positional embeddings with torchtune's (and Meta's) interleaved-pair rotation:
// pairs (x[2i], x[2i+1]) rotate by position * theta_i, theta_i = base^(-2i/head_dim).
// The cos/sin cache is fp32 and the rotation runs in fp32, then casts back.
#pragma once

#include <ATen/ATen.h>

#include <optional>

namespace tt::modules {

struct RopeCache {
  at::Tensor cos;  // [max_seq_len, head_dim/2] fp32
  at::Tensor sin;  // [max_seq_len, head_dim/2] fp32
};

// Computed exactly as torchtune's RotaryPositionalEmbeddings.rope_init / build_rope_cache.
RopeCache make_rope_cache(int64_t head_dim, int64_t max_seq_len, double base, at::Device device);

// x [B, T, H, hd]; input_pos [B, T] (positions restart per packed document) or none for
// 0..T-1. Returns [B, T, H, hd] in x's dtype.
at::Tensor apply_rope(const at::Tensor& x, const RopeCache& cache,
                      const std::optional<at::Tensor>& input_pos);

}  // namespace tt::modules
