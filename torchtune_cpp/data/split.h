// Hugging Face `split` strings for local files (datasets' ReadInstruction): "train",
// slices such as "train[:10%]", "train[-5:]", "train[10%:25%]", and sums joined by "+".
// Local data_files form the one split "train".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "torchtune_cpp/data/json_records.h"

namespace tt::data {

// The indices of the records `spec` selects from a split of num_examples, in order.
// Percentages round to the closest index (half to even, as Python's round); negative
// bounds count from the end; out-of-range bounds are clamped. A malformed spec, another
// split name or a percentage beyond +-100 is a tt::Error at `where`.
std::vector<int64_t> split_indices(const std::string& spec, int64_t num_examples,
                                   const std::string& where = "dataset.split");

// The records of `all` that the split `spec` selects. No records at all is a tt::Error
// naming the data files (`where_files`): a dataset with no samples trains nothing. A split
// that selects none is allowed here, as in Hugging Face datasets (the recipes refuse an
// empty dataset when they build it, data/builders.h).
std::vector<JsonRecord> select_split(std::vector<JsonRecord> all, const std::string& spec,
                                     const std::vector<std::string>& data_files,
                                     const std::string& where_files,
                                     const std::string& where_split);

}  // namespace tt::data
