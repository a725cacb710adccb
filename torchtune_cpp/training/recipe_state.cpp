// Reading and writing the recipe state, every field read checked against the file and key.
#include "torchtune_cpp/training/recipe_state.h"

#include <ATen/CPUGeneratorImpl.h>

#include <iostream>
#include <limits>

#include "torchtune_cpp/utils/check.h"

namespace tt::training {

namespace {

using PV = PickleValue;

// torchtune's set_seed takes seeds in numpy's uint32 range.
constexpr int64_t kMaxSeed = std::numeric_limits<uint32_t>::max();
constexpr int64_t kMaxInt = std::numeric_limits<int64_t>::max();

// What was found, for messages: "str 'abc'", "int -3", "Tensor tensor(float32[2])", "dict".
std::string found(const PV& v) {
  if (v.is_list() || v.is_tuple() || v.is_dict()) return v.type_name();
  return str(v.type_name(), " ", v.repr());
}

// An int (not a bool, which Python would also accept) in [lo, hi].
int64_t read_int(const PV& v, const std::string& where, const std::string& key, int64_t lo,
                 int64_t hi = kMaxInt) {
  const std::string expected = lo == 0 && hi == kMaxInt ? std::string("a non-negative integer")
                               : lo == 1 && hi == kMaxInt
                                   ? std::string("a positive integer")
                                   : str("an integer in [", lo, ", ", hi, "]");
  TT_CHECK(v.is_int() && v.to_int() >= lo && v.to_int() <= hi, where, "key '", key, "': expected ",
           expected, ", found ", found(v));
  return v.to_int();
}

const PV& read_dict(const PV& v, const std::string& where, const std::string& key) {
  TT_CHECK(v.is_dict(), where, "key '", key, "': expected a dict, found ", found(v));
  return v;
}

const PV& entry(const PV& dict, const char* name, const std::string& where,
                const std::string& key) {
  const PV* v = dict.find(name);
  TT_CHECK(v != nullptr, where, "key '", key, "': missing; the file is not a recipe state ",
           "torchtune_cpp wrote, or it was edited");
  return *v;
}

// The position in the epoch from torchdata's StatefulDataLoader state (see the header).
int64_t read_torchdata_position(const PV& d, const std::string& where) {
  auto at = [&](const char* name) -> const PV& {
    return entry(d, name, where, str("dataloader.", name));
  };
  const int64_t n = read_int(at("_num_yielded"), where, "dataloader._num_yielded", 0);
  const int64_t sampler_iter =
      read_int(at("_sampler_iter_yielded"), where, "dataloader._sampler_iter_yielded", 0);
  TT_CHECK(sampler_iter == n, where, "key 'dataloader._sampler_iter_yielded': ", sampler_iter,
           " batches drawn from the sampler but _num_yielded is ", n,
           "; with num_workers=0 they are equal, so the file is inconsistent");
  const PV& finished = at("_iterator_finished");
  TT_CHECK(finished.is_bool() && !finished.to_bool(), where,
           "key 'dataloader._iterator_finished': expected False (a position within the epoch ",
           "epochs_run), found ", found(finished));
  const PV& iter = read_dict(at("_sampler_iter_state"), where, "dataloader._sampler_iter_state");
  const int64_t samples = read_int(
      entry(iter, "samples_yielded", where, "dataloader._sampler_iter_state.samples_yielded"),
      where, "dataloader._sampler_iter_state.samples_yielded", 0);
  const PV& sampler =
      read_dict(entry(iter, "sampler_state", where, "dataloader._sampler_iter_state.sampler_state"),
                where, "dataloader._sampler_iter_state.sampler_state");
  const int64_t yielded = read_int(
      entry(sampler, "yielded", where, "dataloader._sampler_iter_state.sampler_state.yielded"),
      where, "dataloader._sampler_iter_state.sampler_state.yielded", 0);
  // n whole batches of one size: samples is a multiple of n, at least n (0 when n is 0).
  TT_CHECK(yielded == samples && (n == 0 ? samples == 0 : samples >= n && samples % n == 0), where,
           "key 'dataloader._sampler_iter_state': ", samples, " samples (sampler: ", yielded,
           ") do not make ", n, " whole batches; the file is inconsistent");
  return n;
}

// torchtune_cpp's earlier layout: {'epoch': epochs_run, 'batches_in_epoch': n}.
int64_t read_old_position(const PV& d, int64_t epochs_run, const std::string& where) {
  const int64_t epoch = read_int(d.at("epoch"), where, "dataloader.epoch", 0);
  TT_CHECK(epoch == epochs_run, where, "key 'dataloader.epoch': ", epoch,
           " disagrees with epochs_run ", epochs_run, "; the file is inconsistent");
  return read_int(d.at("batches_in_epoch"), where, "dataloader.batches_in_epoch", 0);
}

// The generator states the single-device recipe restores: byte tensors of the sizes this
// LibTorch's generators have.
void check_rng_state(const PV& rng, const std::string& where) {
  read_dict(rng, where, "rng_state");
  auto bytes = [&](const char* name, int64_t size) {
    const PV* v = rng.find(name);
    if (v == nullptr) return;
    const bool ok = v->is_tensor() && v->to_tensor().scalar_type() == at::kByte &&
                    v->to_tensor().dim() == 1 && v->to_tensor().numel() == size;
    TT_CHECK(ok, where, "key 'rng_state.", name, "': expected a torch.uint8 tensor of ", size,
             " bytes (a generator state), found ", found(*v));
  };
  bytes("cpu", at::detail::getDefaultCPUGenerator().get_state().numel());
  bytes("cuda", 16);  // CUDA's Philox generator: seed and offset, 8 bytes each
}

}  // namespace

void restore_recipe_state(RecipeState& state, const PV& st, const std::string& where) {
  TT_CHECK(st.is_dict(), where, "expected a dict of recipe state, found ", found(st),
           "; point checkpointer.recipe_checkpoint at a recipe_state.pt");
  for (const char* key : {"seed", "epochs_run", "total_epochs", "max_steps_per_epoch", "optimizer"})
    TT_CHECK(st.find(key) != nullptr, where, "has no '", key,
             "': Checkpoint does not contain the required keys needed for updating recipe state. "
             "Are you sure you passed in the right recipe checkpoint?");
  const int64_t seed = read_int(st.at("seed"), where, "seed", 0, kMaxSeed);
  const int64_t total = read_int(st.at("total_epochs"), where, "total_epochs", 1);
  state.epochs_run = read_int(st.at("epochs_run"), where, "epochs_run", 0, total);
  TT_CHECK(state.epochs_run < state.total_epochs, where, "key 'epochs_run': the checkpoint has ",
           "trained ", state.epochs_run,
           " epochs and the config asks for epochs=", state.total_epochs,
           ", so nothing is left to train; raise epochs");
  if (seed != state.seed) {
    std::cerr << "WARNING: Config value for seed does not match the checkpoint value, using the "
                 "checkpoint value: "
              << seed << "\n";
    state.seed = seed;
  }
  const PV& max_steps = st.at("max_steps_per_epoch");
  std::optional<int64_t> ckpt_max;
  if (!max_steps.is_none()) ckpt_max = read_int(max_steps, where, "max_steps_per_epoch", 1);
  if (ckpt_max != state.max_steps_per_epoch) {
    std::cerr << "WARNING: Config value for max_steps_per_epoch does not match the checkpoint "
                 "value, using the checkpoint value: "
              << (ckpt_max ? std::to_string(*ckpt_max) : "None") << "\n";
    state.max_steps_per_epoch = ckpt_max;
  }
  if (total != state.total_epochs)
    std::cerr << "WARNING: Config value for total_epochs does not match the checkpoint value, "
                 "using the config value: "
              << state.total_epochs << "\n";
  if (const PV* rng = st.find("rng_state")) check_rng_state(*rng, where);
  // What torchtune does not record, for an exact continuation (absent in its files, whose
  // dataloader state torchtune 0.6 does not restore: they resume at the epoch boundary).
  const PV* g = st.find("global_step");
  if (g == nullptr) return;
  state.global_step = read_int(*g, where, "global_step", 0);
  state.has_global_step = true;
  const PV* d = st.find("dataloader");
  TT_CHECK(d != nullptr, where, "key 'dataloader': missing; the file records global_step, so ",
           "it was written by torchtune_cpp with the position in the epoch, and was edited");
  read_dict(*d, where, "dataloader");
  if (d->find("epoch") != nullptr && d->find("batches_in_epoch") != nullptr)
    state.batches_in_epoch = read_old_position(*d, state.epochs_run, where);
  else
    state.batches_in_epoch = read_torchdata_position(*d, where);
}

void check_resume_position(const RecipeState& state, int64_t micro_batches, int64_t grad_accum,
                           const std::string& where) {
  // The recipes' last micro-batch: max_steps_per_epoch * grad_accum when that comes first
  // (compared by division, so that no max_steps_per_epoch overflows).
  int64_t end = micro_batches;
  if (state.max_steps_per_epoch && *state.max_steps_per_epoch <= micro_batches / grad_accum)
    end = *state.max_steps_per_epoch * grad_accum;
  TT_CHECK(state.batches_in_epoch <= end, where, "key 'dataloader': ", state.batches_in_epoch,
           " micro-batches of epoch ", state.epochs_run + 1,
           " are recorded as done, but this run's ", "epoch has ", end,
           "; resume with the dataset, batch_size and number of processes the ",
           "checkpoint was written with");
}

PV dataloader_state_dict(int64_t batches, int64_t batch_size) {
  const int64_t samples = batches * batch_size;
  return PV::dict(
      {{"_index_sampler_state", PV::none()},
       {"_sampler_iter_state", PV::dict({{"samples_yielded", samples},
                                         {"sampler_state", PV::dict({{"yielded", samples}})}})},
       {"_sampler_iter_yielded", batches},
       {"_num_yielded", batches},
       {"_IterableDataset_len_called", PV::none()},
       {"_shared_seed", PV::none()},
       {"fetcher_state", PV::none()},
       {"dataset_state", PV::none()},
       {"_iterator_finished", false}});
}

PV recipe_state_dict(const RecipeState& state, int64_t batch_size, PV optimizer, PV rng) {
  PV out = PV::dict({{"seed", state.seed},
                     {"epochs_run", state.epochs_run},
                     {"total_epochs", state.total_epochs},
                     {"max_steps_per_epoch",
                      state.max_steps_per_epoch ? PV(*state.max_steps_per_epoch) : PV::none()},
                     {"dataloader", dataloader_state_dict(state.batches_in_epoch, batch_size)},
                     {"optimizer", std::move(optimizer)},
                     {"global_step", state.global_step}});
  if (!rng.is_none()) out.set("rng_state", std::move(rng));
  return out;
}

}  // namespace tt::training
