// DistributedSampler.__iter__ in C++. at::randperm with a CPU generator seeded as Python's
// torch.Generator().manual_seed(s) gives the same permutation (tested against torch).
#include "torchtune_cpp/data/sampler.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "torchtune_cpp/utils/check.h"

namespace tt::data {

std::vector<int64_t> distributed_sampler_indices(int64_t n, int64_t epoch,
                                                 const SamplerOptions& o) {
  TT_CHECK(o.num_replicas >= 1, "sampler", "num_replicas must be at least 1, got ", o.num_replicas);
  TT_CHECK(o.rank >= 0 && o.rank < o.num_replicas, "sampler", "rank ", o.rank, " out of range for ",
           o.num_replicas, " replicas");
  TT_CHECK(n >= 0, "sampler", "dataset size must not be negative");
  const int64_t w = o.num_replicas;
  // Python: ceil((n - w) / w) with drop_last and a remainder, else ceil(n / w).
  const int64_t num_samples = (o.drop_last && n % w != 0)
                                  ? (n - w) / w + ((n - w) % w != 0 && n - w > 0 ? 1 : 0)
                                  : (n + w - 1) / w;
  const int64_t total = num_samples * w;

  std::vector<int64_t> indices(static_cast<size_t>(n));
  if (o.shuffle) {
    at::Generator gen =
        at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(o.seed + epoch));
    at::Tensor perm = at::randperm(n, gen, at::kLong);
    const auto* p = perm.data_ptr<int64_t>();
    std::copy(p, p + n, indices.begin());
  } else {
    for (int64_t i = 0; i < n; ++i) indices[static_cast<size_t>(i)] = i;
  }
  if (!o.drop_last) {
    TT_CHECK(n > 0 || total == 0, "sampler", "cannot sample from an empty dataset");
    // Repeat from the start (cycling when more padding than samples is needed).
    for (int64_t i = 0; static_cast<int64_t>(indices.size()) < total; ++i)
      indices.push_back(indices[static_cast<size_t>(i % n)]);
  } else {
    indices.resize(static_cast<size_t>(total));
  }
  std::vector<int64_t> mine;
  for (int64_t i = o.rank; i < total; i += w) mine.push_back(indices[static_cast<size_t>(i)]);
  return mine;
}

std::vector<std::vector<int64_t>> batch_indices(const std::vector<int64_t>& indices,
                                                int64_t batch_size) {
  TT_CHECK(batch_size >= 1, "batch_size", "must be at least 1, got ", batch_size);
  std::vector<std::vector<int64_t>> batches;
  const auto b = static_cast<size_t>(batch_size);
  for (size_t start = 0; start + b <= indices.size(); start += b)
    batches.emplace_back(indices.begin() + static_cast<std::ptrdiff_t>(start),
                         indices.begin() + static_cast<std::ptrdiff_t>(start + b));
  return batches;
}

}  // namespace tt::data
