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

}  // namespace tt
