// Llama2 key maps and the q/k permutation.
#include "torchtune_cpp/models/llama2/convert_weights.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "torchtune_cpp/utils/check.h"

namespace tt::llama2 {

namespace {

// Patterns with "{}" for the layer index, as torchtune writes them.
const std::map<std::string, std::string>& from_hf() {
  static const std::map<std::string, std::string> m = {
      {"model.embed_tokens.weight", "tok_embeddings.weight"},
      {"model.layers.{}.self_attn.q_proj.weight", "layers.{}.attn.q_proj.weight"},
      {"model.layers.{}.self_attn.k_proj.weight", "layers.{}.attn.k_proj.weight"},
      {"model.layers.{}.self_attn.v_proj.weight", "layers.{}.attn.v_proj.weight"},
      {"model.layers.{}.self_attn.o_proj.weight", "layers.{}.attn.output_proj.weight"},
      {"model.layers.{}.self_attn.rotary_emb.inv_freq", ""},
      {"model.layers.{}.mlp.gate_proj.weight", "layers.{}.mlp.w1.weight"},
      {"model.layers.{}.mlp.up_proj.weight", "layers.{}.mlp.w3.weight"},
      {"model.layers.{}.mlp.down_proj.weight", "layers.{}.mlp.w2.weight"},
      {"model.layers.{}.input_layernorm.weight", "layers.{}.sa_norm.scale"},
      {"model.layers.{}.post_attention_layernorm.weight", "layers.{}.mlp_norm.scale"},
      {"model.norm.weight", "norm.scale"},
      {"lm_head.weight", "output.weight"},
  };
  return m;
}

const std::map<std::string, std::string>& from_meta() {
  static const std::map<std::string, std::string> m = {
      {"tok_embeddings.weight", "tok_embeddings.weight"},
      {"norm.weight", "norm.scale"},
      {"output.weight", "output.weight"},
      {"layers.{}.attention.wk.weight", "layers.{}.attn.k_proj.weight"},
      {"layers.{}.attention.wq.weight", "layers.{}.attn.q_proj.weight"},
      {"layers.{}.attention.wv.weight", "layers.{}.attn.v_proj.weight"},
      {"layers.{}.attention.wo.weight", "layers.{}.attn.output_proj.weight"},
      {"layers.{}.attention_norm.weight", "layers.{}.sa_norm.scale"},
      {"layers.{}.ffn_norm.weight", "layers.{}.mlp_norm.scale"},
      {"layers.{}.feed_forward.w1.weight", "layers.{}.mlp.w1.weight"},
      {"layers.{}.feed_forward.w2.weight", "layers.{}.mlp.w2.weight"},
      {"layers.{}.feed_forward.w3.weight", "layers.{}.mlp.w3.weight"},
  };
  return m;
}

std::map<std::string, std::string> inverted(const std::map<std::string, std::string>& m) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : m)
    if (!v.empty()) out[v] = k;
  return out;
}

// torchtune's get_mapped_key: every all-digit dotted part becomes "{}"; the first one is the
// layer number substituted into the target.
std::string mapped_key(const std::string& key, const std::map<std::string, std::string>& m,
                       bool* found) {
  std::string pattern, layer;
  size_t start = 0;
  while (start <= key.size()) {
    size_t dot = key.find('.', start);
    std::string part =
        key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    if (digits && layer.empty()) layer = part;
    pattern += (start ? "." : "") + (digits ? std::string("{}") : part);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  auto it = m.find(pattern);
  *found = it != m.end();
  if (!*found) return "";
  std::string out = it->second;
  size_t pos = out.find("{}");
  if (pos != std::string::npos) out.replace(pos, 2, layer);
  return out;
}

[[noreturn]] void unexpected(const std::string& key) {
  throw Error("state dict",
              tt::str("Error converting the state dict. Found unexpected key: \"", key,
                      "\". Please make sure you're loading a checkpoint with the right "
                      "format."));
}

bool ends_with(const std::string& s, const char* suffix) {
  std::string x(suffix);
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

// Rows regrouped within each head: view(heads, a, b, dim).transpose(1, 2).
at::Tensor permute_rows(const at::Tensor& t, int64_t heads, int64_t head_dim, int64_t a,
                        int64_t b) {
  const int64_t dim = t.size(1);
  TT_CHECK(t.size(0) == heads * head_dim, "state dict", "q/k projection has ", t.size(0),
           " rows, expected heads (", heads, ") * head_dim (", head_dim,
           "); check num_attention_heads / num_key_value_heads in config.json");
  return t.view({heads, a, b, dim}).transpose(1, 2).reshape({heads * head_dim, dim});
}

int64_t heads_for(const std::string& tune_key, const HfShape& s) {
  return ends_with(tune_key, "attn.k_proj.weight") ? s.num_kv_heads : s.num_heads;
}

bool is_qk(const std::string& tune_key) {
  return ends_with(tune_key, "attn.q_proj.weight") || ends_with(tune_key, "attn.k_proj.weight");
}

}  // namespace

std::optional<std::string> hf_to_tune_key(const std::string& hf_key) {
  bool found = false;
  std::string k = mapped_key(hf_key, from_hf(), &found);
  if (!found) unexpected(hf_key);
  if (k.empty()) return std::nullopt;
  return k;
}

std::string tune_to_hf_key(const std::string& tune_key) {
  static const auto inv = inverted(from_hf());
  bool found = false;
  std::string k = mapped_key(tune_key, inv, &found);
  if (!found) unexpected(tune_key);
  return k;
}

std::optional<std::string> meta_to_tune_key(const std::string& meta_key) {
  if (meta_key == "rope.freqs") return std::nullopt;
  bool found = false;
  std::string k = mapped_key(meta_key, from_meta(), &found);
  if (!found) unexpected(meta_key);
  return k;
}

std::string tune_to_meta_key(const std::string& tune_key) {
  static const auto inv = inverted(from_meta());
  bool found = false;
  std::string k = mapped_key(tune_key, inv, &found);
  if (!found) unexpected(tune_key);
  return k;
}

at::Tensor hf_to_tune_tensor(const std::string& tune_key, const at::Tensor& t, const HfShape& s) {
  if (!is_qk(tune_key)) return t;
  const int64_t hd = s.head_dim.value_or(s.dim / s.num_heads);
  return permute_rows(t, heads_for(tune_key, s), hd, 2, hd / 2);
}

at::Tensor tune_to_hf_tensor(const std::string& tune_key, const at::Tensor& t, const HfShape& s) {
  if (!is_qk(tune_key)) return t;
  const int64_t hd = s.head_dim.value_or(s.dim / s.num_heads);
  return permute_rows(t, heads_for(tune_key, s), hd, hd / 2, 2);
}

StateDict hf_to_tune(const StateDict& hf, const HfShape& shape) {
  StateDict out;
  for (const auto& [k, t] : hf)
    if (auto tk = hf_to_tune_key(k)) out.emplace_back(*tk, hf_to_tune_tensor(*tk, t, shape));
  return out;
}

StateDict tune_to_hf(const StateDict& tune, const HfShape& shape) {
  StateDict out;
  for (const auto& [k, t] : tune)
    out.emplace_back(tune_to_hf_key(k), tune_to_hf_tensor(k, t, shape));
  return out;
}

StateDict meta_to_tune(const StateDict& meta) {
  StateDict out;
  for (const auto& [k, t] : meta)
    if (auto tk = meta_to_tune_key(k)) out.emplace_back(*tk, t);
  return out;
}

StateDict tune_to_meta(const StateDict& tune) {
  StateDict out;
  for (const auto& [k, t] : tune) out.emplace_back(tune_to_meta_key(k), t);
  return out;
}

}  // namespace tt::llama2
