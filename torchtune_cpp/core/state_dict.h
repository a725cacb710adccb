// Named tensors in a fixed order: state dicts (torchtune's `model.state_dict()` order), the
// common currency of models, weight conversions and checkpointers, and parameter lists, what
// optimizers and gradient clipping work on. Only the types live here, so every folder may use
// them without depending on models or checkpointing.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

namespace tt {

using NamedTensor = std::pair<std::string, at::Tensor>;
using StateDict = std::vector<NamedTensor>;

// The parameter list (tensors that require grad, in model order). The same type as StateDict;
// the name says which of the two a function expects.
using NamedParameters = std::vector<NamedTensor>;

// The tensor stored under `key`, or nullptr.
inline const at::Tensor* find_tensor(const StateDict& sd, const std::string& key) {
  for (const auto& [k, t] : sd)
    if (k == key) return &t;
  return nullptr;
}

}  // namespace tt
