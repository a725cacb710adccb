// Peak FLOP/s per GPU, matched on the words of the CUDA device name.
#include "torchtune_cpp/training/peak_flops.h"

#include <ATen/ATen.h>
#if defined(TT_WITH_CUDA)
#include <ATen/cuda/CUDAContext.h>
#endif

#include <algorithm>
#include <sstream>
#include <vector>

#include "torchtune_cpp/training/device.h"

namespace tt::training {

namespace {

struct GpuPeak {
  // Every word must be in the name, and none of `unless` (so "H100" does not take "H100
  // PCIe"): the first entry that matches wins.
  std::vector<std::string> words;
  std::vector<std::string> unless;
  double bf16_tflops;
  double fp32_tflops;
};

const std::vector<GpuPeak>& peaks() {
  static const std::vector<GpuPeak> table = {
      {{"H100", "PCIe"}, {}, 756.5, 51.2},
      {{"H100", "NVL"}, {}, 835.5, 60},
      {{"H100"}, {}, 989.4, 66.9},
      {{"H800"}, {"PCIe"}, 989.4, 66.9},
      {{"H200", "NVL"}, {}, 835.5, 60},
      {{"H200"}, {}, 989.5, 67},
      {{"H20"}, {}, 148, 44},
      {{"A100"}, {}, 312, 19.5},
      {{"A800"}, {}, 312, 19.5},
      {{"B200"}, {}, 2250, 75},
      {{"L40S"}, {}, 362.05, 91.6},
      {{"L40"}, {}, 181.05, 90.5},
      {{"L4"}, {}, 121, 30.3},
      {{"A40"}, {}, 149.7, 37.4},
      {{"A10"}, {}, 125, 31.2},
      {{"RTX", "4090"}, {}, 165.2, 82.6},
  };
  return table;
}

// "NVIDIA A100-SXM4-80GB" -> {"NVIDIA", "A100", "SXM4", "80GB"}: whole words only, so "H20"
// never matches "H200", nor "L4" "L40S".
std::vector<std::string> words_of(const std::string& name) {
  std::string spaced = name;
  std::replace(spaced.begin(), spaced.end(), '-', ' ');
  std::istringstream in(spaced);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

std::optional<double> peak_flops(const std::string& device_name, c10::ScalarType dtype) {
  if (dtype != c10::kBFloat16 && dtype != c10::kFloat) return std::nullopt;
  const std::vector<std::string> words = words_of(device_name);
  auto has = [&](const std::string& w) {
    return std::find(words.begin(), words.end(), w) != words.end();
  };
  for (const GpuPeak& p : peaks()) {
    if (!std::all_of(p.words.begin(), p.words.end(), has)) continue;
    if (std::any_of(p.unless.begin(), p.unless.end(), has)) continue;
    return (dtype == c10::kBFloat16 ? p.bf16_tflops : p.fp32_tflops) * 1e12;
  }
  return std::nullopt;
}

std::string cuda_device_name(int64_t index) {
#if defined(TT_WITH_CUDA)
  if (index < visible_cuda_devices()) return at::cuda::getDeviceProperties(index)->name;
#endif
  return {};
}

}  // namespace tt::training
