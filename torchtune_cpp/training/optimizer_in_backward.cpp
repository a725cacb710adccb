// Optimizer steps from post-accumulate-grad hooks.
#include "torchtune_cpp/training/optimizer_in_backward.h"

#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

namespace tt::training {

namespace {

struct StepHook : torch::autograd::PostAccumulateGradHook {
  StepHook(OptimizerInBackward* owner, size_t index) : owner(owner), index(index) {}
  void operator()(const torch::autograd::Variable& /*param*/) override {
    owner->on_gradient(index);
  }
  OptimizerInBackward* owner;
  size_t index;
};

}  // namespace

OptimizerInBackward::OptimizerInBackward(OptimizerPtr optimizer)
    : optimizer_(std::move(optimizer)) {
  for (size_t i = 0; i < optimizer_->params().size(); ++i)
    torch::autograd::impl::set_post_acc_grad_hooks(optimizer_->params()[i].second,
                                                   std::make_unique<StepHook>(this, i));
}

OptimizerInBackward::~OptimizerInBackward() {
  for (const auto& [name, p] : optimizer_->params())
    torch::autograd::impl::set_post_acc_grad_hooks(p, nullptr);
}

void OptimizerInBackward::on_gradient(size_t i) {
  at::Tensor p = optimizer_->params()[i].second;
  if (!p.grad().defined()) return;
  if (scale_ != 1.0) {
    at::NoGradGuard no_grad;
    p.mutable_grad().mul_(scale_);
  }
  optimizer_->step_params({i});
  p.mutable_grad().reset();
  ++updates_;
}

}  // namespace tt::training
