// Full fine-tuning, written once for one process and for many (recipes/full_finetune.cpp),
// and the seam between them: `Processes`, what differs between training in one process and
// in several that shard the model. On one process every operation of the seam is the
// identity (OneProcess); on several (ShardedProcesses, recipes/processes.cpp) it joins the
// process group, shards the model (distributed/fully_shard.h), sums across ranks and gathers
// for saves.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "torchtune_cpp/checkpointing/checkpointer.h"
#include "torchtune_cpp/config/config.h"
#include "torchtune_cpp/modules/transformer.h"
#include "torchtune_cpp/training/optimizer.h"
#include "torchtune_cpp/training/recipe_state.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::recipes {

// One optimizer step's totals over every process: the summed loss (a [] tensor: fp32 on the
// device on one process, fp64 on the host when summed over ranks), the number of target
// tokens, and whether any process was asked to stop (SIGTERM / SIGINT).
struct StepTotals {
  at::Tensor loss_sum;
  int64_t tokens = 0;
  bool stop = false;
  // The loss per token as logged, through fp32 as torchtune's tensors: the division happens
  // in the summed loss's own precision.
  double loss_per_token() const;
};

// Makes the recipe state to save from the optimizer's state in the layout to write.
using RecipeStateFn = std::function<PickleValue(PickleValue optimizer)>;

class Processes {
 public:
  virtual ~Processes() = default;

  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;
  bool is_rank_zero() const { return rank() == 0; }
  // This process's device, from the config's `device`.
  virtual at::Device device() const = 0;
  // Joins the other processes; a seed drawn at random (null `seed`) becomes rank 0's.
  virtual void start(training::RecipeState& state) = 0;
  // `body` on rank 0; every process returns once it finished, and an error on any stops all.
  virtual void on_rank_zero(const std::function<void()>& body, const std::string& what) = 0;
  // `body` on every process; an error on any stops all, each with one line.
  virtual void everywhere(const std::function<void()>& body, const std::string& what) = 0;
  // Whether the model is sharded over the processes (and checkpoints may be too).
  virtual bool sharded() const = 0;

  // ---- model and optimizer
  // Places the model's parameters on the device in `dtype`, from `full` (a state dict with
  // the model's keys; null when the weights come from a sharded checkpoint).
  virtual void setup_model(modules::TransformerDecoder& model, at::ScalarType dtype,
                           StateDict* full, const std::string& where) = 0;
  // What the optimizer steps: the model's parameters, or this rank's shards of them.
  virtual StateDict parameters() const = 0;
  // The optimizer state saved in a checkpoint (any of torchtune's layouts), in the
  // optimizer's own layout for parameters(). `from_shards`: the checkpointer resumes a
  // sharded checkpoint, which also holds the model's weights; they are read into the model
  // here.
  virtual PickleValue optimizer_state_to_load(const PickleValue& saved,
                                              const checkpointing::Checkpointer& checkpointer,
                                              bool from_shards, const std::string& where) = 0;

  // ---- one optimizer step
  // After the last backward of a step: gradients complete, and the totals over processes.
  virtual StepTotals finish_step(const at::Tensor& running_loss, int64_t tokens, bool stop) = 0;
  // Clips the gradients of parameters() to `max_norm` in total; returns the norm before.
  virtual double clip_grad_norm(training::Optimizer& optimizer, double max_norm) = 0;
  // Whether any process was asked to stop (a collective on several processes).
  virtual bool any_stop(bool stop) = 0;

  // ---- checkpoints (every process calls; rank 0 writes the folder)
  // Writes <output_dir>/<folder>/ through `checkpointer`: the weights and, when
  // `make_recipe_state` is given (an intermediate checkpoint), the recipe state with the
  // optimizer state in torchtune's layout for this recipe.
  virtual void save(checkpointing::Checkpointer& checkpointer, const std::string& folder,
                    const training::Optimizer& optimizer,
                    const RecipeStateFn* make_recipe_state) = 0;

  // Leaves the process group (after a successful run).
  virtual void finish() {}
  // A collective's failure (a dead peer) as one clear line, when `e` is one.
  virtual std::optional<Error> explain_failure(const std::exception& e) const {
    return std::nullopt;
  }
};

using ProcessesPtr = std::unique_ptr<Processes>;
using ProcessesFactory = std::function<ProcessesPtr(const config::Config&)>;

ProcessesPtr one_process(const config::Config& cfg);
ProcessesPtr sharded_processes(const config::Config& cfg);

// The whole program: arguments, config, start-up checks, then setup -> train -> cleanup; any
// error is printed as one line and gives exit status 1 (run_main, utils/check.h).
int run_full_finetune(const char* recipe, const ProcessesFactory& make_processes, int argc,
                      char** argv);

}  // namespace tt::recipes
