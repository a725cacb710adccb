// Attention masks for packed batches, as torchtune's create_block_causal_mask: each
// document attends causally within itself and never across documents.
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace tt::modules {

// seq_lens[b]: the document lengths of row b, summing to the same T for every row.
// Returns [B, T, T] bool, true where a query position may attend to a key position.
at::Tensor block_causal_mask(const std::vector<std::vector<int64_t>>& seq_lens,
                             at::Device device = at::kCPU);

// Positions restarting at 0 for each document: [B, T] int64.
at::Tensor packed_input_pos(const std::vector<std::vector<int64_t>>& seq_lens,
                            at::Device device = at::kCPU);

}  // namespace tt::modules
