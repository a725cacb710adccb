// torchtune's TextCompletionDataset (datasets/_text_completion.py): each record's text column
// is one sample, encoded with BOS (and EOS when add_eos), cut to max_seq_len - 1 tokens when
// the tokenizer has a max_seq_len (no EOS forced after a cut); labels = tokens, nothing masked.
#pragma once

#include <string>
#include <vector>

#include "torchtune_cpp/data/sft.h"

namespace tt::data {

class TextCompletionDataset : public Dataset {
 public:
  TextCompletionDataset(std::vector<JsonRecord> records, std::string column, bool add_eos,
                        modules::ModelTokenizerPtr tokenizer);
  int64_t size() const override { return static_cast<int64_t>(records_.size()); }
  Sample get(int64_t index) const override;

 private:
  std::vector<JsonRecord> records_;
  std::string column_;
  bool add_eos_;
  modules::ModelTokenizerPtr tokenizer_;
};

}  // namespace tt::data
