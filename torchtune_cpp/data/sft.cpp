// SFTTransform and SFTDataset (torchtune datasets/_sft.py).
#include "torchtune_cpp/data/sft.h"

#include "torchtune_cpp/utils/check.h"

namespace tt::data {

Sample sft_transform(const llama2::Llama2Tokenizer& tokenizer,
                     const std::vector<Message>& messages) {
  llama2::TokenizedMessages t = tokenizer.tokenize_messages(messages);
  Sample s;
  s.labels.resize(t.tokens.size());
  for (size_t i = 0; i < t.tokens.size(); ++i) s.labels[i] = t.mask[i] ? kIgnoreIndex : t.tokens[i];
  s.tokens = std::move(t.tokens);
  return s;
}

SftDataset::SftDataset(std::vector<JsonRecord> records, MessageTransform message_transform,
                       llama2::TokenizerPtr tokenizer)
    : records_(std::move(records)),
      message_transform_(std::move(message_transform)),
      tokenizer_(std::move(tokenizer)) {
  TT_CHECK(tokenizer_ != nullptr, "dataset", "a tokenizer is required");
}

Sample SftDataset::get(int64_t index) const {
  TT_CHECK(index >= 0 && index < size(), "dataset", "sample index ", index,
           " out of range for a dataset of ", size(), " samples");
  return sft_transform(*tokenizer_, message_transform_(records_[static_cast<size_t>(index)]));
}

}  // namespace tt::data
