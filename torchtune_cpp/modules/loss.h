// Cross-entropy losses over next-token labels (already shifted; -100 ignored):
//   cross_entropy          torch.nn.CrossEntropyLoss on fp32 logits, mean over kept tokens
//   chunked_cross_entropy  torchtune's CEWithChunkedOutputLoss: per-chunk fp32 CE summed,
//                          divided by the number of kept tokens
//   fused_chunked_cross_entropy  the same value from the final hidden states and the output
//                          weight, computing each chunk's logits, loss and gradient in turn,
//                          so [B, T, V] logits never exist at once (forward or backward)
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace tt::modules {

// torchtune.data.CROSS_ENTROPY_IGNORE_IDX: the label of positions that add nothing to the loss
// (prompt tokens, padding); the data pipeline writes it, the losses skip it.
constexpr int64_t kIgnoreIndex = -100;

// logits [B, T, V] (any float dtype), labels [B, T] -> scalar fp32.
at::Tensor cross_entropy(const at::Tensor& logits, const at::Tensor& labels,
                         int64_t ignore_index = kIgnoreIndex);

// chunks: n tensors [B, T/n, V] (model dtype), labels [B, T] -> scalar fp32.
at::Tensor chunked_cross_entropy(const std::vector<at::Tensor>& chunks, const at::Tensor& labels,
                                 int64_t ignore_index = kIgnoreIndex);

// hidden [B, T, D], weight [V, D], labels [B, T] -> scalar fp32, equal to
// chunked_cross_entropy(chunks of linear(hidden, weight), labels); differentiable in hidden
// and weight.
at::Tensor fused_chunked_cross_entropy(const at::Tensor& hidden, const at::Tensor& weight,
                                       const at::Tensor& labels, int64_t num_chunks,
                                       int64_t ignore_index = kIgnoreIndex);

// The `loss:` component: which of the above the recipe computes, with its arguments.
struct LossSpec {
  enum class Kind { kChunked, kFusedChunked, kPlain };
  Kind kind = Kind::kChunked;
  int64_t num_output_chunks = 8;  // kChunked / kFusedChunked
  int64_t ignore_index = kIgnoreIndex;
};

// Registers torchtune.modules.loss.CEWithChunkedOutputLoss (num_output_chunks=8,
// ignore_index=-100), torch.nn.CrossEntropyLoss (ignore_index=-100; mean reduction only) and
// torchtune_cpp.modules.loss.FusedCEWithChunkedOutputLoss (the fused variant).
void register_losses();

// The configured loss of `model` on one batch: mean over the kept next-token labels
// [B, T] (already shifted), as a 0-dim fp32 tensor.
struct TransformerDecoder;
struct ForwardInputs;
at::Tensor compute_loss(TransformerDecoder& model, const LossSpec& loss, const ForwardInputs& in,
                        const at::Tensor& labels);

}  // namespace tt::modules
