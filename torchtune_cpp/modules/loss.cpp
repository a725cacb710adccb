// Cross-entropy losses, including the fused chunked variant.
#include "torchtune_cpp/modules/loss.h"

#include "torchtune_cpp/modules/transformer.h"

#include <torch/csrc/autograd/custom_function.h>

#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::modules {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int64_t kSum = 2;   // at::Reduction::Sum
constexpr int64_t kMean = 1;  // at::Reduction::Mean

// Sum of CE over one chunk, computed exactly as torchtune does (fp32 logits).
at::Tensor chunk_ce_sum(const at::Tensor& logits, const at::Tensor& labels, int64_t ignore_index) {
  return at::cross_entropy_loss(logits.to(at::kFloat).reshape({-1, logits.size(-1)}),
                                labels.reshape({-1}), {}, kSum, ignore_index);
}

struct FusedChunkedCE : torch::autograd::Function<FusedChunkedCE> {
  static at::Tensor forward(AutogradContext* ctx, at::Tensor hidden, at::Tensor weight,
                            at::Tensor labels, int64_t num_chunks, int64_t ignore_index) {
    at::NoGradGuard no_grad;
    const bool need_grad = ctx->needs_input_grad(0) || ctx->needs_input_grad(1);
    at::Tensor kept = (labels != ignore_index).sum().to(at::kFloat);
    at::Tensor total = at::zeros({}, hidden.options().dtype(at::kFloat));
    at::Tensor grad_hidden = need_grad ? at::empty_like(hidden) : at::Tensor();
    // Accumulated in the weight's dtype, as autograd accumulates the per-chunk gradients of
    // the unfused chunked loss.
    at::Tensor grad_weight = need_grad ? at::zeros_like(weight) : at::Tensor();
    auto h_chunks = hidden.chunk(num_chunks, 1);
    auto l_chunks = labels.chunk(num_chunks, 1);
    auto g_chunks = need_grad ? grad_hidden.chunk(num_chunks, 1) : std::vector<at::Tensor>{};
    for (size_t c = 0; c < h_chunks.size(); ++c) {
      at::Tensor logits = at::linear(h_chunks[c], weight).to(at::kFloat);  // [B, t, V]
      at::Tensor flat_labels = l_chunks[c].reshape({-1});
      at::Tensor logp = at::log_softmax(logits.reshape({-1, logits.size(-1)}), -1);  // [B*t, V]
      total += at::nll_loss(logp, flat_labels, {}, kSum, ignore_index);
      if (!need_grad) continue;
      // d(sum CE)/d logits = softmax - onehot(label), zero on ignored rows.
      at::Tensor valid = (flat_labels != ignore_index);
      at::Tensor g = logp.exp_();
      g.scatter_add_(1, flat_labels.clamp_min(0).unsqueeze(1), -valid.to(at::kFloat).unsqueeze(1));
      g.mul_(valid.unsqueeze(1));
      at::Tensor g_low = g.to(hidden.scalar_type());                   // [B*t, V]
      at::Tensor h_flat = h_chunks[c].reshape({-1, hidden.size(-1)});  // [B*t, D]
      g_chunks[c].copy_(at::mm(g_low, weight).view_as(h_chunks[c]));
      grad_weight.addmm_(g_low.t(), h_flat);
    }
    if (need_grad) ctx->save_for_backward({grad_hidden, grad_weight, kept});
    return total / kept;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    // Scaled in place: at this point every activation is still alive, so no [V, D] or
    // [B, T, D] temporary is made. Hence a single backward pass.
    TT_CHECK(!ctx->saved_data.count("done"), "fused_chunked_cross_entropy",
             "its gradients were already taken once; it does not support retain_graph");
    ctx->saved_data["done"] = true;
    variable_list saved = ctx->get_saved_variables();
    at::Tensor scale = grad_out[0].to(at::kFloat) / saved[2];
    return {saved[0].mul_(scale), saved[1].mul_(scale), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor cross_entropy(const at::Tensor& logits, const at::Tensor& labels, int64_t ignore_index) {
  return at::cross_entropy_loss(logits.to(at::kFloat).reshape({-1, logits.size(-1)}),
                                labels.reshape({-1}), {}, kMean, ignore_index);
}

at::Tensor chunked_cross_entropy(const std::vector<at::Tensor>& chunks, const at::Tensor& labels,
                                 int64_t ignore_index) {
  auto label_chunks = labels.chunk(static_cast<int64_t>(chunks.size()), 1);
  TT_CHECK(label_chunks.size() == chunks.size(), "loss", "labels split into ", label_chunks.size(),
           " chunks but the model gave ", chunks.size());
  at::Tensor total = chunk_ce_sum(chunks[0], label_chunks[0], ignore_index);
  for (size_t i = 1; i < chunks.size(); ++i)
    total = total + chunk_ce_sum(chunks[i], label_chunks[i], ignore_index);
  return total / (labels != ignore_index).sum();
}

at::Tensor fused_chunked_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight,
                                       const at::Tensor& labels, int64_t num_chunks,
                                       int64_t ignore_index) {
  return FusedChunkedCE::apply(hidden, weight, labels, num_chunks, ignore_index);
}

void register_losses() {
  using namespace config;
  for (auto kind : {LossSpec::Kind::kChunked, LossSpec::Kind::kFusedChunked}) {
    const bool fused = kind == LossSpec::Kind::kFusedChunked;
    register_component<LossSpec>(
        ComponentSpec{fused ? "torchtune_cpp.modules.loss.FusedCEWithChunkedOutputLoss"
                            : "torchtune.modules.loss.CEWithChunkedOutputLoss",
                      "loss",
                      fused ? "chunked cross-entropy computing each chunk's gradient in turn"
                            : "torchtune's chunked cross-entropy",
                      {},
                      {arg("num_output_chunks", ArgType::kInt, "8", "", at_least(1)),
                       arg("ignore_index", ArgType::kInt, "-100", "")}},
        [kind](const Kwargs& kw) {
          TT_CHECK(kw.get_int("num_output_chunks") > 0, kw.where("num_output_chunks"),
                   "must be a positive number of chunks");
          return LossSpec{kind, kw.get_int("num_output_chunks"), kw.get_int("ignore_index")};
        });
  }
  register_component<LossSpec>(
      ComponentSpec{"torch.nn.CrossEntropyLoss",
                    "loss",
                    "cross-entropy on full fp32 logits",
                    {},
                    {arg("ignore_index", ArgType::kInt, "-100", ""),
                     arg("reduction", ArgType::kString, "mean", "only mean",
                         satisfies([](const Node& v) -> std::optional<std::string> {
                           if (v.text == "mean") return std::nullopt;
                           return "only reduction: mean is supported (the recipes weight the loss "
                                  "by token count)";
                         })),
                     arg("label_smoothing", ArgType::kFloat, "0.0", "only 0.0",
                         satisfies([](const Node& v) -> std::optional<std::string> {
                           if (v.as_double() == 0.0) return std::nullopt;
                           return "label smoothing is not supported; remove it";
                         }))}},
      [](const Kwargs& kw) {
        TT_CHECK(kw.get_string("reduction") == "mean", kw.where("reduction"),
                 "only reduction: mean is supported (the recipes weight the loss by token count)");
        TT_CHECK(kw.get_double("label_smoothing") == 0.0, kw.where("label_smoothing"),
                 "label smoothing is not supported; remove it");
        return LossSpec{LossSpec::Kind::kPlain, 1, kw.get_int("ignore_index")};
      });
}

at::Tensor compute_loss(TransformerDecoder& model, const LossSpec& loss, const ForwardInputs& in,
                        const at::Tensor& labels) {
  switch (loss.kind) {
    case LossSpec::Kind::kChunked:
      return chunked_cross_entropy(forward_chunked(model, in, loss.num_output_chunks), labels,
                                   loss.ignore_index);
    case LossSpec::Kind::kFusedChunked:
      return fused_chunked_cross_entropy(hidden_states(model, in), model.output, labels,
                                         loss.num_output_chunks, loss.ignore_index);
    case LossSpec::Kind::kPlain:
      break;
  }
  return cross_entropy(forward(model, in), labels, loss.ignore_index);
}

}  // namespace tt::modules
