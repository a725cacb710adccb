// RMSNorm as torchtune v0.5+ computes it: statistics in fp32 through at::rms_norm on the
// fp32 input, multiplied by the (possibly bf16) scale in fp32, then cast back.
#pragma once

#include <ATen/ATen.h>

namespace tt::modules {

// x [..., D], scale [D] -> [..., D] in x's dtype.
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& scale, double eps);

}  // namespace tt::modules
