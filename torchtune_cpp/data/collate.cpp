// padded_collate_sft: pad_sequence(batch_first) of tokens and of labels, then the shorter
// of the two widths padded up to the other, as torchtune does. padded_collate_packed:
// torch.stack of the packs plus their block-causal mask.
#include "torchtune_cpp/data/collate.h"

#include "torchtune_cpp/modules/masks.h"

#include <algorithm>

#include "torchtune_cpp/utils/check.h"

namespace tt::data {

SftBatch padded_collate_sft(const std::vector<Sample>& batch, int64_t padding_idx,
                            int64_t ignore_idx) {
  TT_CHECK(!batch.empty(), "collate", "cannot collate an empty batch");
  size_t width = 0;
  for (const Sample& s : batch) width = std::max({width, s.tokens.size(), s.labels.size()});
  const auto b = static_cast<int64_t>(batch.size());
  const auto w = static_cast<int64_t>(width);
  at::Tensor tokens = at::full({b, w}, padding_idx, at::kLong);
  at::Tensor labels = at::full({b, w}, ignore_idx, at::kLong);
  auto* t = tokens.data_ptr<int64_t>();
  auto* l = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    const Sample& s = batch[static_cast<size_t>(i)];
    std::copy(s.tokens.begin(), s.tokens.end(), t + i * w);
    std::copy(s.labels.begin(), s.labels.end(), l + i * w);
  }
  return {tokens, labels};
}

PackedBatch padded_collate_packed(const std::vector<Sample>& batch) {
  TT_CHECK(!batch.empty(), "collate", "cannot collate an empty batch");
  const size_t s = batch[0].tokens.size();
  std::vector<std::vector<int64_t>> seq_lens;
  std::vector<int64_t> tokens, labels, input_pos;
  for (size_t i = 0; i < batch.size(); ++i) {
    const Sample& p = batch[i];
    TT_CHECK(p.tokens.size() == s && p.labels.size() == s && p.input_pos.size() == s, "collate",
             "pack ", i, " has ", p.tokens.size(), " tokens, ", p.labels.size(), " labels and ",
             p.input_pos.size(), " positions; every pack needs ", s,
             " of each (use a packed dataset)");
    tokens.insert(tokens.end(), p.tokens.begin(), p.tokens.end());
    labels.insert(labels.end(), p.labels.begin(), p.labels.end());
    input_pos.insert(input_pos.end(), p.input_pos.begin(), p.input_pos.end());
    seq_lens.push_back(p.seq_lens);
  }
  const auto b = static_cast<int64_t>(batch.size());
  const auto w = static_cast<int64_t>(s);
  return {at::tensor(tokens, at::kLong).view({b, w}), at::tensor(labels, at::kLong).view({b, w}),
          at::tensor(input_pos, at::kLong).view({b, w}), modules::block_causal_mask(seq_lens)};
}

}  // namespace tt::data
