// Peak memory of the CUDA caching allocator.
#include "torchtune_cpp/training/memory_stats.h"

#if defined(TT_WITH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace tt::training {

void append_peak_memory_stats(MetricValues& values, const at::Device& device) {
#if defined(TT_WITH_CUDA)
  if (!device.is_cuda()) return;
  const c10::DeviceIndex index = device.index() < 0 ? 0 : device.index();
  auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  values.emplace_back("peak_memory_active", stats.active_bytes[0].peak / kGiB);
  values.emplace_back("peak_memory_alloc", stats.allocated_bytes[0].peak / kGiB);
  values.emplace_back("peak_memory_reserved", stats.reserved_bytes[0].peak / kGiB);
  c10::cuda::CUDACachingAllocator::resetPeakStats(index);
#endif
}

}  // namespace tt::training
