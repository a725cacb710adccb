// torch.nn.utils.clip_grad_norm_ (L2), computed as PyTorch computes it: per-tensor norms
// (_foreach_norm on CUDA, vector_norm elsewhere), their norm, then every gradient scaled by
// min(1, max_norm / (total + 1e-6)).
#pragma once

#include <ATen/ATen.h>

#include "torchtune_cpp/core/state_dict.h"

namespace tt::training {

// Returns the total norm before clipping (a 0-dim tensor on the first gradient's device).
at::Tensor clip_grad_norm(const NamedParameters& params, double max_norm);

}  // namespace tt::training
