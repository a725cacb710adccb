// torchtune's PackedDataset (datasets/_packed.py): samples concatenated greedily, in dataset
// order, into packs of exactly max_seq_len tokens, each carrying per-document positions
// (input_pos) and document lengths (seq_lens) for the block-causal mask. With
// split_across_pack (text completion's default) a sample that does not fit is cut at the
// pack boundary and continues in the next pack, keeping its positions; without it the
// sample starts the next pack.
#pragma once

#include <optional>

#include "torchtune_cpp/data/sft.h"

namespace tt::data {

class PackedDataset : public Dataset {
 public:
  // Packs eagerly, as torchtune does. Without split_across_pack, a sample longer than
  // max_seq_len is a tt::Error.
  PackedDataset(const Dataset& ds, int64_t max_seq_len, std::optional<int64_t> max_packs = {},
                int64_t padding_idx = 0, bool split_across_pack = false);
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
