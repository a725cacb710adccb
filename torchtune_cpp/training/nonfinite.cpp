// The non-finite loss and gradient-norm stop; see nonfinite.h.
#include "torchtune_cpp/training/nonfinite.h"

#include <cmath>

#include "torchtune_cpp/utils/check.h"

namespace tt::training {

NonfiniteGuard::NonfiniteGuard(bool enabled, at::Device device) : enabled_(enabled) {
  if (enabled_)
    first_bad_step_ = at::full({}, -1, at::TensorOptions().dtype(at::kLong).device(device));
}

void NonfiniteGuard::observe_loss(const at::Tensor& loss, int64_t step) {
  if (!enabled_) return;
  // Device ops only: first_bad_step_ takes `step` when this loss is the first bad one.
  const at::Tensor first_bad =
      at::logical_and(at::logical_not(at::isfinite(loss.detach())), first_bad_step_ < 0);
  first_bad_step_ = at::where(first_bad, step, first_bad_step_);
}

void NonfiniteGuard::check_value(double value, const char* name, int64_t step) const {
  if (enabled_ && !std::isfinite(value)) stop(str("the ", name, " is ", value), step);
}

void NonfiniteGuard::check() {
  if (!enabled_) return;
  const int64_t step = first_bad_step_.item<int64_t>();
  if (step >= 0) stop("the loss is not finite (NaN or Inf)", step);
}

void NonfiniteGuard::check_tensors(const std::vector<at::Tensor>& tensors, int64_t step) const {
  if (!enabled_ || tensors.empty()) return;
  std::vector<at::Tensor> finite;
  finite.reserve(tensors.size());
  for (const at::Tensor& t : tensors)
    if (t.numel() > 0 && t.is_floating_point())
      finite.push_back(at::isfinite(t.detach()).all().reshape({1}));
  if (finite.empty()) return;
  if (!at::cat(finite).all().item<bool>())
    stop("the weights hold NaN or Inf values (a non-finite gradient reached the optimizer)", step);
}

void NonfiniteGuard::stop(const std::string& what, int64_t step) const {
  if (rank_ > 0)
    throw Error(str("rank ", rank_, ", step ", step),
                str("stopped: ", what, " (see rank 0's error)"));
  throw Error(
      str("step ", step),
      str(what,
          "; training stopped so that no checkpoint holds non-finite weights. Last good "
          "checkpoint: ",
          last_checkpoint_ ? *last_checkpoint_ + " (resume_from_checkpoint=True continues from it)"
                           : std::string("none yet"),
          ". Lower the learning rate or clip_grad_norm, or check the data at this step; "
          "stop_on_nonfinite_loss=False trains on regardless, as torchtune does"));
}

}  // namespace tt::training
