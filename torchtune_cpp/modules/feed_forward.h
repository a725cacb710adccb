// The SwiGLU MLP of a Llama decoder layer: w2(silu(w1 x) * w3 x), no biases.
#pragma once

#include <ATen/ATen.h>

namespace tt::modules {

// silu(gate) * up, elementwise: gate, up [..., F] -> [..., F] (fused on CUDA:
// fused_kernels.h).
at::Tensor swiglu(const at::Tensor& gate, const at::Tensor& up);

// x [B, T, D]; w1, w3 [F, D]; w2 [D, F] -> [B, T, D].
at::Tensor swiglu_mlp(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& w2,
                      const at::Tensor& w3);

}  // namespace tt::modules
