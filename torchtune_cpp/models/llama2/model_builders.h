// Llama2 model builders under torchtune's names and sizes:
//   llama2(vocab_size, num_layers, num_heads, num_kv_heads, embed_dim, max_seq_len,
//          attn_dropout=0, intermediate_dim=None, norm_eps=1e-5, rope_base=10000)
//   llama2_7b, llama2_13b, llama2_70b (grouped-query attention with 8 kv heads)
// Models are returned on the meta device (no memory); recipes materialise them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "torchtune_cpp/modules/transformer.h"

namespace tt::llama2 {

// torchtune's scale_hidden_dim_for_mlp: 4 * int(2 * dim / 3), rounded up to `multiple_of`.
int64_t scale_hidden_dim_for_mlp(int64_t dim, int64_t multiple_of = 256);

modules::DecoderArgs llama2_args(int64_t vocab_size, int64_t num_layers, int64_t num_heads,
                                 std::optional<int64_t> num_kv_heads, int64_t embed_dim,
                                 int64_t max_seq_len, double attn_dropout = 0.0,
                                 std::optional<int64_t> intermediate_dim = std::nullopt,
                                 double norm_eps = 1e-5, double rope_base = 10000.0);

modules::DecoderArgs llama2_7b_args();
modules::DecoderArgs llama2_13b_args();
modules::DecoderArgs llama2_70b_args();

using ModelPtr = std::shared_ptr<modules::TransformerDecoder>;

// Registers torchtune.models.llama2.{llama2, llama2_7b, llama2_13b, llama2_70b}; each
// builds a ModelPtr on the meta device.
void register_llama2_models();

}  // namespace tt::llama2
