// The run's position besides the model and optimizer, as the recipes keep it, and its
// recipe_state.pt form: torchtune's keys (seed, epochs_run, total_epochs,
// max_steps_per_epoch, dataloader, optimizer) first, then what an exact resume needs beyond
// them (global_step, random state).
//
// The `dataloader` entry is what torchdata 0.11's StatefulDataLoader.state_dict() returns in
// torchtune's recipes (num_workers=0, batch_size with drop_last=True, a
// StatefulDistributedSampler), so a torchtune that restores it continues where we stopped:
//   {'_index_sampler_state': None,
//    '_sampler_iter_state': {'samples_yielded': n * b, 'sampler_state': {'yielded': n * b}},
//    '_sampler_iter_yielded': n, '_num_yielded': n, '_IterableDataset_len_called': None,
//    '_shared_seed': None, 'fetcher_state': None, 'dataset_state': None,
//    '_iterator_finished': False}
// after n micro-batches of b samples (per rank) of epoch `epochs_run`. The sampler's epoch is
// not part of it: torchtune sets it from epochs_run (sampler.set_epoch), and so do we. The
// counts are the same on every rank, so rank 0's entry serves all of them.
//
// Every field read back is checked: a wrong type or an impossible value is a tt::Error naming
// the file and the key path ("key 'dataloader._num_yielded': expected ...").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "torchtune_cpp/core/pickle_value.h"

namespace tt::training {

struct RecipeState {
  int64_t seed = 0;
  int64_t epochs_run = 0;
  int64_t total_epochs = 1;
  std::optional<int64_t> max_steps_per_epoch;
  int64_t global_step = 0;
  int64_t batches_in_epoch = 0;  // micro-batches of epoch `epochs_run` already trained on
  bool has_global_step = false;  // global_step came from the file (torchtune's files lack it)
};

// torchtune's _update_recipe_state: the required keys (a tt::Error naming `where` otherwise),
// the seed and max_steps_per_epoch taken from the file with a warning when the config
// differs, total_epochs kept from the config with a warning; then, in files that record
// global_step (ours), global_step and the position in the epoch from the `dataloader` entry,
// in torchdata's layout or the earlier {'epoch', 'batches_in_epoch'}. Python torchtune's own
// files restart at the epoch boundary, as torchtune 0.6 does (it ignores its dataloader state).
// `rng_state`, when present, is checked here and restored by the recipe.
void restore_recipe_state(RecipeState& state, const PickleValue& saved, const std::string& where);

// Once the run knows its epoch (`micro_batches` per epoch before max_steps_per_epoch): a
// position beyond the epoch is a tt::Error naming `where` (the file came from another dataset
// or batch size).
void check_resume_position(const RecipeState& state, int64_t micro_batches, int64_t grad_accum,
                           const std::string& where);

// The `dataloader` entry after `batches` micro-batches of `batch_size` samples (see above).
PickleValue dataloader_state_dict(int64_t batches, int64_t batch_size);

// The recipe_state.pt dict; `batch_size` is the per-rank micro-batch size; `rng` is left out
// when None.
PickleValue recipe_state_dict(const RecipeState& state, int64_t batch_size, PickleValue optimizer,
                              PickleValue rng = PickleValue::none());

}  // namespace tt::training
