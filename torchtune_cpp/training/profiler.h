// The `profiler:` component, torchtune.training.setup_torch_profiler, with torchtune's
// arguments. Shipped configs carry it with `enabled: False`, which is honoured; enabling it
// is refused with a clear message until profiling is available here.
#pragma once

#include <memory>
#include <string>

namespace tt {

struct ProfilerSpec {
  bool enabled = false;
  std::string output_dir;
};

using ProfilerPtr = std::shared_ptr<ProfilerSpec>;

void register_profiler();

}  // namespace tt
