// PackedDataset: the same buffer/boundary logic and padding as torchtune's _pack,
// _split_and_add_pack and _pad_pack.
#include "torchtune_cpp/data/packed.h"

#include <algorithm>

#include "torchtune_cpp/utils/check.h"

namespace tt::data {

namespace {

void append(std::vector<int64_t>& to, const std::vector<int64_t>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

// v[from, to) as a new vector.
std::vector<int64_t> slice(const std::vector<int64_t>& v, size_t from, size_t to) {
  return std::vector<int64_t>(v.begin() + static_cast<std::ptrdiff_t>(from),
                              v.begin() + static_cast<std::ptrdiff_t>(to));
}

}  // namespace

PackedDataset::PackedDataset(const Dataset& ds, int64_t max_seq_len,
                             std::optional<int64_t> max_packs, int64_t padding_idx,
                             bool split_across_pack)
    : max_seq_len_(max_seq_len), padding_idx_(padding_idx) {
  TT_CHECK(max_seq_len > 0, "tokenizer.max_seq_len", "must be positive to pack, got ", max_seq_len);
  auto full = [&] { return max_packs && static_cast<int64_t>(packs_.size()) == *max_packs; };
  Sample current;
  size_t previous_boundary = 0;
  for (int64_t i = 0; i < ds.size(); ++i) {
    Sample s = ds.get(i);
    const auto len = static_cast<int64_t>(s.tokens.size());
    TT_CHECK(len <= max_seq_len || split_across_pack, str("dataset sample ", i),
             "Dataset sample is too long (", len, " > ", max_seq_len,
             "). Please set `split_across_pack=True` or increase `max_seq_len`.");
    append(current.tokens, s.tokens);
    append(current.labels, s.labels);
    for (int64_t j = 0; j < len; ++j) current.input_pos.push_back(j % max_seq_len);
    current.seq_lens.push_back(len);
    while (static_cast<int64_t>(current.tokens.size()) > max_seq_len && !full()) {
      // Split: the pack ends at max_seq_len, the cut sample counting only its part in it.
      // Otherwise everything before the last sample becomes a pack and that sample starts
      // the next.
      const size_t cut = split_across_pack ? static_cast<size_t>(max_seq_len) : previous_boundary;
      const size_t end = current.tokens.size();
      std::vector<int64_t> lens = slice(current.seq_lens, 0, current.seq_lens.size() - 1);
      if (split_across_pack) {
        int64_t used = 0;
        for (int64_t l : lens) used += l;
        if (max_seq_len - used > 0) lens.push_back(max_seq_len - used);
      }
      add_pack(Sample{slice(current.tokens, 0, cut), slice(current.labels, 0, cut),
                      slice(current.input_pos, 0, cut), std::move(lens)});
      const int64_t next_len =
          split_across_pack ? static_cast<int64_t>(end - cut) : current.seq_lens.back();
      Sample next{slice(current.tokens, cut, end),
                  slice(current.labels, cut, end),
                  slice(current.input_pos, cut, end),
                  {next_len}};
      current = std::move(next);
    }
    previous_boundary = current.tokens.size();
    if (full()) break;
  }
  if (!current.tokens.empty() && !full()) add_pack(std::move(current));
}

void PackedDataset::add_pack(Sample pack) {
  const auto n = static_cast<int64_t>(pack.tokens.size());
  const int64_t pad = max_seq_len_ - n;
  pack.tokens.resize(static_cast<size_t>(max_seq_len_), padding_idx_);
  pack.labels.resize(static_cast<size_t>(max_seq_len_), modules::kIgnoreIndex);
  if (pad > 0) pack.seq_lens.push_back(pad);
  // Padding positions continue from the last one, clamped to max_seq_len - 1.
  const int64_t last = pack.input_pos.empty() ? -1 : pack.input_pos.back();
  for (int64_t k = 1; k <= pad; ++k) pack.input_pos.push_back(std::min(last + k, max_seq_len_ - 1));
  packs_.push_back(std::move(pack));
}

Sample PackedDataset::get(int64_t index) const {
  TT_CHECK(index >= 0 && index < size(), "dataset", "pack index ", index,
           " out of range for a dataset of ", size(), " packs");
  return packs_[static_cast<size_t>(index)];
}

}  // namespace tt::data
