// One micro-batch as the recipes feed it to the model: collated on the CPU from dataset
// samples (torchtune's padded_collate_sft, or padded_collate_packed for packed datasets),
// then moved to the training device.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <vector>

#include "torchtune_cpp/data/sft.h"

namespace tt::data {

struct Batch {
  at::Tensor tokens, labels;            // [B, T] int64
  std::optional<at::Tensor> input_pos;  // [B, T] (packed)
  std::optional<at::Tensor> mask;       // [B, T, T] bool (packed)
};

// The samples at `indices`, read (tokenized lazily) and collated; `pad_id` pads tokens.
Batch collate_samples(const Dataset& dataset, const std::vector<int64_t>& indices, int64_t pad_id,
                      int64_t ignore_index);

Batch to_device(Batch batch, const at::Device& device);

}  // namespace tt::data
