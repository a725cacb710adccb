// SwiGLU MLP.
#include "torchtune_cpp/modules/feed_forward.h"

namespace tt::modules {

at::Tensor swiglu_mlp(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& w2,
                      const at::Tensor& w3) {
  return at::linear(at::silu(at::linear(x, w1)) * at::linear(x, w3), w2);
}

}  // namespace tt::modules
