// Gradient-norm clipping.
#include "torchtune_cpp/training/clip_grad.h"

#include <ATen/core/grad_mode.h>

namespace tt::training {

at::Tensor clip_grad_norm(const NamedParameters& params, double max_norm) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (const auto& [name, p] : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return at::zeros({});
  std::vector<at::Tensor> norms;
  for (const at::Tensor& g : grads) {
    // torch groups by device; foreach kernels exist for CUDA, not for the CPU.
    norms.push_back(g.is_cuda() ? at::_foreach_norm({g}, 2)[0] : at::linalg_vector_norm(g, 2));
  }
  const at::Device first = grads[0].device();
  for (at::Tensor& n : norms) n = n.to(first);
  at::Tensor total = at::linalg_vector_norm(at::stack(norms), 2);
  at::Tensor coef = at::clamp(max_norm / (total + 1e-6), std::nullopt, 1.0);
  for (at::Tensor& g : grads) g.mul_(coef.to(g.device()));
  return total;
}

}  // namespace tt::training
