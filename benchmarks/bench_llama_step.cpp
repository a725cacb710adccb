// bench_llama_step: forward + backward of a Llama2-shaped model (random weights, no
// optimizer step), the work issue-level targets are stated on: Llama2-7B at 1x4096 with
// activation checkpointing and 4x2048 without, in bf16. Reports, beside the harness's
// tokens/s, MFU and peak memory, the activation memory (peak minus weights and gradients).
// Its baseline is benchmarks/baselines/hf_llama_step.py (transformers LlamaForCausalLM,
// eager with SDPA).
#include <ATen/ATen.h>

#include <iostream>
#include <memory>

#include "benchmarks/harness.h"
#include "torchtune_cpp/models/llama2/model_builders.h"
#include "torchtune_cpp/modules/loss.h"
#include "torchtune_cpp/modules/transformer.h"
#include "torchtune_cpp/utils/check.h"

namespace {

std::string usage() {
  return "usage: bench_llama_step [options]\n"
         "  --layers L      decoder layers (default 32: Llama2-7B)\n"
         "  --dim D --heads H --kv-heads K --hidden F --vocab V   (default Llama2-7B's)\n"
         "  --batch B --seq T   (default 1 x 4096)\n"
         "  --ac 0|1        activation checkpointing (default 1)\n"
         "  --loss chunked|fused|plain   torchtune's CEWithChunkedOutputLoss (8 chunks), our "
         "fused\n"
         "                  chunked loss, or full fp32 logits (default chunked)\n"
         "  --seed S        (default 0)\n" +
         tt::bench::common_usage();
}

int bench_main(int argc, char** argv) {
  tt::bench::Args args(argc, argv);
  if (args.help()) {
    std::cout << usage();
    return 0;
  }
  tt::modules::DecoderArgs a = tt::llama2::llama2_7b_args();
  a.num_layers = args.get_int("--layers", a.num_layers);
  a.embed_dim = args.get_int("--dim", a.embed_dim);
  a.num_heads = args.get_int("--heads", a.num_heads);
  a.num_kv_heads = args.get_int("--kv-heads", a.num_kv_heads);
  a.intermediate_dim = args.get_int("--hidden", a.intermediate_dim);
  a.vocab_size = args.get_int("--vocab", a.vocab_size);
  const int64_t batch = args.get_int("--batch", 1);
  const int64_t seq = args.get_int("--seq", 4096);
  a.max_seq_len = std::max<int64_t>(a.max_seq_len, seq);
  const bool ac = args.get_int("--ac", 1) != 0;
  const std::string loss_kind = args.get_string("--loss", "chunked");
  const int64_t seed = args.get_int("--seed", 0);
  tt::bench::BenchConfig config = tt::bench::parse_common_args(args, "llama_step");
  args.check_all_used();
  TT_CHECK(loss_kind == "chunked" || loss_kind == "fused" || loss_kind == "plain", "--loss",
           "use chunked, fused or plain");

  auto model = tt::modules::make_decoder(a, config.dtype);
  const int64_t num_params = tt::modules::num_parameters(*model);
  const int64_t weight_bytes = num_params * static_cast<int64_t>(c10::elementSize(config.dtype));
  tt::bench::Workload workload;
  workload.batch = batch;
  workload.seq_len = seq;
  workload.tokens_per_step = batch * seq;
  workload.flops_per_token = tt::bench::flops_per_token(
      num_params - a.vocab_size * a.embed_dim, a.num_layers, a.num_heads, a.head_dim(), seq);
  workload.extra_ints = {{"num_params", num_params},
                         {"layers", a.num_layers},
                         {"activation_checkpointing", ac},
                         {"weight_bytes", weight_bytes}};
  workload.extra_strings = {{"loss", loss_kind}};

  auto first_loss = std::make_shared<double>(NAN);
  auto setup = [&]() -> tt::bench::StepFn {
    tt::modules::materialize(*model, config.device, config.dtype, nullptr,
                             tt::modules::normal_init(0.02, static_cast<uint64_t>(seed)));
    model->wrapper.checkpointed.assign(model->wrapper.num_layers, ac);
    at::manual_seed(static_cast<uint64_t>(seed));
    at::Tensor tokens = at::randint(0, a.vocab_size, {batch, seq + 1}, at::kLong).to(config.device);
    at::Tensor input = tokens.slice(1, 0, seq), labels = tokens.slice(1, 1, seq + 1);  // [B, T]
    auto step = std::make_shared<int64_t>(0);
    return [model, input, labels, loss_kind, step, first_loss]() {
      for (auto& [key, p] : tt::modules::named_parameters(*model)) p.mutable_grad().reset();
      at::Tensor loss;
      if (loss_kind == "fused") {
        loss = tt::modules::fused_chunked_cross_entropy(tt::modules::hidden_states(*model, {input}),
                                                        model->output, labels, 8);
      } else if (loss_kind == "chunked") {
        loss = tt::modules::chunked_cross_entropy(tt::modules::forward_chunked(*model, {input}, 8),
                                                  labels);
      } else {
        loss = tt::modules::cross_entropy(tt::modules::forward(*model, {input}), labels);
      }
      loss.backward();
      if ((*step)++ == 0) *first_loss = loss.item<double>();
    };
  };

  tt::bench::BenchResult result = tt::bench::run_benchmark(config, workload, setup);
  if (result.status == "ok") {
    result.workload.extra_numbers["first_loss"] = *first_loss;
    // Gradients are as large as the weights; everything else at the peak is activations
    // (and the loss's temporaries).
    if (result.peak_mem_bytes > 0 && config.device.is_cuda())
      result.workload.extra_ints["activation_bytes"] = result.peak_mem_bytes - 2 * weight_bytes;
  }
  tt::bench::emit(result);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return tt::run_main("bench_llama_step", bench_main, argc, argv);
}
