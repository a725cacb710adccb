// bench_fsdp_step: one full training step of full_finetune_distributed's inner loop on each
// of W processes (GPUs): forward and backward of a Llama2-shaped model fully sharded over the
// ranks (distributed/fully_shard.h), token-count scaling summed over ranks, fused AdamW on
// the shards; pure bf16, activation checkpointing and the chunked loss as in 7B_full /
// 13B_full. Random weights; synthetic data, every row a full pack of `--seq` tokens.
// Started like a recipe, by torchrun or `tune run --nproc_per_node` (one process: W = 1).
// Rank 0 prints the JSON line: tokens/s per GPU, the peak memory of the fullest GPU.
// Its baseline is benchmarks/baselines/fsdp2_llama_step.py (PyTorch FSDP2 on transformers'
// LlamaForCausalLM).
#include <ATen/ATen.h>

#include <iostream>
#include <memory>

#include "benchmarks/harness.h"
#include "torchtune_cpp/distributed/environment.h"
#include "torchtune_cpp/distributed/fully_shard.h"
#include "torchtune_cpp/distributed/process_group.h"
#include "torchtune_cpp/models/llama2/model_builders.h"
#include "torchtune_cpp/modules/loss.h"
#include "torchtune_cpp/modules/transformer.h"
#include "torchtune_cpp/training/optimizer.h"
#include "torchtune_cpp/utils/check.h"

#if defined(TT_WITH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace {

std::string usage() {
  return "usage: bench_fsdp_step [options]   (under torchrun / tune run for several GPUs)\n"
         "  --model 7b|13b|70b   Llama2 shape (default 7b); --layers L overrides the depth\n"
         "  --batch B --seq T    per GPU (default 4 x 4096)\n"
         "  --ac 0|1             activation checkpointing (default 1)\n"
         "  --reshard 0|1        fsdp_reshard_after_forward (default 1)\n"
         "  --cpu-offload 0|1    fsdp_cpu_offload (default 0)\n"
         "  --seed S             (default 0)\n" +
         tt::bench::common_usage();
}

int bench_main(int argc, char** argv) {
  tt::bench::Args args(argc, argv);
  if (args.help()) {
    std::cout << usage();
    return 0;
  }
  const std::string shape = args.get_string("--model", "7b");
  TT_CHECK(shape == "7b" || shape == "13b" || shape == "70b", "--model", "use 7b, 13b or 70b");
  tt::modules::DecoderArgs a = shape == "7b"    ? tt::llama2::llama2_7b_args()
                               : shape == "13b" ? tt::llama2::llama2_13b_args()
                                                : tt::llama2::llama2_70b_args();
  a.num_layers = args.get_int("--layers", a.num_layers);
  const int64_t batch = args.get_int("--batch", 4);
  const int64_t seq = args.get_int("--seq", 4096);
  a.max_seq_len = std::max<int64_t>(a.max_seq_len, seq);
  const bool ac = args.get_int("--ac", 1) != 0;
  tt::distributed::FullyShardOptions shard_options;
  shard_options.reshard_after_forward = args.get_int("--reshard", 1) != 0;
  shard_options.cpu_offload = args.get_int("--cpu-offload", 0) != 0;
  const int64_t seed = args.get_int("--seed", 0);
  tt::bench::BenchConfig config = tt::bench::parse_common_args(args, "fsdp_step");
  args.check_all_used();

  const tt::distributed::DistributedEnv env = tt::distributed::read_distributed_env();
  const at::Device device =
      config.device.is_cuda() ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(env.local_rank))
                              : at::Device(at::kCPU);
  config.device = device;
  auto pg = std::make_shared<tt::distributed::ProcessGroup>(
      env, device, tt::distributed::ProcessGroupOptions{std::chrono::minutes(5)});
  const int64_t world = pg->world_size();

  auto model = tt::modules::make_decoder(a, config.dtype);  // meta: never materialised whole
  const int64_t num_params = tt::modules::num_parameters(*model);
  tt::bench::Workload workload;
  workload.batch = batch;
  workload.seq_len = seq;
  workload.tokens_per_step = batch * seq;  // per GPU
  workload.flops_per_token = tt::bench::flops_per_token(
      num_params - a.vocab_size * a.embed_dim, a.num_layers, a.num_heads, a.head_dim(), seq);
  workload.extra_ints = {{"num_params", num_params},
                         {"world_size", world},
                         {"activation_checkpointing", ac},
                         {"reshard_after_forward", shard_options.reshard_after_forward},
                         {"cpu_offload", shard_options.cpu_offload}};
  workload.extra_strings = {{"model", "llama2_" + shape}};

  auto first_loss = std::make_shared<double>(NAN);
  tt::distributed::FullyShardedDecoderPtr sharded;
  tt::training::OptimizerPtr optimizer;
  auto setup = [&]() -> tt::bench::StepFn {
    sharded = tt::distributed::fully_shard(*model, pg, device, config.dtype, shard_options);
    sharded->init_parameters(tt::modules::normal_init(0.02, static_cast<uint64_t>(seed)));
    model->wrapper.checkpointed.assign(model->wrapper.num_layers, ac);
    tt::training::OptimizerOptions o;
    o.lr = 2e-5;
    o.fused = true;
    optimizer = std::make_shared<tt::training::Optimizer>(sharded->sharded_parameters(), o);
    at::manual_seed(static_cast<uint64_t>(seed + pg->rank()));
    at::Tensor tokens = at::randint(0, a.vocab_size, {batch, seq + 1}, at::kLong).to(device);
    at::Tensor input = tokens.slice(1, 0, seq), labels = tokens.slice(1, 1, seq + 1);  // [B, T]
    auto step = std::make_shared<int64_t>(0);
    return [&, input, labels, step]() {
      at::Tensor loss = tt::modules::chunked_cross_entropy(
          tt::modules::forward_chunked(*model, {input}, 8), labels);
      const double tokens_here = static_cast<double>(labels.numel());
      (loss * tokens_here).backward();
      sharded->finish_backward();
      const double tokens_all = pg->sum(tokens_here);
      {
        at::NoGradGuard no_grad;
        for (auto& [name, p] : sharded->sharded_parameters())
          p.mutable_grad().mul_(1.0 / tokens_all);
      }
      optimizer->step();
      optimizer->zero_grad();
      if ((*step)++ == 0) *first_loss = loss.item<double>();
    };
  };

  tt::bench::BenchResult result = tt::bench::run_benchmark(config, workload, setup);
  // Every rank measured its own steps (they advance together); report the fullest GPU.
  const int64_t peak = pg->max(result.peak_mem_bytes);
  const int64_t failed = pg->max(result.status == "ok" ? 0 : 1);
  if (pg->rank() == 0) {
    if (result.status == "ok") {
      result.peak_mem_bytes = peak;
      result.workload.extra_numbers["first_loss"] = *first_loss;
      if (failed) {
        result.status = "error";
        result.note = "another rank failed";
      }
    }
    tt::bench::emit(result);
  }
  pg->finish();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return tt::run_main("bench_fsdp_step", bench_main, argc, argv);
}
