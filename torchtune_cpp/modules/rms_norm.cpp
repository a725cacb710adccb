// RMSNorm.
#include "torchtune_cpp/modules/rms_norm.h"

namespace tt::modules {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& scale, double eps) {
  // The scale is promoted to fp32 explicitly (exact for bf16), as the composite
  // implementation torchtune reaches does implicitly; this keeps the fused kernel usable.
  return at::rms_norm(x.to(at::kFloat), {x.size(-1)}, scale.to(at::kFloat), eps)
      .to(x.scalar_type());
}

}  // namespace tt::modules
