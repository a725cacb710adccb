// One micro-batch as the recipes feed it to the model: collated on the CPU from dataset
// samples (torchtune's padded_collate_sft, or padded_collate_packed for packed datasets),
// then moved to the training device.
#pragma once

#include <ATen/ATen.h>

#include <future>
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

// Next-token targets: labels [B, T] shifted left by one, the last position ignored -> [B, T].
at::Tensor shift_labels(const at::Tensor& labels, int64_t ignore_index);

// An epoch's micro-batches `batches[first..end)` collated on a worker thread one ahead of
// training, so reading and tokenizing overlap the step.
class BatchPrefetcher {
 public:
  BatchPrefetcher(const Dataset& dataset, std::vector<std::vector<int64_t>> batches, size_t first,
                  size_t end, int64_t pad_id, int64_t ignore_index);
  // Micro-batch `first`, then the following ones; starts collating the one after.
  Batch next();

 private:
  void start(size_t index);
  const Dataset& dataset_;
  std::vector<std::vector<int64_t>> batches_;
  size_t next_index_, end_;
  int64_t pad_id_, ignore_index_;
  std::future<Batch> pending_;
};

}  // namespace tt::data
