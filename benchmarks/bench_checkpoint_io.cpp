// Checkpoint load and save through FullModelHFCheckpointer, as the recipe does them:
//   load = load_checkpoint() (memory-mapped shards, HF -> torchtune conversion) +
//          materialize_from() into the training dtype on the target device
//   save = save_checkpoint() of the materialised weights (HF shards, streamed)
// Prints one JSON line: bytes read, seconds, GB/s for each, and peak resident memory
// (VmHWM) right after the load, with the bound model bytes + largest shard + 1 GiB.
// benchmarks/checkpoint_io.py makes the checkpoint and times `cat files > /dev/null` on the
// same files in the same run as the baseline.
//
//   bench_checkpoint_io --checkpoint-dir D --output-dir O [--device cpu|cuda] [--dtype bf16|fp32]
#include <ATen/ATen.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#if defined(TT_WITH_CUDA)
#include <c10/cuda/CUDAFunctions.h>
#endif

#include "torchtune_cpp/checkpointing/checkpointer.h"
#include "torchtune_cpp/models/llama2/model_builders.h"
#include "torchtune_cpp/modules/transformer.h"
#include "torchtune_cpp/training/precision.h"
#include "torchtune_cpp/utils/check.h"

namespace {

namespace fs = std::filesystem;

int64_t vm_hwm_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return -1;
}

void sync(const at::Device& d) {
#if defined(TT_WITH_CUDA)
  if (d.is_cuda()) c10::cuda::device_synchronize();
#endif
}

int bench_main(int argc, char** argv) {
  std::string dir, out, device = "cpu", dtype = "bf16";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--checkpoint-dir")
      dir = v;
    else if (k == "--output-dir")
      out = v;
    else if (k == "--device")
      device = v;
    else if (k == "--dtype")
      dtype = v;
    else
      TT_CHECK(false, k, "unknown option; use --checkpoint-dir, --output-dir, --device, --dtype");
  }
  TT_CHECK(!dir.empty() && !out.empty(), "arguments",
           "--checkpoint-dir and --output-dir are required");
  const at::Device dev(device);
  const at::ScalarType type = dtype == "bf16" ? at::kBFloat16 : at::kFloat;

  std::vector<std::string> files;
  int64_t file_bytes = 0, largest = 0;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".safetensors") {
      files.push_back(e.path().filename().string());
      file_bytes += static_cast<int64_t>(e.file_size());
      largest = std::max<int64_t>(largest, static_cast<int64_t>(e.file_size()));
    }
  std::sort(files.begin(), files.end());
  tt::checkpointing::CheckpointerOptions o;
  o.checkpoint_dir = dir;
  o.checkpoint_files.names = files;
  o.model_type = "LLAMA2";
  o.output_dir = out;
  tt::checkpointing::FullModelHFCheckpointer checkpointer(o);
  auto model = tt::modules::make_decoder(tt::llama2::llama2_7b_args(), type);
  const int64_t hwm_before = vm_hwm_bytes();

  auto t0 = std::chrono::steady_clock::now();
  tt::modules::materialize_from(*model, dev, type, std::move(checkpointer.load_checkpoint().model));
  sync(dev);
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t hwm_after_load = vm_hwm_bytes();
  int64_t model_bytes = 0;
  for (auto& [k, p] : tt::modules::named_parameters(*model))
    model_bytes += p.numel() * p.element_size();

  tt::StateDict weights;
  for (auto& [k, p] : tt::modules::named_parameters(*model)) weights.emplace_back(k, p.detach());
  t0 = std::chrono::steady_clock::now();
  checkpointer.save_checkpoint(weights, 0, false, nullptr);
  const double save_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  constexpr double kGiB = 1024.0 * 1024 * 1024;
  const int64_t bound = model_bytes + largest + static_cast<int64_t>(kGiB);
  // On the GPU the weights live in device memory; host residency is then only the staging.
  const int64_t host_model_bytes = dev.is_cpu() ? model_bytes : 0;
  nlohmann::ordered_json j;
  j["bench"] = "checkpoint_io";
  j["impl"] = "torchtune_cpp";
  j["device"] = device;
  j["dtype"] = dtype;
  j["files"] = files;
  j["file_bytes"] = file_bytes;
  j["largest_shard_bytes"] = largest;
  j["model_bytes"] = model_bytes;
  j["load_s"] = load_s;
  j["load_gb_per_s"] = file_bytes / load_s / 1e9;
  j["save_s"] = save_s;
  j["save_gb_per_s"] = model_bytes / save_s / 1e9;
  j["vm_hwm_before_load_bytes"] = hwm_before;
  j["vm_hwm_after_load_bytes"] = hwm_after_load;
  j["vm_hwm_bound_bytes"] = host_model_bytes + largest + static_cast<int64_t>(kGiB);
  j["vm_hwm_within_bound"] =
      hwm_after_load <= host_model_bytes + largest + static_cast<int64_t>(kGiB);
  (void)bound;
  std::cout << j.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return tt::run_main("bench_checkpoint_io", bench_main, argc, argv);
}
