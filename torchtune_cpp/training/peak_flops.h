// The peak FLOP/s that MFU (model FLOPs utilisation) is measured against: each GPU's own
// dense tensor-core peak from NVIDIA's datasheets (no sparsity), by the name CUDA reports.
//
//   GPU                      bf16 (TFLOP/s)   fp32 (TFLOP/s, no TF32: PyTorch's default)
//   A100 / A800 (SXM, PCIe)       312              19.5
//   H100 SXM / H800 SXM           989.4            66.9
//   H100 PCIe                     756.5            51.2
//   H100 NVL                      835.5            60
//   H200 (SXM)                    989.5            67
//   H200 NVL                      835.5            60
//   H20                           148              44
//   B200                          2250             75
//   L40S                          362.05           91.6
//   L40                           181.05           90.5
//   L4                            121              30.3
//   A40                           149.7            37.4
//   A10                           125              31.2
//   GeForce RTX 4090              165.2            82.6
// A device not listed has no peak: the recipe then logs no mfu and says so once.
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <optional>
#include <string>

namespace tt::training {

// The dense peak of the GPU named `device_name` ("NVIDIA H100 80GB HBM3") for training in
// `dtype` (bf16, or fp32), or nullopt when the device or dtype is not in the table.
std::optional<double> peak_flops(const std::string& device_name, c10::ScalarType dtype);

// The name CUDA reports for device `index` ("NVIDIA H200"); empty without CUDA.
std::string cuda_device_name(int64_t index);

}  // namespace tt::training
