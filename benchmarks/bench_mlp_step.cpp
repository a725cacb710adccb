// bench_mlp_step: one training step (forward, backward, SGD update) of a stack of
// Llama-style SwiGLU MLP blocks, x + w2(silu(w1(rms_norm(x))) * w3(rms_norm(x))), in plain
// ATen ops. Its twin in PyTorch eager is benchmarks/baselines/mlp_step.py: same shapes,
// same seeded weights (hence the same first loss), same JSON result line.
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <initializer_list>
#include <iostream>
#include <memory>
#include <utility>
#include <vector>

#include "benchmarks/harness.h"
#include "torchtune_cpp/utils/check.h"

namespace {

constexpr double kRmsNormEps = 1e-5;  // Llama2's norm_eps

struct MlpLayer {
  at::Tensor norm;  // [D]
  at::Tensor w1;    // [H, D] gate projection
  at::Tensor w3;    // [H, D] up projection
  at::Tensor w2;    // [D, H] down projection
};

// Weights are drawn in fp32 on the CPU generator, layer by layer (w1, w3, w2), then the
// input: the same order as the Python baseline, so both start from identical numbers.
std::vector<MlpLayer> make_layers(int64_t dim, int64_t hidden, int64_t layers,
                                  const at::TensorOptions& options) {
  std::vector<MlpLayer> out;
  const double in_scale = 1.0 / std::sqrt(static_cast<double>(dim));
  const double hidden_scale = 1.0 / std::sqrt(static_cast<double>(hidden));
  for (int64_t i = 0; i < layers; ++i) {
    MlpLayer layer;
    layer.norm = at::ones({dim});
    layer.w1 = at::randn({hidden, dim}) * in_scale;
    layer.w3 = at::randn({hidden, dim}) * in_scale;
    layer.w2 = at::randn({dim, hidden}) * hidden_scale;
    for (at::Tensor* p : {&layer.norm, &layer.w1, &layer.w3, &layer.w2}) {
      *p = p->to(options).set_requires_grad(true);
    }
    out.push_back(std::move(layer));
  }
  return out;
}

std::string usage() {
  return "usage: bench_mlp_step [options]\n"
         "  --dim D        model dim (default 4096)\n"
         "  --hidden H     SwiGLU hidden dim (default 11008)\n"
         "  --layers L     MLP blocks (default 4)\n"
         "  --batch B      sequences per step (default 2)\n"
         "  --seq T        tokens per sequence (default 2048)\n"
         "  --seed S       weight/input seed (default 0)\n"
         "  --lr LR        SGD learning rate (default 1e-3)\n" +
         tt::bench::common_usage();
}

int bench_main(int argc, char** argv) {
  tt::bench::Args args(argc, argv);
  if (args.help()) {
    std::cout << usage();
    return 0;
  }
  const int64_t dim = args.get_int("--dim", 4096);
  const int64_t hidden = args.get_int("--hidden", 11008);
  const int64_t layers = args.get_int("--layers", 4);
  const int64_t batch = args.get_int("--batch", 2);
  const int64_t seq = args.get_int("--seq", 2048);
  const int64_t seed = args.get_int("--seed", 0);
  const double lr = args.get_double("--lr", 1e-3);
  tt::bench::BenchConfig config = tt::bench::parse_common_args(args, "mlp_step");
  args.check_all_used();
  const std::initializer_list<std::pair<const char*, int64_t>> sizes = {{"--dim", dim},
                                                                        {"--hidden", hidden},
                                                                        {"--layers", layers},
                                                                        {"--batch", batch},
                                                                        {"--seq", seq}};
  for (const auto& [key, value] : sizes) {
    TT_CHECK(value > 0, key, "must be > 0, got ", value);
  }

  // Parameters excluding the input embedding (there is none here): per layer the three
  // projections, 3*D*H, plus the RMSNorm scale, D. No attention, so 0 heads.
  const int64_t num_params = layers * (3 * dim * hidden + dim);
  tt::bench::Workload workload;
  workload.batch = batch;
  workload.seq_len = seq;
  workload.tokens_per_step = batch * seq;
  workload.flops_per_token = tt::bench::flops_per_token(num_params, layers, 0, 0, seq);
  workload.extra_ints = {
      {"num_params", num_params}, {"dim", dim}, {"hidden", hidden}, {"layers", layers}};

  auto first_loss = std::make_shared<double>(NAN);
  auto setup = [&]() -> tt::bench::StepFn {
    at::manual_seed(static_cast<uint64_t>(seed));
    const auto options = at::TensorOptions().device(config.device).dtype(config.dtype);
    auto model = std::make_shared<std::vector<MlpLayer>>(make_layers(dim, hidden, layers, options));
    const at::Tensor input = at::randn({batch, seq, dim}).to(options);  // [B, T, D]
    auto step_index = std::make_shared<int64_t>(0);
    return [model, input, step_index, first_loss, dim, lr]() {
      at::Tensor x = input;  // [B, T, D]
      for (const MlpLayer& layer : *model) {
        const at::Tensor h = at::rms_norm(x, {dim}, layer.norm, kRmsNormEps);  // [B, T, D]
        const at::Tensor gate = at::linear(h, layer.w1);                       // [B, T, H]
        const at::Tensor up = at::linear(h, layer.w3);                         // [B, T, H]
        x = x + at::linear(at::silu(gate) * up, layer.w2);                     // [B, T, D]
      }
      // fp32 loss, as training recipes compute it.
      const at::Tensor loss = x.to(at::kFloat).square().mean();
      loss.backward();
      if ((*step_index)++ == 0) *first_loss = loss.item<double>();  // the one host sync
      at::NoGradGuard no_grad;
      for (MlpLayer& layer : *model) {
        for (at::Tensor* p : {&layer.norm, &layer.w1, &layer.w3, &layer.w2}) {
          p->add_(p->grad(), -lr);
          p->mutable_grad().reset();  // drop grads as optimizer.zero_grad(set_to_none) does
        }
      }
    };
  };

  tt::bench::BenchResult result = tt::bench::run_benchmark(config, workload, setup);
  if (result.status == "ok") result.workload.extra_numbers["first_loss"] = *first_loss;
  tt::bench::emit(result);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return tt::run_main("bench_mlp_step", bench_main, argc, argv);
}
