// setup_torch_profiler over Kineto; see profiler.h.
#include "torchtune_cpp/training/profiler.h"

#include <ATen/Context.h>
#include <torch/csrc/autograd/profiler_kineto.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <set>

#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::training {

namespace {

namespace kineto = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;
using torch::profiler::impl::ProfilerConfig;
using torch::profiler::impl::ProfilerState;

std::set<ActivityType> activities(const ProfilerOptions& o) {
  std::set<ActivityType> a;
  if (o.cpu) a.insert(ActivityType::CPU);
  if (o.cuda && at::hasCUDA()) a.insert(ActivityType::CUDA);
  if (a.empty()) a.insert(ActivityType::CPU);
  return a;
}

ProfilerConfig config_of(const ProfilerOptions& o) {
  return ProfilerConfig(ProfilerState::KINETO, o.record_shapes, o.profile_memory, o.with_stack,
                        o.with_flops);
}

}  // namespace

Profiler::Profiler(ProfilerOptions options) : options_(std::move(options)) {
  if (!options_.enabled) return;
  TT_CHECK(
      options_.wait_steps >= 0 && options_.warmup_steps >= 0 && options_.active_steps > 0 &&
          options_.num_cycles >= 0,
      "profiler",
      "the schedule needs wait_steps >= 0, warmup_steps >= 0, active_steps > 0, num_cycles >= 0");
  if (options_.wait_steps == 0 && options_.warmup_steps == 0) start_recording();
}

Profiler::~Profiler() {
  try {
    stop();
  } catch (...) {
  }
}

void Profiler::start_recording() {
  // Kineto is prepared anew for every window, as torch's profiler does at each warm-up.
  kineto::prepareProfiler(config_of(options_), activities(options_));
  kineto::enableProfiler(config_of(options_), activities(options_));
  recording_ = true;
}

void Profiler::save() {
  std::unique_ptr<kineto::ProfilerResult> result = kineto::disableProfiler();
  recording_ = false;
  namespace fs = std::filesystem;
  const fs::path dir = fs::path(options_.output_dir) / ("iteration_" + std::to_string(step_));
  fs::create_directories(dir);
  std::time_t now = std::time(nullptr);
  char stamp[64];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d-%H-%M", std::localtime(&now));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  const std::string path =
      (dir / ("r0-" + std::string(stamp) + "." + std::to_string(ms) + ".pt.trace.json")).string();
  result->save(path);
  traces_.push_back(path);
  std::cerr << "INFO: Dumping traces at step " << step_ << " to " << path << "\n";
}

void Profiler::step() {
  if (!options_.enabled) return;
  ++step_;
  const int64_t cycle = options_.wait_steps + options_.warmup_steps + options_.active_steps;
  const int64_t pos = (step_ - 1) % cycle;     // the finished step's position in its cycle
  if (recording_ && pos == cycle - 1) save();  // the window's last step
  // What the next step is: recording starts at its window (torch's warm-up only primes the
  // profiler, which start_recording does).
  const int64_t next_cycle = step_ / cycle, next_pos = step_ % cycle;
  const bool cycles_left = options_.num_cycles == 0 || next_cycle < options_.num_cycles;
  if (!recording_ && cycles_left && next_pos == options_.wait_steps + options_.warmup_steps)
    start_recording();
}

void Profiler::stop() {
  if (recording_) save();
}

void register_profiler() {
  using namespace config;
  std::vector<ArgSpec> args = {
      arg("enabled", ArgType::kBool, "False", ""),
      arg("output_dir", ArgType::kString, "null", "where iteration_<N>/ traces go")};
  for (const char* flag : {"cpu", "cuda", "xpu"})
    args.push_back(arg(flag, ArgType::kBool, "True", ""));
  for (const char* flag : {"profile_memory", "with_stack", "with_flops"})
    args.push_back(arg(flag, ArgType::kBool, "False", ""));
  args.push_back(arg("record_shapes", ArgType::kBool, "True", ""));
  for (const char* n : {"wait_steps", "warmup_steps", "num_cycles"})
    args.push_back(arg(n, ArgType::kInt, "null", "", at_least(0)));
  args.push_back(arg("active_steps", ArgType::kInt, "null", "", at_least(1)));
  register_component<ProfilerPtr>(
      ComponentSpec{"torchtune.training.setup_torch_profiler",
                    "profiler",
                    "PyTorch's profiler (Kineto) on torchtune's schedule; Chrome traces per window",
                    {},
                    args},
      [](const Kwargs& kw) {
        ProfilerOptions o;
        o.enabled = kw.get_bool("enabled");
        if (auto dir = kw.get_optional_string("output_dir")) o.output_dir = *dir;
        o.cpu = kw.get_bool("cpu");
        o.cuda = kw.get_bool("cuda");
        o.profile_memory = kw.get_bool("profile_memory");
        o.with_stack = kw.get_bool("with_stack");
        o.record_shapes = kw.get_bool("record_shapes");
        o.with_flops = kw.get_bool("with_flops");
        // torchtune: no schedule key at all gives the default schedule; missing ones default.
        if (auto v = kw.get_optional_int("wait_steps")) o.wait_steps = *v;
        if (auto v = kw.get_optional_int("warmup_steps")) o.warmup_steps = *v;
        if (auto v = kw.get_optional_int("active_steps")) o.active_steps = *v;
        if (auto v = kw.get_optional_int("num_cycles")) o.num_cycles = *v;
        return std::make_shared<Profiler>(o);
      });
}

}  // namespace tt::training
