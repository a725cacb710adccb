// torchtune's SFT data path (datasets/_sft.py): records become messages (a message
// transform), messages become tokens and a loss mask (the tokenizer), and labels are the
// tokens with masked positions set to the ignore index. Tokenization is lazy, per get().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "torchtune_cpp/data/json_records.h"
#include "torchtune_cpp/modules/loss.h"
#include "torchtune_cpp/modules/tokenizers/message.h"
#include "torchtune_cpp/modules/tokenizers/tokenizer.h"

namespace tt::data {

// One training example. input_pos and seq_lens are filled only by packed datasets.
struct Sample {
  std::vector<int64_t> tokens;
  std::vector<int64_t> labels;
  std::vector<int64_t> input_pos;
  std::vector<int64_t> seq_lens;
};

// What the recipes iterate: a fixed number of samples, read by index.
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  virtual Sample get(int64_t index) const = 0;
  virtual bool packed() const { return false; }
};

using DatasetPtr = std::shared_ptr<Dataset>;

// SFTTransform's model step: tokenize the messages, labels = tokens where unmasked, -100
// where masked.
Sample sft_transform(const modules::ModelTokenizer& tokenizer,
                     const std::vector<modules::Message>& messages);

using MessageTransform = std::function<std::vector<modules::Message>(const JsonRecord&)>;

// torchtune's SFTDataset over records already loaded.
class SftDataset : public Dataset {
 public:
  SftDataset(std::vector<JsonRecord> records, MessageTransform message_transform,
             modules::ModelTokenizerPtr tokenizer);
  int64_t size() const override { return static_cast<int64_t>(records_.size()); }
  Sample get(int64_t index) const override;
  const std::vector<JsonRecord>& records() const { return records_; }

 private:
  std::vector<JsonRecord> records_;
  MessageTransform message_transform_;
  modules::ModelTokenizerPtr tokenizer_;
};

}  // namespace tt::data
