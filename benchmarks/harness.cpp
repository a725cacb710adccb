// Benchmark harness: timing, statistics, MFU, peak memory and JSON-line results
// (see harness.h; benchmarks/harness.py mirrors every formula here).
#include "benchmarks/harness.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>
#include <torch/headeronly/version.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "torchtune_cpp/core/pickle_value.h"
#include "torchtune_cpp/utils/check.h"

#if defined(TT_WITH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

namespace tt::bench {

namespace {

constexpr const char* kPeakFlopsEnv = "TTCPP_BENCH_PEAK_FLOPS";

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && std::string(v) != "" && std::string(v) != "0";
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// LibTorch's CPU allocator reports exhaustion as a plain c10::Error with this text, not as
// c10::OutOfMemoryError; it is the same outcome, so it is reported the same way.
constexpr const char* kCpuOomMessage = "DefaultCPUAllocator: can't allocate memory";

// Frees what a failed configuration left cached, so a later configuration in the same
// process starts from a clean allocator.
void release_cached_memory(const c10::Device& device) {
#if defined(TT_WITH_CUDA)
  if (device.is_cuda()) c10::cuda::CUDACachingAllocator::emptyCache();
#endif
}

}  // namespace

bool smoke_requested() {
  return env_flag(kSmokeEnv);
}

void validate_config(BenchConfig& config) {
  config.smoke = smoke_requested();
  TT_CHECK(config.warmup_steps >= 0, "--warmup", "must be >= 0, got ", config.warmup_steps);
  if (config.smoke) {
    TT_CHECK(config.measured_steps >= 1, "--steps", "must be >= 1, got ", config.measured_steps);
  } else {
    TT_CHECK(config.measured_steps >= kMinMeasuredSteps, "--steps",
             "must be >= ", kMinMeasuredSteps, " for a comparable median, got ",
             config.measured_steps, "; set ", kSmokeEnv, "=1 for a smoke run with fewer steps");
  }
  TT_CHECK(config.peak_flops > 0, "--peak-flops", "must be > 0, got ", config.peak_flops);
}

double percentile(std::vector<double> values, double q) {
  TT_CHECK(!values.empty(), "percentile", "no values");
  std::sort(values.begin(), values.end());
  // numpy's "linear" method: position q/100 * (n - 1) between the two nearest ranks.
  const double pos = q / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}

StepStats summarize(const std::vector<double>& step_seconds) {
  StepStats stats;
  stats.steps = static_cast<int>(step_seconds.size());
  stats.median_s = percentile(step_seconds, 50.0);
  stats.p10_s = percentile(step_seconds, 10.0);
  stats.p90_s = percentile(step_seconds, 90.0);
  return stats;
}

double flops_per_token(int64_t num_params_excluding_input_embedding, int64_t num_layers,
                       int64_t num_heads, int64_t head_dim, int64_t seq_len) {
  return 6.0 * static_cast<double>(num_params_excluding_input_embedding) +
         12.0 * static_cast<double>(num_layers) * static_cast<double>(num_heads) *
             static_cast<double>(head_dim) * static_cast<double>(seq_len);
}

double tokens_per_second(int64_t tokens_per_step, double median_step_s) {
  return median_step_s > 0 ? static_cast<double>(tokens_per_step) / median_step_s : 0.0;
}

double mfu(double tokens_per_s, double flops_per_token, double peak_flops) {
  return peak_flops > 0 ? tokens_per_s * flops_per_token / peak_flops : 0.0;
}

void synchronize(const c10::Device& device) {
#if defined(TT_WITH_CUDA)
  if (device.is_cuda()) {
    // device_synchronize waits on the current device: make that the benchmarked one.
    c10::cuda::CUDAGuard guard(device);
    c10::cuda::device_synchronize();
    return;
  }
#endif
  TT_CHECK(!device.is_cuda(), "synchronize", "this build has no CUDA");
}

void StepTimer::start() {
  synchronize(device_);
  begin_ = std::chrono::steady_clock::now();
}

double StepTimer::stop() {
  synchronize(device_);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - begin_).count();
}

void reset_peak_memory(const c10::Device& device) {
#if defined(TT_WITH_CUDA)
  if (device.is_cuda()) {
    // The caching allocator sizes its per-device tables on CUDA's lazy initialisation; its
    // stats calls fail ("Invalid device argument") before that, e.g. ahead of the first
    // allocation. Python's torch.cuda.reset_peak_memory_stats initialises implicitly.
    at::globalContext().lazyInitDevice(c10::kCUDA);
    c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
  }
#endif
  // CPU: VmHWM is the process's lifetime peak; nothing to reset (see harness.h).
}

int64_t peak_memory_bytes(const c10::Device& device) {
#if defined(TT_WITH_CUDA)
  if (device.is_cuda()) {
    at::globalContext().lazyInitDevice(c10::kCUDA);  // see reset_peak_memory
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
    return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)]
        .peak;
  }
#endif
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      int64_t kib = 0;
      fields >> kib;  // "VmHWM:    123456 kB"
      return kib * 1024;
    }
  }
  return -1;  // no procfs: not measured
}

std::string peak_memory_kind(const c10::Device& device) {
  return device.is_cuda() ? "cuda_allocated_peak" : "cpu_peak_rss";
}

BenchResult run_benchmark(const BenchConfig& config, const Workload& workload,
                          const SetupFn& setup) {
  BenchResult result;
  result.config = config;
  result.workload = workload;
  result.peak_mem_kind = peak_memory_kind(config.device);
  try {
    reset_peak_memory(config.device);
    StepFn step = setup();
    for (int i = 0; i < config.warmup_steps; ++i) step();
    synchronize(config.device);
    // Peak over the measured steps only (weights, optimizer state and activations of a
    // steady step), not the one-off allocations of setup and warm-up.
    reset_peak_memory(config.device);
    std::vector<double> times;
    times.reserve(static_cast<size_t>(config.measured_steps));
    StepTimer timer(config.device);
    for (int i = 0; i < config.measured_steps; ++i) {
      timer.start();
      step();
      times.push_back(timer.stop());
    }
    result.stats = summarize(times);
    result.tokens_per_s = tokens_per_second(workload.tokens_per_step, result.stats.median_s);
    result.mfu = mfu(result.tokens_per_s, workload.flops_per_token, config.peak_flops);
    result.peak_mem_bytes = peak_memory_bytes(config.device);
  } catch (const c10::OutOfMemoryError& e) {
    result.status = "oom";
    result.note = first_line(e.what());
    // The peak reached before failing still says how far it got.
    result.peak_mem_bytes = peak_memory_bytes(config.device);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    result.status = what.find(kCpuOomMessage) != std::string::npos ? "oom" : "error";
    result.note = first_line(what);
    if (result.status == "oom") result.peak_mem_bytes = peak_memory_bytes(config.device);
  }
  if (result.status != "ok") release_cached_memory(config.device);
  if (config.smoke) {
    result.note = result.note.empty() ? "smoke run" : result.note + "; smoke run";
  }
  return result;
}

std::string to_json_line(const BenchResult& r) {
  using nlohmann::json;
  const bool ok = r.status == "ok";
  auto or_null = [ok](double v) { return ok ? json(v) : json(nullptr); };
  json j;
  j["bench"] = r.config.bench;
  j["impl"] = r.config.impl;
  j["device"] = r.config.device.str();
  j["dtype"] = dtype_name(r.config.dtype);
  j["batch"] = r.workload.batch;
  j["seq_len"] = r.workload.seq_len;
  j["steps"] = ok ? r.stats.steps : 0;
  j["median_step_ms"] = or_null(r.stats.median_s * 1e3);
  j["p10_step_ms"] = or_null(r.stats.p10_s * 1e3);
  j["p90_step_ms"] = or_null(r.stats.p90_s * 1e3);
  j["tokens_per_s"] = or_null(r.tokens_per_s);
  j["mfu"] = or_null(r.mfu);
  j["peak_mem_bytes"] = r.peak_mem_bytes >= 0 ? json(r.peak_mem_bytes) : json(nullptr);
  j["peak_mem_kind"] = r.peak_mem_kind;
  j["smoke"] = r.config.smoke;
  j["status"] = r.status;
  j["note"] = r.note;
  // Context for reading the numbers later; compare.py ignores what it does not know.
  j["warmup_steps"] = r.config.warmup_steps;
  j["tokens_per_step"] = r.workload.tokens_per_step;
  j["flops_per_token"] = r.workload.flops_per_token;
  j["peak_flops"] = r.config.peak_flops;
  j["device_name"] = device_name(r.config.device);
  j["threads"] = at::get_num_threads();
  j["torch_version"] = TORCH_VERSION;
  for (const auto& [key, value] : r.workload.extra_ints) j[key] = value;
  for (const auto& [key, value] : r.workload.extra_numbers) j[key] = value;
  for (const auto& [key, value] : r.workload.extra_strings) j[key] = value;
  return j.dump();
}

void emit(const BenchResult& r) {
  std::cout << to_json_line(r) << std::endl;
  std::cerr << "[bench] " << r.config.bench << " " << r.config.impl << " " << r.config.device.str()
            << " " << dtype_name(r.config.dtype) << " batch " << r.workload.batch << " seq "
            << r.workload.seq_len << ": " << r.status;
  if (r.status == "ok") {
    std::cerr << ", median " << r.stats.median_s * 1e3 << " ms over " << r.stats.steps << " steps, "
              << r.tokens_per_s << " tokens/s, MFU " << r.mfu * 100 << "%";
  }
  if (!r.note.empty()) std::cerr << " (" << r.note << ")";
  std::cerr << "\n";
}

c10::ScalarType parse_dtype(const std::string& name) {
  if (name == "bf16" || name == "bfloat16") return c10::kBFloat16;
  if (name == "fp16" || name == "float16") return c10::kHalf;
  if (name == "fp32" || name == "float32") return c10::kFloat;
  TT_CHECK(false, "--dtype", "unknown dtype '", name, "'; use bf16, fp16 or fp32");
  return c10::kFloat;
}

std::string dtype_name(c10::ScalarType dtype) {
  return tt::python_dtype_name(dtype);
}

c10::Device parse_device(const std::string& name) {
  c10::Device device(c10::kCPU);
  try {
    device = c10::Device(name);
  } catch (const std::exception&) {
    TT_CHECK(false, "--device", "unknown device '", name, "'; use cpu, cuda or cuda:N");
  }
  TT_CHECK(device.is_cpu() || device.is_cuda(), "--device", "only cpu and cuda are supported");
  if (device.is_cuda()) {
#if defined(TT_WITH_CUDA)
    TT_CHECK(at::hasCUDA(), "--device", "CUDA requested but no CUDA device is visible");
    // Results name the device index, as the Python harness does.
    if (!device.has_index()) device = c10::Device(c10::kCUDA, c10::cuda::current_device());
    TT_CHECK(device.index() < c10::cuda::device_count(), "--device", "no device ", name);
#else
    TT_CHECK(false, "--device", "this build has no CUDA (configure with TT_WITH_CUDA)");
#endif
  }
  return device;
}

std::string device_name(const c10::Device& device) {
#if defined(TT_WITH_CUDA)
  if (device.is_cuda()) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, device.index()) == cudaSuccess) return prop.name;
    return "cuda";
  }
#endif
  return "cpu";
}

Args::Args(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      help_ = true;
      continue;
    }
    TT_CHECK(arg.rfind("--", 0) == 0 && arg.size() > 2, arg, "expected --key value");
    const auto eq = arg.find('=');
    if (eq != std::string::npos) {
      values_[arg.substr(0, eq)] = arg.substr(eq + 1);
    } else {
      TT_CHECK(i + 1 < argc, arg, "missing value");
      values_[arg] = argv[++i];
    }
  }
}

std::optional<std::string> Args::take(const std::string& key) {
  used_[key] = true;
  auto it = values_.find(key);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

bool Args::has(const std::string& key) const {
  return values_.count(key) > 0;
}

std::string Args::get_string(const std::string& key, const std::string& fallback) {
  return take(key).value_or(fallback);
}

int64_t Args::get_int(const std::string& key, int64_t fallback) {
  auto v = take(key);
  if (!v) return fallback;
  size_t used = 0;
  int64_t out = 0;
  try {
    out = std::stoll(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  TT_CHECK(used == v->size() && !v->empty(), key, "expected an integer, got '", *v, "'");
  return out;
}

double Args::get_double(const std::string& key, double fallback) {
  auto v = take(key);
  if (!v) return fallback;
  size_t used = 0;
  double out = 0;
  try {
    out = std::stod(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  TT_CHECK(used == v->size() && !v->empty(), key, "expected a number, got '", *v, "'");
  return out;
}

void Args::check_all_used() const {
  for (const auto& [key, value] : values_) {
    TT_CHECK(used_.count(key) > 0, key, "unknown option");
  }
}

BenchConfig parse_common_args(Args& args, const std::string& bench) {
  BenchConfig config;
  config.bench = bench;
  config.device = parse_device(args.get_string("--device", "cpu"));
  // bf16 is what training runs use on GPUs; CPUs default to fp32, where bf16 is emulated.
  const std::string dtype = args.get_string("--dtype", "auto");
  config.dtype = dtype == "auto" ? (config.device.is_cuda() ? c10::kBFloat16 : c10::kFloat)
                                 : parse_dtype(dtype);
  config.warmup_steps = static_cast<int>(args.get_int("--warmup", config.warmup_steps));
  config.measured_steps = static_cast<int>(args.get_int("--steps", config.measured_steps));
  double peak = config.peak_flops;
  if (const char* env = std::getenv(kPeakFlopsEnv); env != nullptr && *env != '\0') {
    try {
      peak = std::stod(env);
    } catch (const std::exception&) {
      TT_CHECK(false, kPeakFlopsEnv, "expected a number, got '", env, "'");
    }
  }
  config.peak_flops = args.get_double("--peak-flops", peak);
  validate_config(config);
  return config;
}

std::string common_usage() {
  return tt::str(
      "  --device cpu|cuda|cuda:N   where to run (default cpu)\n"
      "  --dtype auto|bf16|fp16|fp32  parameter/activation dtype (auto: bf16 on cuda, fp32 "
      "on cpu)\n"
      "  --warmup N                 untimed steps first (default 5)\n"
      "  --steps N                  measured steps, >= ",
      kMinMeasuredSteps, " unless ", kSmokeEnv,
      "=1 (default 20)\n"
      "  --peak-flops F             MFU denominator (default 989e12, H100 SXM dense bf16; "
      "also ",
      kPeakFlopsEnv, ")\n");
}

}  // namespace tt::bench
