// Training-device availability.
#include "torchtune_cpp/training/device.h"

#include <ATen/ATen.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include "torchtune_cpp/utils/check.h"

namespace tt::training {

int64_t visible_cuda_devices() {
  return at::globalContext().hasCUDA()
             ? static_cast<int64_t>(at::detail::getCUDAHooks().deviceCount())
             : 0;
}

std::optional<std::string> device_unavailable(const std::string& device) {
  if (device.rfind("cuda", 0) != 0) return std::nullopt;
  const int64_t count = visible_cuda_devices();
  if (count == 0)
    return str("'", device,
               "' was asked for, but no CUDA device is visible to this process (no GPU, no ",
               "driver, CUDA_VISIBLE_DEVICES empty, or a LibTorch without CUDA); use device=cpu or "
               "run on a ",
               "machine with a GPU");
  const std::string digits =
      device.size() > 5 && device[4] == ':' ? device.substr(5) : std::string();
  if (!digits.empty() && digits.size() < 10 &&
      digits.find_first_not_of("0123456789") == std::string::npos) {
    const int64_t index = std::stoll(digits);
    if (index >= count)
      return str("'", device, "' was asked for, but this process sees ", count,
                 " CUDA device(s) (cuda:0", count > 1 ? str(" to cuda:", count - 1) : std::string(),
                 "); choose one of those");
  }
  return std::nullopt;
}

}  // namespace tt::training
