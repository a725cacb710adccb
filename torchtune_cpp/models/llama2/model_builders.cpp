// Llama2 builders and their registration.
#include "torchtune_cpp/models/llama2/model_builders.h"

#include "torchtune_cpp/config/registry.h"

namespace tt::llama2 {

int64_t scale_hidden_dim_for_mlp(int64_t dim, int64_t multiple_of) {
  int64_t hidden = 4 * static_cast<int64_t>(2.0 * static_cast<double>(dim) / 3.0);
  return multiple_of * ((hidden + multiple_of - 1) / multiple_of);
}

modules::DecoderArgs llama2_args(int64_t vocab_size, int64_t num_layers, int64_t num_heads,
                                 std::optional<int64_t> num_kv_heads, int64_t embed_dim,
                                 int64_t max_seq_len, double attn_dropout,
                                 std::optional<int64_t> intermediate_dim, double norm_eps,
                                 double rope_base) {
  modules::DecoderArgs a;
  a.vocab_size = vocab_size;
  a.num_layers = num_layers;
  a.num_heads = num_heads;
  // torchtune: `num_kv_heads if num_kv_heads else num_heads`
  a.num_kv_heads = num_kv_heads.value_or(0) ? *num_kv_heads : num_heads;
  a.embed_dim = embed_dim;
  a.max_seq_len = max_seq_len;
  a.attn_dropout = attn_dropout;
  a.intermediate_dim =
      intermediate_dim.value_or(0) ? *intermediate_dim : scale_hidden_dim_for_mlp(embed_dim);
  a.norm_eps = norm_eps;
  a.rope_base = rope_base;
  return a;
}

modules::DecoderArgs llama2_7b_args() {
  return llama2_args(32000, 32, 32, 32, 4096, 4096);
}
modules::DecoderArgs llama2_13b_args() {
  return llama2_args(32000, 40, 40, 40, 5120, 4096, 0.0, 13824);
}
modules::DecoderArgs llama2_70b_args() {
  return llama2_args(32000, 80, 64, 8, 8192, 4096, 0.0, 28672);
}

void register_llama2_models() {
  using namespace config;
  ComponentSpec spec{"torchtune.models.llama2.llama2",
                     "model",
                     "Llama2 decoder of any size",
                     {},
                     {arg("vocab_size", ArgType::kInt, "", at_least(1)),
                      arg("num_layers", ArgType::kInt, "", at_least(1)),
                      arg("num_heads", ArgType::kInt, "", at_least(1)),
                      arg("num_kv_heads", ArgType::kInt, "0 means num_heads", at_least(0)),
                      arg("embed_dim", ArgType::kInt, "", at_least(1)),
                      arg("max_seq_len", ArgType::kInt, "", at_least(1)),
                      arg("attn_dropout", ArgType::kFloat, "0.0", "must be 0.0",
                          satisfies([](const Node& v) -> std::optional<std::string> {
                            if (v.as_double() == 0.0) return std::nullopt;
                            return "attention dropout is not supported (torchtune's Llama2 "
                                   "builders use 0.0); set it to 0.0";
                          })),
                      arg("intermediate_dim", ArgType::kInt, "null",
                          "default: torchtune's hidden-dim rule", at_least(1)),
                      arg("norm_eps", ArgType::kFloat, "1e-5", "", greater_than(0)),
                      arg("rope_base", ArgType::kFloat, "10000.0", "", greater_than(0))}};
  // The attention layout rules make_decoder enforces, checked with the arguments.
  spec.cross_check = [](const Kwargs& kw) {
    std::vector<Problem> problems;
    const int64_t heads = kw.get_int("num_heads"), dim = kw.get_int("embed_dim");
    const int64_t kv = kw.get_int("num_kv_heads") ? kw.get_int("num_kv_heads") : heads;
    if (dim % heads != 0)
      problems.push_back(
          Problem{kw.where("embed_dim"),
                  str("embed_dim (", dim, ") must be a multiple of num_heads (", heads, ")")});
    else if ((dim / heads) % 2 != 0)
      problems.push_back(
          Problem{kw.where("embed_dim"),
                  str("head_dim (", dim / heads, ") must be even for rotary embeddings")});
    if (heads % kv != 0)
      problems.push_back(
          Problem{kw.where("num_kv_heads"),
                  str("num_heads (", heads, ") must be a multiple of num_kv_heads (", kv, ")")});
    return problems;
  };
  register_component<ModelPtr>(std::move(spec), [](const Kwargs& kw) {
    return modules::make_decoder(
        llama2_args(kw.get_int("vocab_size"), kw.get_int("num_layers"), kw.get_int("num_heads"),
                    kw.get_int("num_kv_heads"), kw.get_int("embed_dim"), kw.get_int("max_seq_len"),
                    kw.get_double("attn_dropout"), kw.get_optional_int("intermediate_dim"),
                    kw.get_double("norm_eps"), kw.get_double("rope_base")));
  });
  struct Fixed {
    const char* name;
    modules::DecoderArgs (*args)();
    const char* summary;
  };
  for (const Fixed& f : {Fixed{"torchtune.models.llama2.llama2_7b", llama2_7b_args, "Llama2 7B"},
                         Fixed{"torchtune.models.llama2.llama2_13b", llama2_13b_args, "Llama2 13B"},
                         Fixed{"torchtune.models.llama2.llama2_70b", llama2_70b_args,
                               "Llama2 70B (grouped-query attention, 8 kv heads)"}}) {
    auto make = f.args;
    register_component<ModelPtr>(ComponentSpec{f.name, "model", f.summary, {}, {}},
                                 [make](const Kwargs&) { return modules::make_decoder(make()); });
  }
}

}  // namespace tt::llama2
