// The recipes' sample order: torch.utils.data.DistributedSampler semantics (torchtune v0.6
// uses torchdata's StatefulDistributedSampler, which inherits them) and the loader's
// drop_last batching.
#pragma once

#include <cstdint>
#include <vector>

namespace tt::data {

struct SamplerOptions {
  int64_t num_replicas = 1;
  int64_t rank = 0;
  bool shuffle = true;
  int64_t seed = 0;
  bool drop_last = false;  // the sampler's own: drop the tail instead of padding
};

// This rank's indices for `epoch` over a dataset of n samples: torch.randperm(n) with a
// CPU generator seeded seed + epoch when shuffling, padded by repeating from the start (or
// truncated when drop_last) to a multiple of num_replicas, then every num_replicas-th from
// rank.
std::vector<int64_t> distributed_sampler_indices(int64_t n, int64_t epoch,
                                                 const SamplerOptions& options);

// Batches of `batch_size` consecutive indices, the last partial one dropped
// (StatefulDataLoader(drop_last=True)).
std::vector<std::vector<int64_t>> batch_indices(const std::vector<int64_t>& indices,
                                                int64_t batch_size);

}  // namespace tt::data
