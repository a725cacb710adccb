// Training dtype selection.
#include "torchtune_cpp/training/precision.h"

#include <ATen/Context.h>

#include "torchtune_cpp/utils/check.h"

#if defined(TT_WITH_CUDA)
#include <ATen/cuda/CUDAContext.h>
#endif

namespace tt::training {

at::ScalarType training_dtype(const std::optional<std::string>& dtype, at::Device device,
                              const std::string& where) {
  const std::string d = dtype.value_or("fp32");
  TT_CHECK(
      d != "fp16", where,
      "full fp16 training is not supported with this recipe. Please use bf16 or fp32 instead.");
  TT_CHECK(d == "fp32" || d == "bf16" || d == "fp64", where, "unknown dtype '", d,
           "'; use bf16 or fp32 (fp64 also works, for tests)");
  if (d == "fp32") return at::kFloat;
  if (d == "fp64") return at::kDouble;
#if defined(TT_WITH_CUDA)
  if (device.is_cuda()) {
    const auto* props = at::cuda::getDeviceProperties(device.index() < 0 ? 0 : device.index());
    TT_CHECK(props->major >= 8, where,
             "bf16 precision was requested but not available on this "
             "hardware (compute capability ",
             props->major, ".", props->minor, "). Please use fp32 precision instead.");
  }
#endif
  return at::kBFloat16;
}

}  // namespace tt::training
