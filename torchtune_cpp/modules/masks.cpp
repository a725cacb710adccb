// Block-causal masks and per-document positions.
#include "torchtune_cpp/modules/masks.h"

#include <numeric>

#include "torchtune_cpp/utils/check.h"

namespace tt::modules {

namespace {
int64_t row_total(const std::vector<int64_t>& lens) {
  return std::accumulate(lens.begin(), lens.end(), int64_t{0});
}
}  // namespace

at::Tensor block_causal_mask(const std::vector<std::vector<int64_t>>& seq_lens, at::Device device) {
  TT_CHECK(!seq_lens.empty(), "packed batch", "needs at least one row of document lengths");
  const int64_t T = row_total(seq_lens[0]);
  std::vector<at::Tensor> rows;
  for (const auto& lens : seq_lens) {
    TT_CHECK(row_total(lens) == T, "packed batch", "every row must pack ", T, " tokens, got ",
             row_total(lens));
    std::vector<at::Tensor> blocks;
    for (int64_t n : lens) blocks.push_back(at::ones({n, n}, at::kBool).tril());
    rows.push_back(at::block_diag(blocks));
  }
  return at::stack(rows).to(device);
}

at::Tensor packed_input_pos(const std::vector<std::vector<int64_t>>& seq_lens, at::Device device) {
  std::vector<at::Tensor> rows;
  for (const auto& lens : seq_lens) {
    std::vector<at::Tensor> parts;
    for (int64_t n : lens) parts.push_back(at::arange(n, at::kLong));
    rows.push_back(at::cat(parts));
  }
  return at::stack(rows).to(device);
}

}  // namespace tt::modules
