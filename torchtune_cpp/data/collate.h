// torchtune's collate functions (data/_collate.py): padded_collate_sft (samples as
// right-padded int64 tensors [b, longest sample]) and padded_collate_packed (packs of equal
// length stacked, with their block-causal attention mask).
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "torchtune_cpp/data/sft.h"

namespace tt::data {

struct SftBatch {
  at::Tensor tokens;  // int64 [b, L], padded with padding_idx
  at::Tensor labels;  // int64 [b, L], padded with ignore_idx
};

SftBatch padded_collate_sft(const std::vector<Sample>& batch, int64_t padding_idx = 0,
                            int64_t ignore_idx = modules::kIgnoreIndex);

struct PackedBatch {
  at::Tensor tokens;     // int64 [b, s]
  at::Tensor labels;     // int64 [b, s]
  at::Tensor input_pos;  // int64 [b, s], positions restarting at each document
  at::Tensor mask;       // bool [b, s, s]: modules::block_causal_mask of the packs' seq_lens
};

// Packs must all have the same length (PackedDataset pads each to max_seq_len).
PackedBatch padded_collate_packed(const std::vector<Sample>& batch);

}  // namespace tt::data
