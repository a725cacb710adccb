// setup_torch_profiler's registration.
#include "torchtune_cpp/training/profiler.h"

#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/utils/check.h"

namespace tt {

void register_profiler() {
  using namespace config;
  std::vector<ArgSpec> args = {arg("enabled", ArgType::kBool, "True", ""),
                               arg("output_dir", ArgType::kString, "null", "")};
  for (const char* flag : {"cpu", "cuda", "xpu"}) args.push_back(arg(flag, ArgType::kBool, "True", ""));
  for (const char* flag : {"profile_memory", "with_stack", "record_shapes", "with_flops"})
    args.push_back(arg(flag, ArgType::kBool, "False", ""));
  for (const char* n : {"wait_steps", "warmup_steps", "active_steps", "num_cycles"})
    args.push_back(arg(n, ArgType::kInt, "null", ""));
  register_component<ProfilerPtr>(
      ComponentSpec{"torchtune.training.setup_torch_profiler", "profiler",
                    "torch profiler set-up (only enabled: False is supported)", {}, args},
      [](const Kwargs& kw) {
        TT_CHECK(!kw.get_bool("enabled"), kw.where("enabled"),
                 "profiling is not available in torchtune_cpp; set profiler.enabled=False (use "
                 "Nsight Systems, `nsys profile tune run ...`, to profile a run)");
        return std::make_shared<ProfilerSpec>(
            ProfilerSpec{false, kw.get_optional_string("output_dir").value_or("")});
      });
}

}  // namespace tt
