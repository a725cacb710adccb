// recipe_state.pt as the recipes write and read it (training/recipe_state.h):
//   - the `dataloader` entry equals, value for value, the StatefulDataLoader state torchdata
//     wrote into Python torchtune 0.6.1's recipe_state.pt (tests/scripts/make_recipe_fixtures.py);
//   - what we write reads back (through a torch.save file) to the same position; the earlier
//     {'epoch', 'batches_in_epoch'} entry still reads; torchtune's own files restart at the
//     epoch boundary, as torchtune 0.6.1 does;
//   - a wrong type or an impossible value in any field read is an error naming the file and
//     the key path; a position beyond the run's epoch is one too.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <limits>

#include "test_util.h"
#include "torchtune_cpp/checkpointing/torch_save.h"
#include "torchtune_cpp/training/recipe_state.h"

namespace tt {
namespace {

using testing::expect_error;
using PV = PickleValue;

const std::string kTorchtuneState = std::string(TT_SOURCE_DIR) +
                                    "/tests/assets/golden/recipe/torchtune_output/recipe_state/"
                                    "recipe_state.pt";
const std::string kWhere = "/runs/out/step_6/recipe_state.pt";

training::RecipeState config_state(int64_t seed = 1234, int64_t total_epochs = 2) {
  training::RecipeState s;
  s.seed = seed;
  s.total_epochs = total_epochs;
  return s;
}

// What the recipes write at micro-batch 4 of epoch 1 (0-based), step 6, batch size 8.
PV saved_state() {
  training::RecipeState s = config_state();
  s.epochs_run = 1;
  s.global_step = 6;
  s.batches_in_epoch = 4;
  PV optimizer = PV::dict({{"state", PV::dict()}, {"param_groups", PV::list()}});
  return training::recipe_state_dict(s, 8, optimizer);
}

// The value at a dotted key path, for editing.
PV& at_path(PV& root, const std::string& path) {
  PV* node = &root;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string key =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    PV* next = nullptr;
    for (auto& [k, v] : node->dict_items())
      if (k.is_string() && k.to_string() == key) next = &v;
    EXPECT_NE(next, nullptr) << path;
    node = next;
    if (dot == std::string::npos) return *node;
    start = dot + 1;
  }
}

TEST(RecipeState, DataloaderEntryIsTorchdatasOwn) {
  // torchtune 0.6.1 saved it after 3 batches of 4 samples (hf.yaml: batch_size 4,
  // max_steps_per_epoch 3), with torchdata 0.11.
  const PV fixture = checkpointing::load_torch_file(kTorchtuneState);
  EXPECT_EQ(training::dataloader_state_dict(3, 4), fixture.at("dataloader"))
      << training::dataloader_state_dict(3, 4).repr() << "\n"
      << fixture.at("dataloader").repr();
}

TEST(RecipeState, WrittenStateReadsBack) {
  const PV saved = saved_state();
  std::vector<std::string> keys;
  for (const auto& [k, v] : saved.dict_items()) keys.push_back(k.to_string());
  EXPECT_EQ(keys,
            (std::vector<std::string>{"seed", "epochs_run", "total_epochs", "max_steps_per_epoch",
                                      "dataloader", "optimizer", "global_step"}));
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("tt_recipe_state_" + std::to_string(::getpid()) + ".pt"))
                               .string();
  checkpointing::save_torch_file(path, saved);
  const PV loaded = checkpointing::load_torch_file(path);
  std::filesystem::remove(path);
  training::RecipeState s = config_state();
  training::restore_recipe_state(s, loaded, path);
  EXPECT_EQ(s.epochs_run, 1);
  EXPECT_EQ(s.global_step, 6);
  EXPECT_TRUE(s.has_global_step);
  EXPECT_EQ(s.batches_in_epoch, 4);
  EXPECT_EQ(s.seed, 1234);
  EXPECT_FALSE(s.max_steps_per_epoch.has_value());
}

TEST(RecipeState, EarlierDataloaderEntryStillReads) {
  PV saved = saved_state();
  at_path(saved, "dataloader") =
      PV::dict({{"epoch", int64_t{1}}, {"batches_in_epoch", int64_t{5}}});
  training::RecipeState s = config_state();
  training::restore_recipe_state(s, saved, kWhere);
  EXPECT_EQ(s.batches_in_epoch, 5);
  at_path(saved, "dataloader.epoch") = PV(int64_t{0});
  expect_error(
      [&] {
        training::RecipeState t = config_state();
        training::restore_recipe_state(t, saved, kWhere);
      },
      {kWhere, "key 'dataloader.epoch': 0 disagrees with epochs_run 1"});
}

TEST(RecipeState, TorchtunesFilesRestartAtTheEpochBoundary) {
  // Its dataloader entry says 3 batches yielded (the epoch it finished, cut short by
  // max_steps_per_epoch); torchtune 0.6.1 does not restore it, and neither do we.
  training::RecipeState s = config_state();
  s.max_steps_per_epoch = 3;
  training::restore_recipe_state(s, checkpointing::load_torch_file(kTorchtuneState),
                                 kTorchtuneState);
  EXPECT_EQ(s.epochs_run, 1);
  EXPECT_EQ(s.batches_in_epoch, 0);
  EXPECT_FALSE(s.has_global_step);
}

TEST(RecipeState, EveryFieldReadIsCheckedAgainstFileAndKey) {
  struct Case {
    std::string key;
    PV value;
    std::string message;
  };
  const int64_t kBig = int64_t{1} << 40;
  const std::vector<Case> cases = {
      {"global_step", int64_t{-1},
       "key 'global_step': expected a non-negative integer, found int -1"},
      {"global_step", 6.0, "key 'global_step': expected a non-negative integer, found float 6.0"},
      {"epochs_run", int64_t{-1}, "key 'epochs_run': expected an integer in [0, 2], found int -1"},
      {"epochs_run", int64_t{3}, "key 'epochs_run': expected an integer in [0, 2], found int 3"},
      {"epochs_run", true, "key 'epochs_run': expected an integer in [0, 2], found bool True"},
      {"total_epochs", int64_t{0}, "key 'total_epochs': expected a positive integer, found int 0"},
      {"seed", kBig, "key 'seed': expected an integer in [0, 4294967295], found int 1099511627776"},
      {"seed", "1234", "key 'seed': expected an integer in [0, 4294967295], found str '1234'"},
      {"max_steps_per_epoch", int64_t{0}, "key 'max_steps_per_epoch': expected a positive integer"},
      {"dataloader", PV::list(), "key 'dataloader': expected a dict, found list"},
      {"dataloader._num_yielded", "4",
       "key 'dataloader._num_yielded': expected a non-negative integer, found str"},
      {"dataloader._num_yielded", int64_t{-4},
       "key 'dataloader._num_yielded': expected a non-negative integer"},
      {"dataloader._num_yielded", int64_t{5},
       "key 'dataloader._sampler_iter_yielded': 4 batches drawn"},
      {"dataloader._sampler_iter_yielded", PV::none(),
       "key 'dataloader._sampler_iter_yielded': expected a "
       "non-negative integer, found None"},
      {"dataloader._iterator_finished", true,
       "key 'dataloader._iterator_finished': expected False"},
      {"dataloader._sampler_iter_state", PV::none(),
       "key 'dataloader._sampler_iter_state': expected a dict"},
      {"dataloader._sampler_iter_state.samples_yielded", int64_t{31},
       "key 'dataloader._sampler_iter_state': 31 samples (sampler: 32) do not make 4 whole "
       "batches"},
      {"dataloader._sampler_iter_state.sampler_state.yielded", 32.0,
       "key 'dataloader._sampler_iter_state.sampler_state.yielded': expected a non-negative "
       "integer, found "
       "float"},
      {"rng_state", PV::dict({{"cpu", at::zeros({7}, at::kByte)}}),
       "key 'rng_state.cpu': expected a torch.uint8 tensor of"},
      {"rng_state", PV::dict({{"cuda", at::zeros({16}, at::kFloat)}}),
       "key 'rng_state.cuda': expected a torch.uint8 tensor of 16 bytes (a generator state), found "
       "Tensor"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key);
    PV saved = saved_state();
    if (c.key == "rng_state")
      saved.set("rng_state", c.value);
    else
      at_path(saved, c.key) = c.value;
    expect_error(
        [&] {
          training::RecipeState s = config_state();
          training::restore_recipe_state(s, saved, kWhere);
        },
        {kWhere + ": " + c.message});
  }
  // A missing entry of the torchdata layout is named too.
  PV saved = saved_state();
  auto& items = at_path(saved, "dataloader").dict_items();
  items.erase(items.begin() + 3);  // _num_yielded
  expect_error(
      [&] {
        training::RecipeState s = config_state();
        training::restore_recipe_state(s, saved, kWhere);
      },
      {kWhere, "key 'dataloader._num_yielded': missing"});
  // Our files record global_step and the position together.
  saved = saved_state();
  saved.dict_items().erase(saved.dict_items().begin() + 4);  // dataloader
  expect_error(
      [&] {
        training::RecipeState s = config_state();
        training::restore_recipe_state(s, saved, kWhere);
      },
      {kWhere, "key 'dataloader': missing"});
  // Nothing left to train: the config's epochs (which win, as in torchtune) are all done.
  expect_error(
      [&] {
        training::RecipeState s = config_state(1234, 1);
        training::restore_recipe_state(s, saved_state(), kWhere);
      },
      {kWhere,
       "key 'epochs_run': the checkpoint has trained 1 epochs and the config asks for epochs=1"});
  expect_error(
      [&] {
        training::RecipeState s = config_state();
        training::restore_recipe_state(s, PV::list(), kWhere);
      },
      {kWhere, "expected a dict of recipe state, found list"});
}

TEST(RecipeState, PositionBeyondTheEpochIsRefused) {
  training::RecipeState s = config_state();
  training::restore_recipe_state(s, saved_state(), kWhere);  // micro-batch 4 of epoch 1
  training::check_resume_position(s, 8, 1, kWhere);
  training::check_resume_position(s, 4, 1,
                                  kWhere);  // at the end: the epoch's checkpoint comes next
  expect_error([&] { training::check_resume_position(s, 3, 1, kWhere); },
               {kWhere,
                "key 'dataloader': 4 micro-batches of epoch 2 are recorded as done, but this run's "
                "epoch has 3"});
  s.max_steps_per_epoch =
      1;  // max_steps_per_epoch * gradient_accumulation_steps ends the epoch first
  training::check_resume_position(s, 8, 4, kWhere);
  expect_error([&] { training::check_resume_position(s, 8, 2, kWhere); },
               {kWhere, "this run's epoch has 2"});
  s.max_steps_per_epoch = std::numeric_limits<int64_t>::max();
  training::check_resume_position(s, 8, 4, kWhere);
  expect_error([&] { training::check_resume_position(s, 3, 4, kWhere); },
               {kWhere, "this run's epoch has 3"});
}

}  // namespace
}  // namespace tt
