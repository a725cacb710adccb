// Text-completion samples.
#include "torchtune_cpp/data/text_completion.h"

#include "torchtune_cpp/utils/check.h"

namespace tt::data {

TextCompletionDataset::TextCompletionDataset(std::vector<JsonRecord> records, std::string column,
                                             bool add_eos, modules::ModelTokenizerPtr tokenizer)
    : records_(std::move(records)),
      column_(std::move(column)),
      add_eos_(add_eos),
      tokenizer_(std::move(tokenizer)) {
  // Every record is checked now, so bad data stops the run before anything is written.
  for (const JsonRecord& r : records_) {
    const FieldValue* v = r.find(column_);
    TT_CHECK(v != nullptr, r.where(), "record has no '", column_,
             "' column; set column to the text column");
    TT_CHECK(v->kind == FieldValue::Kind::kString, r.where(), "column '", column_,
             "' must be text, got ", v->text,
             v->kind == FieldValue::Kind::kNull ? " (an empty or missing value)" : "");
  }
}

Sample TextCompletionDataset::get(int64_t index) const {
  TT_CHECK(index >= 0 && index < size(), "dataset", "sample index ", index,
           " out of range for a dataset of ", size(), " samples");
  Sample s;
  s.tokens =
      tokenizer_->encode(records_[static_cast<size_t>(index)].find(column_)->text, true, add_eos_);
  if (const auto max = tokenizer_->max_seq_len();
      max && static_cast<int64_t>(s.tokens.size()) > *max - 1)
    s.tokens.resize(static_cast<size_t>(*max - 1));
  s.labels = s.tokens;
  return s;
}

}  // namespace tt::data
