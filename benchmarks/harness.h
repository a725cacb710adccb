// Benchmark harness shared by every benchmark program: step timing with the right device
// synchronization, median/p10/p90 over >= 20 warm steps, tokens/s, MFU, peak memory, and one
// JSON line per measured configuration on stdout (benchmarks/compare.py reads those lines).
// benchmarks/harness.py holds the same logic for the Python baselines; keep the two in step.
#pragma once

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tt::bench {

// H100 SXM dense bf16 tensor-core peak; the MFU denominator unless overridden.
constexpr double kH100Bf16DensePeakFlops = 989e12;
// Fewer measured steps make the median too noisy to compare; only smoke runs go below.
constexpr int kMinMeasuredSteps = 20;
// Setting this environment variable to a non-empty value other than "0" allows fewer steps
// and marks every result as a smoke run.
constexpr const char* kSmokeEnv = "TTCPP_BENCH_SMOKE";

struct BenchConfig {
  std::string bench;  // benchmark name, e.g. "mlp_step"
  std::string impl = "torchtune_cpp";
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = c10::kFloat;
  int warmup_steps = 5;
  int measured_steps = 20;
  double peak_flops = kH100Bf16DensePeakFlops;
  bool smoke = false;  // set by validate_config from kSmokeEnv
};

// What one step processes and costs; filled by the benchmark program.
struct Workload {
  int64_t batch = 0;
  int64_t seq_len = 0;
  int64_t tokens_per_step = 0;   // usually batch * seq_len
  double flops_per_token = 0.0;  // see flops_per_token()
  // Benchmark-specific facts added to the JSON line, e.g. num_params, first_loss.
  std::map<std::string, int64_t> extra_ints;
  std::map<std::string, double> extra_numbers;
  std::map<std::string, std::string> extra_strings;
};

struct StepStats {
  int steps = 0;
  double median_s = 0.0;
  double p10_s = 0.0;
  double p90_s = 0.0;
};

struct BenchResult {
  BenchConfig config;
  Workload workload;
  std::string status = "ok";  // "ok" | "oom" | "error"
  std::string note;
  StepStats stats;  // empty unless status == "ok"
  double tokens_per_s = 0.0;
  double mfu = 0.0;
  int64_t peak_mem_bytes = -1;  // -1: not measured
  std::string peak_mem_kind;
};

// True when kSmokeEnv asks for a smoke run.
bool smoke_requested();

// Reads kSmokeEnv into config.smoke and throws tt::Error when measured_steps < 20 outside a
// smoke run (or < 1 in one), or when warmup_steps < 0.
void validate_config(BenchConfig& config);

// Linear-interpolated percentile (numpy's default), q in [0, 100]; `values` need not be sorted.
double percentile(std::vector<double> values, double q);
StepStats summarize(const std::vector<double>& step_seconds);

// Training FLOPs per token: 6*N for the matmuls of forward + backward, N = parameters
// excluding the input embedding (a lookup, no FLOPs), plus 12*L*H*Q*T for attention scores
// and values (H heads of dim Q over T tokens, no causal discount). Pass num_heads = 0 for
// models without attention.
double flops_per_token(int64_t num_params_excluding_input_embedding, int64_t num_layers,
                       int64_t num_heads, int64_t head_dim, int64_t seq_len);
double tokens_per_second(int64_t tokens_per_step, double median_step_s);
double mfu(double tokens_per_s, double flops_per_token, double peak_flops);

// Waits for all work queued on `device` (CUDA: every stream of that device); CPU: nothing,
// since ATen's CPU ops return when done.
void synchronize(const c10::Device& device);

// Times one step: start() and stop() both synchronize the device, so the interval holds the
// step's host work and all device work it queued, and nothing from before it.
class StepTimer {
 public:
  explicit StepTimer(c10::Device device) : device_(device) {}
  void start();
  double stop();  // seconds since start()

 private:
  c10::Device device_;
  std::chrono::steady_clock::time_point begin_;
};

// Peak memory. CUDA: the caching allocator's peak of allocated bytes (kind
// "cuda_allocated_peak"), reset by reset_peak_memory. CPU: the process's VmHWM from
// /proc/self/status (kind "cpu_peak_rss"), the resident-set high-water mark since the
// process started; not reset, so it includes the runtime itself.
void reset_peak_memory(const c10::Device& device);
int64_t peak_memory_bytes(const c10::Device& device);
std::string peak_memory_kind(const c10::Device& device);

// A step to time; built by a setup function so that allocations made while building the
// model also count as an out-of-memory result rather than a crash.
using StepFn = std::function<void()>;
using SetupFn = std::function<StepFn()>;

// Runs setup, warmup_steps untimed steps, then measured_steps timed ones, with the peak
// memory reset after warm-up. c10::OutOfMemoryError gives status "oom", any other exception
// status "error"; both are results, never crashes.
BenchResult run_benchmark(const BenchConfig& config, const Workload& workload,
                          const SetupFn& setup);

// The result as one line of JSON (no newline), the schema compare.py reads.
std::string to_json_line(const BenchResult& result);
// Prints to_json_line to stdout (flushed) and a readable summary to stderr.
void emit(const BenchResult& result);

// "bf16"/"bfloat16", "fp16"/"float16", "fp32"/"float32" to a ScalarType and back (the
// long names are what results carry).
c10::ScalarType parse_dtype(const std::string& name);
std::string dtype_name(c10::ScalarType dtype);
// "cpu", "cuda", "cuda:N"; checks that CUDA exists when asked for.
c10::Device parse_device(const std::string& name);
std::string device_name(const c10::Device& device);  // e.g. "NVIDIA H100 80GB HBM3"

// A small `--key value` / `--key=value` command-line reader for benchmark programs.
class Args {
 public:
  Args(int argc, char** argv);
  std::string get_string(const std::string& key, const std::string& fallback);
  int64_t get_int(const std::string& key, int64_t fallback);
  double get_double(const std::string& key, double fallback);
  bool has(const std::string& key) const;
  bool help() const { return help_; }
  // Throws tt::Error naming any option that no get_* call asked for (a typo would otherwise
  // silently benchmark the default).
  void check_all_used() const;

 private:
  std::optional<std::string> take(const std::string& key);
  std::map<std::string, std::string> values_;
  std::map<std::string, bool> used_;
  bool help_ = false;
};

// Reads the options every benchmark shares: --device, --dtype, --warmup, --steps,
// --peak-flops (also TTCPP_BENCH_PEAK_FLOPS), then validates.
BenchConfig parse_common_args(Args& args, const std::string& bench);
// Usage text for those options, for --help.
std::string common_usage();

}  // namespace tt::bench
