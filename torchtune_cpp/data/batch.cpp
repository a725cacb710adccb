// Collating micro-batches.
#include "torchtune_cpp/data/batch.h"

#include "torchtune_cpp/data/collate.h"

namespace tt::data {

Batch collate_samples(const Dataset& dataset, const std::vector<int64_t>& indices, int64_t pad_id,
                      int64_t ignore_index) {
  std::vector<Sample> samples;
  for (int64_t i : indices) samples.push_back(dataset.get(i));
  if (dataset.packed()) {
    PackedBatch b = padded_collate_packed(samples);
    return {b.tokens, b.labels, b.input_pos, b.mask};
  }
  SftBatch b = padded_collate_sft(samples, pad_id, ignore_index);
  return {b.tokens, b.labels, std::nullopt, std::nullopt};
}

Batch to_device(Batch b, const at::Device& device) {
  auto move = [&](const std::optional<at::Tensor>& t) { return t ? std::optional(t->to(device)) : std::nullopt; };
  return {b.tokens.to(device), b.labels.to(device), move(b.input_pos), move(b.mask)};
}

}  // namespace tt::data
