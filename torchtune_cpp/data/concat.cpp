// Concatenated datasets.
#include "torchtune_cpp/data/concat.h"

#include <algorithm>

#include "torchtune_cpp/utils/check.h"

namespace tt::data {

ConcatDataset::ConcatDataset(std::vector<DatasetPtr> datasets, const std::string& where)
    : datasets_(std::move(datasets)) {
  TT_CHECK(!datasets_.empty(), where, "an empty list of datasets; give at least one");
  size_t n_packed = 0;
  for (const auto& d : datasets_) {
    n_packed += d->packed() ? 1 : 0;
    starts_.push_back(total_);
    total_ += d->size();
  }
  TT_CHECK(n_packed == 0 || n_packed == datasets_.size(), where,
           "ConcatDataset can't process a mix of packed and non-packed datasets. Set packed to the "
           "same value "
           "in every dataset of the list");
  packed_ = n_packed == datasets_.size();
}

Sample ConcatDataset::get(int64_t index) const {
  TT_CHECK(index >= 0 && index < total_, "dataset", "sample index ", index,
           " out of range for a dataset of ", total_, " samples");
  const size_t k = static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), index) -
                                       starts_.begin()) -
                   1;
  return datasets_[k]->get(index - starts_[k]);
}

}  // namespace tt::data
