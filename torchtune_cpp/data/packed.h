// torchtune's PackedDataset (datasets/_packed.py) for SFT: samples concatenated greedily,
// in dataset order, into packs of exactly max_seq_len tokens, each carrying per-document
// positions (input_pos) and document lengths (seq_lens) for the block-causal mask.
#pragma once

#include <optional>

#include "torchtune_cpp/data/sft.h"

namespace tt::data {

class PackedDataset : public Dataset {
 public:
  // Packs eagerly, as torchtune does. A sample longer than max_seq_len is a tt::Error
  // (split_across_pack is False for SFT).
  PackedDataset(const Dataset& ds, int64_t max_seq_len, std::optional<int64_t> max_packs = {},
                int64_t padding_idx = 0);
  int64_t size() const override { return static_cast<int64_t>(packs_.size()); }
  Sample get(int64_t index) const override;
  bool packed() const override { return true; }

 private:
  void add_pack(Sample pack);
  int64_t max_seq_len_;
  int64_t padding_idx_;
  std::vector<Sample> packs_;
};

}  // namespace tt::data
