// Stopping a run whose loss or gradient norm stops being a finite number.
//
// One NaN or Inf loss makes the next optimizer step write NaN into every weight it touches;
// from then on every logged loss is NaN and every checkpoint holds garbage. torchtune trains
// on regardless. The recipes here stop at once instead (stop_on_nonfinite_loss: True, the
// default; False keeps torchtune's behaviour), with the step and the last good checkpoint to
// resume from, and never write a checkpoint of non-finite weights.
//
// The check costs no host synchronization of its own: the loss of every optimizer step is
// folded into a device-side record of the first bad step, read where the recipe already
// waits for the device (log steps, saves); values already on the host (the gradient norm when
// clipping, the distributed recipe's summed loss) are checked as they arrive.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>
#include <vector>

namespace tt::training {

class NonfiniteGuard {
 public:
  NonfiniteGuard(bool enabled, at::Device device);

  bool enabled() const { return enabled_; }
  // Records an optimizer step's summed loss ([] on the device; no host sync).
  void observe_loss(const at::Tensor& loss, int64_t step);
  // Throws when a host value (the loss, the gradient norm) is not finite.
  void check_value(double value, const char* name, int64_t step) const;
  // Reads the record (one small device-to-host copy) and throws for the first bad step.
  void check();
  // Throws when any of `tensors` holds a NaN or Inf (the weights, before a save); one host
  // sync. `step` is the step after which they were found.
  void check_tensors(const std::vector<at::Tensor>& tensors, int64_t step) const;
  // The checkpoint a stopped run points to: the latest one saved or resumed from.
  void set_last_checkpoint(const std::string& folder) { last_checkpoint_ = folder; }
  // In a distributed run, every rank sees the same summed loss and stops at once; ranks
  // other than 0 say so in one short line, rank 0 in full.
  void set_rank(int64_t rank) { rank_ = rank; }

 private:
  [[noreturn]] void stop(const std::string& what, int64_t step) const;

  bool enabled_ = true;
  at::Tensor first_bad_step_;  // [] int64 on the device, -1 while every loss was finite
  std::optional<std::string> last_checkpoint_;
  int64_t rank_ = 0;
};

}  // namespace tt::training
