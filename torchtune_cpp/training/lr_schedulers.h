// torchtune's get_cosine_schedule_with_warmup: a LambdaLR whose multiplier rises linearly
// over the warm-up steps, then follows half a cosine (num_cycles 0.5) down to 0:
//   step < warmup:  step / max(1, warmup)
//   otherwise:      max(0, 0.5 * (1 + cos(pi * num_cycles * 2 * progress))),
//                   progress = (step - warmup) / max(1, total - warmup)
// `last_epoch` is LambdaLR's counter, so a resumed run continues exactly.
#pragma once

#include <cstdint>
#include <memory>

#include "torchtune_cpp/training/optimizer.h"

namespace tt::training {

double cosine_with_warmup_multiplier(int64_t step, int64_t num_warmup_steps,
                                     int64_t num_training_steps, double num_cycles = 0.5);

class CosineWithWarmup {
 public:
  // last_epoch -1 starts a run (setting the optimizer's lr for step 0), as LambdaLR does.
  CosineWithWarmup(OptimizerPtr optimizer, int64_t num_warmup_steps, int64_t num_training_steps,
                   double num_cycles = 0.5, int64_t last_epoch = -1);
  void step();  // advance one step and set the optimizer's lr
  double lr() const;
  int64_t last_epoch() const { return last_epoch_; }
  double base_lr() const { return base_lr_; }

 private:
  OptimizerPtr optimizer_;
  int64_t warmup_, total_;
  double cycles_;
  double base_lr_;
  int64_t last_epoch_;
};

using LRSchedulerPtr = std::shared_ptr<CosineWithWarmup>;

// Registers torchtune.training.lr_schedulers.get_cosine_schedule_with_warmup (positional:
// the optimizer; num_training_steps and last_epoch come from the recipe as keywords).
void register_lr_schedulers();

}  // namespace tt::training
