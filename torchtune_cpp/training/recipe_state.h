// The run's position besides the model and optimizer, as the recipes keep it, and its
// recipe_state.pt form: torchtune's keys (seed, epochs_run, total_epochs,
// max_steps_per_epoch, optimizer) first, then what an exact resume needs beyond them
// (dataloader position, global_step, random state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "torchtune_cpp/checkpointing/torch_save.h"

namespace tt {

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
// differs, total_epochs kept from the config with a warning; then global_step and the
// dataloader position where the file records them.
void restore_recipe_state(RecipeState& state, const PickleValue& saved, const std::string& where);

// The recipe_state.pt dict; `rng` is left out when None.
PickleValue recipe_state_dict(const RecipeState& state, PickleValue optimizer, PickleValue rng = PickleValue::none());

}  // namespace tt
