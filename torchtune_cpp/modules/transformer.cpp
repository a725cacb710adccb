// TransformerDecoder: construction on the meta device, materialisation, state dicts and
// the forward pass.
#include "torchtune_cpp/modules/transformer.h"

#include <ATen/core/grad_mode.h>

#include <map>
#include <set>

#include "torchtune_cpp/modules/feed_forward.h"
#include "torchtune_cpp/modules/rms_norm.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::modules {

namespace {

at::Tensor meta(std::initializer_list<int64_t> shape, at::ScalarType dtype) {
  return at::empty(shape, at::TensorOptions().device(at::kMeta).dtype(dtype));
}

std::string layer_key(int64_t i, const char* suffix) {
  return "layers." + std::to_string(i) + "." + suffix;
}

// The parameters of a layer in torchtune's registration order: attention, mlp, norms.
std::vector<std::pair<const char*, at::Tensor*>> layer_slots(DecoderLayer& l) {
  return {{"attn.q_proj.weight", &l.q_proj}, {"attn.k_proj.weight", &l.k_proj},
          {"attn.v_proj.weight", &l.v_proj}, {"attn.output_proj.weight", &l.output_proj},
          {"mlp.w1.weight", &l.w1},          {"mlp.w2.weight", &l.w2},
          {"mlp.w3.weight", &l.w3},          {"sa_norm.scale", &l.sa_norm},
          {"mlp_norm.scale", &l.mlp_norm}};
}

}  // namespace

std::vector<std::pair<std::string, at::Tensor*>> parameter_slots(TransformerDecoder& m) {
  std::vector<std::pair<std::string, at::Tensor*>> out{
      {"tok_embeddings.weight", &m.tok_embeddings}};
  for (size_t i = 0; i < m.layers.size(); ++i)
    for (auto& [suffix, t] : layer_slots(m.layers[i])) out.emplace_back(layer_key(i, suffix), t);
  out.emplace_back("norm.scale", &m.norm);
  out.emplace_back("output.weight", &m.output);
  return out;
}

std::shared_ptr<TransformerDecoder> make_decoder(const DecoderArgs& a, at::ScalarType dtype) {
  TT_CHECK(a.num_heads > 0 && a.embed_dim % a.num_heads == 0, "model.embed_dim", "embed_dim (",
           a.embed_dim, ") must be a multiple of num_heads (", a.num_heads, ")");
  TT_CHECK(a.num_kv_heads > 0 && a.num_heads % a.num_kv_heads == 0, "model.num_kv_heads",
           "num_heads (", a.num_heads, ") must be a multiple of num_kv_heads (", a.num_kv_heads,
           ")");
  TT_CHECK(a.head_dim() % 2 == 0, "model.embed_dim", "head_dim (", a.head_dim(),
           ") must be even for rotary embeddings");
  TT_CHECK(
      a.attn_dropout == 0.0, "model.attn_dropout",
      "attention dropout is not supported (torchtune's Llama2 builders use 0.0); set it to 0.0");
  auto m = std::make_shared<TransformerDecoder>();
  m->args = a;
  m->wrapper.num_layers = a.num_layers;
  const int64_t D = a.embed_dim, hd = a.head_dim(), F = a.intermediate_dim;
  m->tok_embeddings = meta({a.vocab_size, D}, dtype);
  for (int64_t i = 0; i < a.num_layers; ++i) {
    DecoderLayer l;
    l.q_proj = meta({a.num_heads * hd, D}, dtype);
    l.k_proj = meta({a.num_kv_heads * hd, D}, dtype);
    l.v_proj = meta({a.num_kv_heads * hd, D}, dtype);
    l.output_proj = meta({D, a.num_heads * hd}, dtype);
    l.w1 = meta({F, D}, dtype);
    l.w2 = meta({D, F}, dtype);
    l.w3 = meta({F, D}, dtype);
    l.sa_norm = meta({D}, dtype);
    l.mlp_norm = meta({D}, dtype);
    m->layers.push_back(std::move(l));
  }
  m->norm = meta({D}, dtype);
  m->output = meta({a.vocab_size, D}, dtype);
  return m;
}

StateDict named_parameters(TransformerDecoder& model) {
  StateDict out;
  for (auto& [key, t] : parameter_slots(model)) out.emplace_back(key, *t);
  return out;
}

StateDict layer_parameters(TransformerDecoder& model, int64_t layer) {
  StateDict out;
  for (auto& [suffix, t] : layer_slots(model.layers.at(layer)))
    out.emplace_back(layer_key(layer, suffix), *t);
  return out;
}

int64_t num_parameters(TransformerDecoder& model) {
  int64_t n = 0;
  for (auto& [key, t] : parameter_slots(model)) n += t->numel();
  return n;
}

double flops_per_token(const DecoderArgs& a, int64_t seq_len) {
  const int64_t hd = a.head_dim(), kv = a.num_kv_heads * hd;
  const int64_t per_layer = a.embed_dim * (a.embed_dim + 2 * kv + a.embed_dim) +
                            3 * a.embed_dim * a.intermediate_dim + 2 * a.embed_dim;
  const double n =
      static_cast<double>(a.num_layers * per_layer + a.embed_dim + a.vocab_size * a.embed_dim);
  return 6.0 * n + 12.0 * static_cast<double>(a.num_layers * a.num_heads * hd * seq_len);
}

InitFn normal_init(double std, uint64_t seed) {
  auto gen = std::make_shared<at::Generator>(at::detail::createCPUGenerator(seed));
  at::manual_seed(seed);  // seeds the accelerators' default generators too
  return [std, gen](const std::string& key, at::Tensor& t) {
    if (key.size() >= 6 && key.compare(key.size() - 6, 6, ".scale") == 0) {
      t.fill_(1.0);
    } else if (t.is_cpu()) {
      // Drawn in fp32 from one generator, so every CPU dtype gets the same values.
      at::Tensor cpu = at::empty(t.sizes(), at::kFloat);
      cpu.normal_(0.0, std, *gen);
      t.copy_(cpu);
    } else {
      // On the device itself: drawing billions of values on the CPU would dominate start-up.
      t.normal_(0.0, std);
    }
  };
}

void materialize(TransformerDecoder& model, at::Device device, at::ScalarType dtype,
                 const StateDict* source, const InitFn& init) {
  at::NoGradGuard no_grad;
  auto opts = at::TensorOptions().device(device).dtype(dtype);
  for (auto& [key, slot] : parameter_slots(model)) {
    at::Tensor t = at::empty(slot->sizes(), opts);
    const at::Tensor* from = source ? find_tensor(*source, key) : nullptr;
    if (from != nullptr) {
      TT_CHECK(from->sizes() == slot->sizes(), key, "checkpoint tensor has shape ", from->sizes(),
               " but the model expects ", slot->sizes(),
               "; check the model builder against the checkpoint");
      t.copy_(*from);
    } else {
      TT_CHECK(static_cast<bool>(init), key,
               "missing from the checkpoint and no initialiser was given");
      init(key, t);
    }
    *slot = t.requires_grad_(true);
  }
  init_buffers(model, device);
}

void init_buffers(TransformerDecoder& model, at::Device device) {
  const DecoderArgs& a = model.args;
  model.rope = make_rope_cache(a.head_dim(), a.max_seq_len, a.rope_base, device);
}

void check_state_dict(TransformerDecoder& model, const StateDict& sd, bool strict,
                      const std::string& where) {
  std::map<std::string, const at::Tensor*> by_key;
  for (const auto& [key, t] : sd) by_key[key] = &t;
  std::set<std::string> seen;
  std::vector<std::string> problems;
  for (auto& [key, slot] : parameter_slots(model)) {
    auto it = by_key.find(key);
    if (it == by_key.end()) {
      if (strict) problems.push_back("missing key " + key);
      continue;
    }
    seen.insert(key);
    if (it->second->sizes() != slot->sizes())
      problems.push_back(tt::str(key, ": shape ", it->second->sizes(), " in the checkpoint, ",
                                 slot->sizes(), " in the model"));
  }
  if (strict)
    for (const auto& [key, t] : sd)
      if (seen.count(key) == 0) problems.push_back("unexpected key " + key);
  if (problems.empty()) return;
  std::string text;
  for (size_t i = 0; i < problems.size() && i < 20; ++i) text += "\n  " + problems[i];
  if (problems.size() > 20) text += tt::str("\n  ... and ", problems.size() - 20, " more");
  throw Error(where,
              tt::str("does not match the model (", problems.size(), " problems):", text,
                      "\ncheck that the checkpoint and the model builder describe the same model"));
}

void load_state_dict(TransformerDecoder& model, const StateDict& sd, bool strict) {
  at::NoGradGuard no_grad;
  check_state_dict(model, sd, strict);
  for (auto& [key, slot] : parameter_slots(model))
    if (const at::Tensor* from = find_tensor(sd, key)) slot->copy_(*from);
}

void materialize_from(TransformerDecoder& model, at::Device device, at::ScalarType dtype,
                      StateDict&& source) {
  check_state_dict(model, source, /*strict=*/true);
  std::map<std::string, at::Tensor*> by_key;
  for (auto& [key, t] : source) by_key[key] = &t;
  at::NoGradGuard no_grad;
  auto opts = at::TensorOptions().device(device).dtype(dtype);
  for (auto& [key, slot] : parameter_slots(model)) {
    at::Tensor& from = *by_key.at(key);
    at::Tensor t = at::empty(slot->sizes(), opts);
    t.copy_(from);
    from = at::Tensor();  // the last view of a mapped shard unmaps it
    *slot = t.requires_grad_(true);
  }
  source.clear();
  init_buffers(model, device);
}

at::Tensor hidden_states(TransformerDecoder& model, const ForwardInputs& in) {
  const DecoderArgs& a = model.args;
  TT_CHECK(in.tokens.dim() == 2, "tokens", "expected a [batch, seq_len] batch, got shape ",
           in.tokens.sizes());
  TT_CHECK(model.tok_embeddings.device().type() != at::kMeta, "model",
           "the model has not been materialised (its weights are still on the meta device)");
  AttentionShape shape{a.num_heads, a.num_kv_heads, a.head_dim()};
  begin_model_forward(model.wrapper);
  at::Tensor h = at::embedding(model.tok_embeddings, in.tokens);  // [B, T, D]
  for (int64_t i = 0; i < a.num_layers; ++i) {
    DecoderLayer& l = model.layers[i];
    LayerFn layer = [&model, &l, shape, mask = in.mask, pos = in.input_pos](const at::Tensor& x) {
      const double eps = model.args.norm_eps;
      at::Tensor r = x + self_attention(rms_norm(x, l.sa_norm, eps), l.q_proj, l.k_proj, l.v_proj,
                                        l.output_proj, shape, model.rope, mask, pos);
      return r + swiglu_mlp(rms_norm(r, l.mlp_norm, eps), l.w1, l.w2, l.w3);
    };
    h = run_layer(
        model.wrapper, i, h,
        {l.q_proj, l.k_proj, l.v_proj, l.output_proj, l.w1, l.w2, l.w3, l.sa_norm, l.mlp_norm},
        layer);
  }
  return rms_norm(h, model.norm, a.norm_eps);
}

at::Tensor forward(TransformerDecoder& model, const ForwardInputs& in) {
  return at::linear(hidden_states(model, in), model.output).to(at::kFloat);
}

std::vector<at::Tensor> forward_chunked(TransformerDecoder& model, const ForwardInputs& in,
                                        int64_t num_chunks) {
  std::vector<at::Tensor> out;
  for (const at::Tensor& h : hidden_states(model, in).chunk(num_chunks, 1))
    out.push_back(at::linear(h, model.output));
  return out;
}

}  // namespace tt::modules
