// The `profiler:` component, torchtune.training.setup_torch_profiler, with torchtune's
// arguments and behaviour, on PyTorch's own profiler (Kineto):
//   - enabled: False (the shipped configs) profiles nothing;
//   - otherwise steps follow torch.profiler.schedule: wait_steps, warmup_steps, active_steps,
//     repeated num_cycles times (torchtune's defaults 5 / 5 / 2 / 1 when none is given), the
//     recipe calling step() after each micro-batch as torchtune's single-device recipe does;
//   - each active window's trace is written as <output_dir>/iteration_<N>/r0-<time>.pt.trace.json,
//     a Chrome/Perfetto trace (chrome://tracing, ui.perfetto.dev, TensorBoard's profiler);
//   - activities: cpu, cuda (when available); record_shapes, profile_memory, with_stack,
//     with_flops as torch's.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace tt::training {

struct ProfilerOptions {
  bool enabled = false;
  std::string output_dir = "profiler_output";
  bool cpu = true, cuda = true;
  bool profile_memory = false, with_stack = false, record_shapes = true, with_flops = false;
  int64_t wait_steps = 5, warmup_steps = 5, active_steps = 2, num_cycles = 1;
};

class Profiler {
 public:
  explicit Profiler(ProfilerOptions options);
  ~Profiler();
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  bool enabled() const { return options_.enabled; }
  // One step done: moves through the schedule, writing a trace at the end of a window.
  void step();
  // End of training: a window still recording is written, as torch's profiler does on exit.
  void stop();
  // Traces written so far.
  const std::vector<std::string>& traces() const { return traces_; }

 private:
  void start_recording();
  void save();
  ProfilerOptions options_;
  int64_t step_ = 0;
  bool recording_ = false;
  std::vector<std::string> traces_;
};

using ProfilerPtr = std::shared_ptr<Profiler>;

void register_profiler();

}  // namespace tt::training
