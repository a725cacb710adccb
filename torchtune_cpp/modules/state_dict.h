// State dicts: named tensors in a fixed order (torchtune's `model.state_dict()` order),
// the common currency of models, weight conversions and checkpointers.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

namespace tt {

using NamedTensor = std::pair<std::string, at::Tensor>;
using StateDict = std::vector<NamedTensor>;

// The tensor stored under `key`, or nullptr.
inline const at::Tensor* find_tensor(const StateDict& sd, const std::string& key) {
  for (const auto& [k, t] : sd)
    if (k == key) return &t;
  return nullptr;
}

// Refuses weights no training can start from, before they are copied into a model: a
// tensor of a non-floating dtype (an int32 "weight" is not a model checkpoint) or one holding
// NaN or infinite values. `origin` names the checkpoint (its folder or file); the error names
// it and the tensor's key.
void check_weights(const StateDict& sd, const std::string& origin);

}  // namespace tt
