// torchtune's ConcatDataset (datasets/_concat.py): a config's `dataset:` given as a list of
// datasets, read one after another. Either all are packed or none ("ConcatDataset can't
// process a mix of packed and non-packed datasets.").
#pragma once

#include <vector>

#include "torchtune_cpp/data/sft.h"

namespace tt::data {

class ConcatDataset : public Dataset {
 public:
  explicit ConcatDataset(std::vector<DatasetPtr> datasets, const std::string& where = "dataset");
  int64_t size() const override { return total_; }
  Sample get(int64_t index) const override;
  bool packed() const override { return packed_; }

 private:
  std::vector<DatasetPtr> datasets_;
  std::vector<int64_t> starts_;  // first global index of each dataset
  int64_t total_ = 0;
  bool packed_ = false;
};

}  // namespace tt::data
