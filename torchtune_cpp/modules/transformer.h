// TransformerDecoder: the Llama2 model as torchtune builds it (TransformerDecoder with
// TransformerSelfAttentionLayer layers), as plain tensors with torchtune's state-dict keys:
//
//   tok_embeddings.weight                 [V, D]
//   layers.{i}.attn.{q,k,v,output}_proj.weight, layers.{i}.mlp.w{1,2,3}.weight,
//   layers.{i}.sa_norm.scale, layers.{i}.mlp_norm.scale
//   norm.scale                            [D]
//   output.weight                         [V, D]   (not tied to the embedding)
//
// A model starts on the meta device (no memory: sizes and keys only) and is materialised
// layer by layer onto a device, from a state dict or into shards. Every decoder layer runs
// through run_layer() (layer_wrapper.h), the one place where activation checkpointing,
// optimizer-in-backward and sharding act around a layer's forward and backward.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "torchtune_cpp/core/state_dict.h"
#include "torchtune_cpp/modules/attention.h"
#include "torchtune_cpp/modules/layer_wrapper.h"
#include "torchtune_cpp/modules/rope.h"

namespace tt::modules {

struct DecoderArgs {
  int64_t vocab_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t embed_dim = 0;
  int64_t intermediate_dim = 0;
  int64_t max_seq_len = 0;
  double norm_eps = 1e-5;
  double rope_base = 10000.0;
  double attn_dropout = 0.0;

  int64_t head_dim() const { return embed_dim / num_heads; }
};

struct DecoderLayer {
  at::Tensor q_proj, k_proj, v_proj, output_proj;  // attn.*.weight
  at::Tensor w1, w2, w3;                           // mlp.*.weight
  at::Tensor sa_norm, mlp_norm;                    // *.scale
};

struct TransformerDecoder {
  DecoderArgs args;
  at::Tensor tok_embeddings;  // [V, D]
  std::vector<DecoderLayer> layers;
  at::Tensor norm;    // [D]
  at::Tensor output;  // [V, D]
  RopeCache rope;     // not in the state dict (torchtune's buffers are non-persistent)
  LayerWrapper wrapper;
};

// Allocates nothing: every parameter is a meta tensor of the right shape and dtype.
std::shared_ptr<TransformerDecoder> make_decoder(const DecoderArgs& args,
                                                 at::ScalarType dtype = at::kFloat);

// Named parameters in torchtune's state-dict order; the tensors alias the model's.
StateDict named_parameters(TransformerDecoder& model);
// The parameters of one decoder layer, keyed as in the state dict ("layers.3.attn.q_proj.weight").
StateDict layer_parameters(TransformerDecoder& model, int64_t layer);
int64_t num_parameters(TransformerDecoder& model);
// Every parameter slot of the model in state-dict order, for code that replaces the tensors
// themselves (materialisation, sharding).
std::vector<std::pair<std::string, at::Tensor*>> parameter_slots(TransformerDecoder& model);
// Training FLOPs per token for sequences of `seq_len` tokens: 6 per parameter outside the
// input embedding (forward and backward matmuls) plus attention's 12 L H Q T, as in the
// PaLM / nanoGPT MFU accounting (activation recomputation not counted).
double flops_per_token(const DecoderArgs& args, int64_t seq_len);

// Replaces every meta parameter, layer by layer, with a tensor on `device`: from `source`
// when it holds the key (copied and cast), else initialised by `init` (given the key and the
// empty tensor). Builds the RoPE cache on `device`. Parameters become leaves requiring grad.
using InitFn = std::function<void(const std::string& key, at::Tensor& empty)>;
void materialize(TransformerDecoder& model, at::Device device, at::ScalarType dtype,
                 const StateDict* source, const InitFn& init);

// Materialises the model from a full state dict: keys and shapes must match exactly
// (checked before anything is allocated). Each source tensor is released as soon as it is
// copied, so a memory-mapped checkpoint shard is unmapped once its last tensor is consumed
// and loading peaks near the model plus one shard rather than twice the model.
void materialize_from(TransformerDecoder& model, at::Device device, at::ScalarType dtype,
                      StateDict&& source);

// Deterministic random initialisation for benchmarks and tests: N(0, std) for matrices,
// ones for norm scales. CPU tensors draw from a CPU generator seeded with `seed`; tensors on
// an accelerator draw there from its default generator (seeded too), so values differ
// between device types but repeat on each.
InitFn normal_init(double std, uint64_t seed);

// Copies `sd` into the (materialised) model. With `strict`, keys must match exactly; any
// mismatch (missing, unexpected, wrong shape) is a tt::Error listing them.
void load_state_dict(TransformerDecoder& model, const StateDict& sd, bool strict = true);

// Throws a tt::Error at `where` listing every mismatch between the model's parameters and
// `sd` (wrong shapes; with `strict` also missing and unexpected keys), the first 20 of them.
// The one check of every load into a model, whole or sharded.
void check_state_dict(TransformerDecoder& model, const StateDict& sd, bool strict,
                      const std::string& where = "state dict");

// Builds the model's buffers on `device` from its args: the RoPE cache, its only buffer (not
// in the state dict, as torchtune's buffers are non-persistent, so never loaded).
void init_buffers(TransformerDecoder& model, at::Device device);

struct ForwardInputs {
  at::Tensor tokens;                    // [B, T] int64
  std::optional<at::Tensor> mask;       // [B, T, T] bool, true = may attend (packed batches)
  std::optional<at::Tensor> input_pos;  // [B, T] int64 (packed batches)
};

// Embedding, decoder layers and final norm: [B, T] -> [B, T, D] in the model's dtype.
at::Tensor hidden_states(TransformerDecoder& model, const ForwardInputs& in);

// Full forward: [B, T] -> logits [B, T, V] in fp32 (torchtune's `output(h).float()`).
at::Tensor forward(TransformerDecoder& model, const ForwardInputs& in);

// torchtune's chunked output (set_num_output_chunks): h split in `num_chunks` along T,
// each chunk projected to [B, T/n, V], left in the model's dtype.
std::vector<at::Tensor> forward_chunked(TransformerDecoder& model, const ForwardInputs& in,
                                        int64_t num_chunks);

}  // namespace tt::modules
