// The tokenizer interfaces of torchtune (modules/transforms/tokenizers/_utils.py):
// BaseTokenizer turns text into token ids and back; ModelTokenizer adds what datasets need
// (a conversation's tokens and loss mask, max_seq_len, the special ids). Datasets take a
// ModelTokenizer so data/ works with any model's tokenizer without depending on models/.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "torchtune_cpp/modules/tokenizers/message.h"

namespace tt::modules {

// Tokens of a conversation and, per token, whether it is masked out of the loss
// (torchtune's (tokens, mask) pair from tokenize_messages).
struct TokenizedMessages {
  std::vector<int64_t> tokens;
  std::vector<bool> mask;
};

// torchtune's BaseTokenizer. No default arguments here: they would bind to the static
// type, so callers through the interface pass every argument.
class BaseTokenizer {
 public:
  virtual ~BaseTokenizer() = default;

  virtual std::vector<int64_t> encode(const std::string& text, bool add_bos,
                                      bool add_eos) const = 0;
  virtual std::string decode(const std::vector<int64_t>& ids) const = 0;
};

// torchtune's ModelTokenizer. It is also a BaseTokenizer because torchtune's datasets call
// encode on the model tokenizer they are given (TextCompletionDataset).
class ModelTokenizer : public BaseTokenizer {
 public:
  // The conversation's tokens and mask (same length), with the model's prompt template and
  // special tokens applied and truncated to max_seq_len. add_end_tokens=false leaves the
  // last turn open (inference); add_start_tokens=false omits the turn-start tokens.
  virtual TokenizedMessages tokenize_messages(const std::vector<Message>& messages,
                                              bool add_end_tokens, bool add_start_tokens) const = 0;

  // Longest token sequence tokenize_messages returns; none: no truncation.
  virtual std::optional<int64_t> max_seq_len() const = 0;
  virtual int64_t vocab_size() const = 0;
  virtual int64_t bos_id() const = 0;
  virtual int64_t eos_id() const = 0;
  // The id collation and packing pad with.
  virtual int64_t pad_id() const = 0;
};

using ModelTokenizerPtr = std::shared_ptr<ModelTokenizer>;

}  // namespace tt::modules
