// MFU's denominator: the peak of the GPU the run is on, found from the names CUDA reports.
#include <gtest/gtest.h>

#include "torchtune_cpp/training/peak_flops.h"

namespace tt::training {
namespace {

TEST(PeakFlops, EachGpuByTheNameCudaReports) {
  struct Case {
    const char* name;
    double bf16_tflops;
  };
  for (const Case& c :
       {Case{"NVIDIA H100 80GB HBM3", 989.4}, Case{"NVIDIA H100 PCIe", 756.5},
        Case{"NVIDIA H100 NVL", 835.5}, Case{"NVIDIA H200", 989.5}, Case{"NVIDIA H200 NVL", 835.5},
        Case{"NVIDIA H20", 148}, Case{"NVIDIA A100-SXM4-80GB", 312},
        Case{"NVIDIA A100 80GB PCIe", 312}, Case{"NVIDIA B200", 2250}, Case{"NVIDIA L40S", 362.05},
        Case{"NVIDIA L40", 181.05}, Case{"NVIDIA L4", 121}, Case{"NVIDIA A10", 125},
        Case{"NVIDIA GeForce RTX 4090", 165.2}}) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(peak_flops(c.name, c10::kBFloat16).has_value());
    EXPECT_DOUBLE_EQ(*peak_flops(c.name, c10::kBFloat16), c.bf16_tflops * 1e12);
  }
  EXPECT_DOUBLE_EQ(*peak_flops("NVIDIA H100 80GB HBM3", c10::kFloat), 66.9e12);
}

TEST(PeakFlops, UnknownDevicesAndDtypesHaveNone) {
  for (const char* name : {"NVIDIA A10G", "NVIDIA GeForce RTX 3060", "Tesla V100-SXM2-16GB", ""})
    EXPECT_FALSE(peak_flops(name, c10::kBFloat16).has_value()) << name;
  EXPECT_FALSE(peak_flops("NVIDIA H100 80GB HBM3", c10::kHalf).has_value());
}

}  // namespace
}  // namespace tt::training
