// torchtune's Llama2Tokenizer (models/llama2/_tokenizer.py) and its builder
// `torchtune.models.llama2.llama2_tokenizer(path, max_seq_len=None,
// prompt_template="torchtune.models.llama2.Llama2ChatTemplate")`: SentencePiece with
// pad id 0, the Llama2 chat template applied to message lists by default, and
// tokenize_messages giving the tokens and loss mask of a conversation.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "torchtune_cpp/modules/tokenizers/message.h"
#include "torchtune_cpp/modules/tokenizers/sentencepiece.h"

namespace tt::llama2 {

// Tokens of a conversation and, per token, whether it is masked out of the loss.
struct TokenizedMessages {
  std::vector<int64_t> tokens;
  std::vector<bool> mask;
};

class Llama2Tokenizer {
 public:
  // `prompt_template` empty: messages are tokenized as given (torchtune's None).
  explicit Llama2Tokenizer(const std::string& path,
                           std::optional<int64_t> max_seq_len = std::nullopt,
                           PromptTemplate prompt_template = default_prompt_template());

  // torchtune's default: Llama2ChatTemplate.
  static PromptTemplate default_prompt_template();

  std::vector<int64_t> encode(const std::string& text, bool add_bos = true, bool add_eos = true,
                              bool trim_leading_whitespace = false) const {
    return spm_.encode(text, add_bos, add_eos, trim_leading_whitespace);
  }
  std::string decode(const std::vector<int64_t>& ids) const { return spm_.decode(ids); }

  // Applies the prompt template, then tokenizes as torchtune's
  // tokenize_messages_no_special_tokens: BOS at each turn start, each content item encoded
  // on its own, EOS after each assistant message, truncation to max_seq_len. The argument
  // order differs from torchtune's keywords (add_start_tokens, add_end_tokens) because the
  // recipes' one variation is add_end_tokens=false, for inference.
  TokenizedMessages tokenize_messages(const std::vector<Message>& messages,
                                      bool add_end_tokens = true,
                                      bool add_start_tokens = true) const;
  // The same for messages already formatted (no template applied here).
  TokenizedMessages tokenize_templated_messages(const std::vector<TemplatedMessage>& messages,
                                                bool add_end_tokens = true,
                                                bool add_start_tokens = true) const;

  int64_t vocab_size() const { return spm_.vocab_size(); }
  int64_t bos_id() const { return spm_.bos_id(); }
  int64_t eos_id() const { return spm_.eos_id(); }
  // 0, as torchtune forces: Llama2's model has no pad piece, and collation needs an id.
  int64_t pad_id() const { return 0; }
  std::vector<int64_t> stop_tokens() const { return {eos_id()}; }
  const std::optional<int64_t>& max_seq_len() const { return max_seq_len_; }
  const PromptTemplate& prompt_template() const { return prompt_template_; }
  const SentencePieceBaseTokenizer& base() const { return spm_; }

 private:
  SentencePieceBaseTokenizer spm_;
  std::optional<int64_t> max_seq_len_;
  PromptTemplate prompt_template_;
};

using TokenizerPtr = std::shared_ptr<Llama2Tokenizer>;

// Registers torchtune.models.llama2.llama2_tokenizer (args path, max_seq_len,
// prompt_template), which builds a TokenizerPtr. prompt_template accepts
// torchtune.models.llama2.Llama2ChatTemplate (the default), its alias
// torchtune.data.Llama2ChatTemplate, or null.
void register_llama2_tokenizer();

}  // namespace tt::llama2
