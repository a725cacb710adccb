// The recipes' peak-memory metrics (torchtune's log_peak_memory_stats): active, allocated and
// reserved peaks of the CUDA caching allocator since the last call, in GiB.
#pragma once

#include <ATen/ATen.h>

#include "torchtune_cpp/training/metric_logging.h"

namespace tt::training {

// Appends peak_memory_{active,alloc,reserved} for a CUDA `device` and resets the peaks;
// nothing on other devices.
void append_peak_memory_stats(MetricValues& values, const at::Device& device);

}  // namespace tt::training
