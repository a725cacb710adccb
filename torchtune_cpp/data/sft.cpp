// SFTTransform and SFTDataset (torchtune datasets/_sft.py).
#include "torchtune_cpp/data/sft.h"

#include "torchtune_cpp/utils/check.h"

namespace tt::data {

Sample sft_transform(const modules::ModelTokenizer& tokenizer,
                     const std::vector<modules::Message>& messages) {
  // torchtune's SFTTransform: turn starts and ends both added.
  modules::TokenizedMessages t =
      tokenizer.tokenize_messages(messages, /*add_end_tokens=*/true, /*add_start_tokens=*/true);
  Sample s;
  s.labels.resize(t.tokens.size());
  for (size_t i = 0; i < t.tokens.size(); ++i)
    s.labels[i] = t.mask[i] ? modules::kIgnoreIndex : t.tokens[i];
  s.tokens = std::move(t.tokens);
  return s;
}

SftDataset::SftDataset(std::vector<JsonRecord> records, MessageTransform message_transform,
                       modules::ModelTokenizerPtr tokenizer)
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
