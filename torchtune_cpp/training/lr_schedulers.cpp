// The cosine-with-warmup schedule.
#include "torchtune_cpp/training/lr_schedulers.h"

#include <algorithm>
#include <cmath>

#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::training {

double cosine_with_warmup_multiplier(int64_t step, int64_t warmup, int64_t total, double cycles) {
  if (step < warmup)
    return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  double progress = static_cast<double>(step - warmup) /
                    static_cast<double>(std::max<int64_t>(1, total - warmup));
  double cosine_lr_multiple = 0.5 * (1.0 + std::cos(M_PI * cycles * 2.0 * progress));
  return std::max(0.0, cosine_lr_multiple);
}

CosineWithWarmup::CosineWithWarmup(OptimizerPtr optimizer, int64_t num_warmup_steps,
                                   int64_t num_training_steps, double num_cycles,
                                   int64_t last_epoch)
    : optimizer_(std::move(optimizer)),
      warmup_(num_warmup_steps),
      total_(num_training_steps),
      cycles_(num_cycles),
      base_lr_(0.0),
      last_epoch_(last_epoch) {
  TT_CHECK(num_warmup_steps >= 0, "lr_scheduler.num_warmup_steps", "must be >= 0");
  // As torch's LRScheduler: a new run records the optimizer's lr as initial_lr; a resumed one
  // (whose optimizer state was loaded) scales the recorded initial_lr.
  if (last_epoch == -1 || !optimizer_->options().initial_lr)
    optimizer_->set_initial_lr(optimizer_->lr());
  base_lr_ = *optimizer_->options().initial_lr;
  // LambdaLR's constructor performs one step: from -1 to 0 for a new run, or on to the
  // resumed position.
  step();
}

void CosineWithWarmup::step() {
  ++last_epoch_;
  optimizer_->set_lr(lr());
}

double CosineWithWarmup::lr() const {
  return base_lr_ * cosine_with_warmup_multiplier(last_epoch_, warmup_, total_, cycles_);
}

void register_lr_schedulers() {
  using namespace config;
  register_component<LRSchedulerPtr, OptimizerPtr>(
      ComponentSpec{
          "torchtune.training.lr_schedulers.get_cosine_schedule_with_warmup",
          "lr_scheduler",
          "linear warm-up, then half a cosine to 0",
          {"optimizer"},
          {arg("num_warmup_steps", ArgType::kInt, "linear warm-up steps", at_least(0)),
           recipe_arg("num_training_steps", ArgType::kInt, "passed by the recipe"),
           arg("num_cycles", ArgType::kFloat, "0.5", "", at_least(0)),
           arg("last_epoch", ArgType::kInt, "-1", "passed by the recipe on resume", at_least(-1))}},
      [](const Kwargs& kw, OptimizerPtr optimizer) {
        return std::make_shared<CosineWithWarmup>(
            std::move(optimizer), kw.get_int("num_warmup_steps"), kw.get_int("num_training_steps"),
            kw.get_double("num_cycles"), kw.get_int("last_epoch"));
      });
}

}  // namespace tt::training
