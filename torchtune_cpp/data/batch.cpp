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

at::Tensor shift_labels(const at::Tensor& labels, int64_t ignore_index) {
  return at::cat(
      {labels.slice(1, 1), at::full({labels.size(0), 1}, ignore_index, labels.options())}, 1);
}

BatchPrefetcher::BatchPrefetcher(const Dataset& dataset, std::vector<std::vector<int64_t>> batches,
                                 size_t first, size_t end, int64_t pad_id, int64_t ignore_index)
    : dataset_(dataset),
      batches_(std::move(batches)),
      next_index_(first),
      end_(end),
      pad_id_(pad_id),
      ignore_index_(ignore_index) {
  start(first);
}

void BatchPrefetcher::start(size_t index) {
  if (index < end_)
    pending_ = std::async(std::launch::async, [this, ids = batches_[index]] {
      return collate_samples(dataset_, ids, pad_id_, ignore_index_);
    });
}

Batch BatchPrefetcher::next() {
  Batch b = pending_.get();
  start(++next_index_);
  return b;
}

Batch to_device(Batch b, const at::Device& device) {
  auto move = [&](const std::optional<at::Tensor>& t) {
    return t ? std::optional(t->to(device)) : std::nullopt;
  };
  return {b.tokens.to(device), b.labels.to(device), move(b.input_pos), move(b.mask)};
}

}  // namespace tt::data
