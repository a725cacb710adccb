// torchtune's Llama2Tokenizer (models/llama2/_tokenizer.py) and its builder
// `torchtune.models.llama2.llama2_tokenizer(path, max_seq_len=None,
// prompt_template="torchtune.models.llama2.Llama2ChatTemplate")`: SentencePiece with
// pad id 0, the Llama2 chat template applied to message lists by default, and
// tokenize_messages giving the tokens and loss mask of a conversation (a ModelTokenizer).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "torchtune_cpp/modules/tokenizers/message.h"
#include "torchtune_cpp/modules/tokenizers/sentencepiece.h"
#include "torchtune_cpp/modules/tokenizers/tokenizer.h"

namespace tt::llama2 {

// modules::TokenizedMessages, also reachable as llama2::TokenizedMessages.
using TokenizedMessages = modules::TokenizedMessages;

class Llama2Tokenizer : public modules::ModelTokenizer {
 public:
  // `prompt_template` empty: messages are tokenized as given (torchtune's None).
  explicit Llama2Tokenizer(const std::string& path,
                           std::optional<int64_t> max_seq_len = std::nullopt,
                           modules::PromptTemplate prompt_template = default_prompt_template());

  // torchtune's default: Llama2ChatTemplate.
  static modules::PromptTemplate default_prompt_template();

  std::vector<int64_t> encode(const std::string& text, bool add_bos = true,
                              bool add_eos = true) const override {
    return spm_.encode(text, add_bos, add_eos);
  }
  // SentencePiece's leading-whitespace trimming (see SentencePieceBaseTokenizer::encode).
  // An overload without defaults, so three-argument calls pick the override above.
  std::vector<int64_t> encode(const std::string& text, bool add_bos, bool add_eos,
                              bool trim_leading_whitespace) const {
    return spm_.encode(text, add_bos, add_eos, trim_leading_whitespace);
  }
  std::string decode(const std::vector<int64_t>& ids) const override { return spm_.decode(ids); }

  // Applies the prompt template, then tokenizes as torchtune's
  // tokenize_messages_no_special_tokens: BOS at each turn start, each content item encoded
  // on its own, EOS after each assistant message, truncation to max_seq_len. The argument
  // order differs from torchtune's keywords (add_start_tokens, add_end_tokens) because the
  // recipes' one variation is add_end_tokens=false, for inference.
  modules::TokenizedMessages tokenize_messages(const std::vector<modules::Message>& messages,
                                               bool add_end_tokens = true,
                                               bool add_start_tokens = true) const override;
  // The same for messages already formatted (no template applied here).
  modules::TokenizedMessages tokenize_templated_messages(
      const std::vector<modules::TemplatedMessage>& messages, bool add_end_tokens = true,
      bool add_start_tokens = true) const;

  int64_t vocab_size() const override { return spm_.vocab_size(); }
  int64_t bos_id() const override { return spm_.bos_id(); }
  int64_t eos_id() const override { return spm_.eos_id(); }
  // 0, as torchtune forces: Llama2's model has no pad piece, and collation needs an id.
  int64_t pad_id() const override { return 0; }
  std::vector<int64_t> stop_tokens() const { return {eos_id()}; }
  std::optional<int64_t> max_seq_len() const override { return max_seq_len_; }
  const modules::PromptTemplate& prompt_template() const { return prompt_template_; }
  const modules::SentencePieceBaseTokenizer& base() const { return spm_; }

 private:
  modules::SentencePieceBaseTokenizer spm_;
  std::optional<int64_t> max_seq_len_;
  modules::PromptTemplate prompt_template_;
};

// What the registered builder returns; converts implicitly to ModelTokenizerPtr.
using TokenizerPtr = std::shared_ptr<Llama2Tokenizer>;

// Registers torchtune.models.llama2.llama2_tokenizer (args path, max_seq_len,
// prompt_template), which builds a TokenizerPtr. prompt_template accepts
// torchtune.models.llama2.Llama2ChatTemplate (the default), its alias
// torchtune.data.Llama2ChatTemplate, or null.
void register_llama2_tokenizer();

}  // namespace tt::llama2
