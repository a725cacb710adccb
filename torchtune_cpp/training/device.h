// The training device a config names ("cpu", "cuda", "cuda:N"), checked against this
// machine before any work: a run asking for a GPU that is not there stops with a message
// naming `device` rather than deep inside LibTorch. No LibTorch types here, so the
// command line (`tune validate`) can ask too.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace tt::training {

// CUDA devices visible to this process: 0 when LibTorch was built without CUDA, or no
// driver or device is present.
int64_t visible_cuda_devices();

// Why `device` cannot be used on this machine, or nullopt when it can (cpu always can).
std::optional<std::string> device_unavailable(const std::string& device);

}  // namespace tt::training
