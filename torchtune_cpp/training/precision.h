// Training precision from the config's `dtype`, as torchtune's training.get_dtype: fp32
// (also null) and bf16 train "pure" (parameters created in that dtype, no master copy);
// fp16 is refused with torchtune's message; bf16 needs hardware support on CUDA.
#pragma once

#include <ATen/ATen.h>

#include <optional>
#include <string>

namespace tt::training {

// `dtype`: "fp32", "bf16", "fp16", "fp64" or nullopt (fp32). `where` names the config key.
at::ScalarType training_dtype(const std::optional<std::string>& dtype, at::Device device,
                              const std::string& where = "dtype");

}  // namespace tt::training
