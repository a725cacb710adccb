// Reading and writing the recipe state.
#include "torchtune_cpp/training/recipe_state.h"

#include <iostream>

#include "torchtune_cpp/utils/check.h"

namespace tt {

void restore_recipe_state(RecipeState& state, const PickleValue& st, const std::string& where) {
  for (const char* key : {"seed", "epochs_run", "total_epochs", "max_steps_per_epoch", "optimizer"})
    TT_CHECK(st.find(key) != nullptr, where, "has no '", key,
             "': Checkpoint does not contain the required keys needed for updating recipe state. "
             "Are you sure you passed in the right recipe checkpoint?");
  state.epochs_run = st.at("epochs_run").to_int();
  const int64_t seed = st.at("seed").to_int();
  if (seed != state.seed) {
    std::cerr << "WARNING: Config value for seed does not match the checkpoint value, using the "
                 "checkpoint value: " << seed << "\n";
    state.seed = seed;
  }
  const PickleValue& max_steps = st.at("max_steps_per_epoch");
  std::optional<int64_t> ckpt_max = max_steps.is_none() ? std::nullopt : std::optional(max_steps.to_int());
  if (ckpt_max != state.max_steps_per_epoch) {
    std::cerr << "WARNING: Config value for max_steps_per_epoch does not match the checkpoint value, "
                 "using the checkpoint value: " << (ckpt_max ? std::to_string(*ckpt_max) : "None") << "\n";
    state.max_steps_per_epoch = ckpt_max;
  }
  if (st.at("total_epochs").to_int() != state.total_epochs)
    std::cerr << "WARNING: Config value for total_epochs does not match the checkpoint value, "
                 "using the config value: " << state.total_epochs << "\n";
  // What torchtune does not record, for an exact continuation (absent in its files).
  if (const PickleValue* g = st.find("global_step")) {
    state.global_step = g->to_int();
    state.has_global_step = true;
  }
  if (const PickleValue* d = st.find("dataloader"); d && d->is_dict() && d->find("epoch") &&
                                                    d->find("batches_in_epoch")) {
    TT_CHECK(d->at("epoch").to_int() == state.epochs_run, where,
             "dataloader.epoch disagrees with epochs_run; the file is inconsistent");
    state.batches_in_epoch = d->at("batches_in_epoch").to_int();
  }
}

PickleValue recipe_state_dict(const RecipeState& state, PickleValue optimizer, PickleValue rng) {
  using PV = PickleValue;
  PV out = PV::dict({{"seed", state.seed},
                     {"epochs_run", state.epochs_run},
                     {"total_epochs", state.total_epochs},
                     {"max_steps_per_epoch", state.max_steps_per_epoch ? PV(*state.max_steps_per_epoch) : PV::none()},
                     {"dataloader", PV::dict({{"epoch", state.epochs_run}, {"batches_in_epoch", state.batches_in_epoch}})},
                     {"optimizer", std::move(optimizer)},
                     {"global_step", state.global_step}});
  if (!rng.is_none()) out.set("rng_state", std::move(rng));
  return out;
}

}  // namespace tt
