// Weight conversions of the Llama2 family between torchtune's keys and the Hugging Face and
// Meta layouts, as torchtune's convert_weights.py does them:
//   HF <-> torchtune: key map, and q/k rows permuted between HF's half-split rotary layout and
//                     the interleaved one (k with the kv-head count); rotary_emb.inv_freq
//                     dropped on load.
//   Meta <-> torchtune: key map only; rope.freqs dropped on load.
// Per-key functions let checkpointers convert tensor by tensor while streaming.
#pragma once

#include <optional>
#include <string>

#include "torchtune_cpp/core/state_dict.h"

namespace tt::llama2 {

struct HfShape {
  int64_t num_heads;
  int64_t num_kv_heads;
  int64_t dim;                      // hidden_size
  std::optional<int64_t> head_dim;  // config.json's head_dim; default dim / num_heads
};

// Key maps. hf_to_tune_key returns nullopt for keys dropped on load (rotary_emb.inv_freq);
// an unknown key is torchtune's error ("Error converting the state dict. Found unexpected
// key: ...").
std::optional<std::string> hf_to_tune_key(const std::string& hf_key);
std::string tune_to_hf_key(const std::string& tune_key);
std::optional<std::string> meta_to_tune_key(const std::string& meta_key);
std::string tune_to_meta_key(const std::string& tune_key);

// One tensor: permutes q_proj / k_proj rows, passes everything else through.
at::Tensor hf_to_tune_tensor(const std::string& tune_key, const at::Tensor& t, const HfShape& s);
at::Tensor tune_to_hf_tensor(const std::string& tune_key, const at::Tensor& t, const HfShape& s);

// Whole state dicts, order preserved.
StateDict hf_to_tune(const StateDict& hf, const HfShape& shape);
StateDict tune_to_hf(const StateDict& tune, const HfShape& shape);
StateDict meta_to_tune(const StateDict& meta);
StateDict tune_to_meta(const StateDict& tune);

}  // namespace tt::llama2
