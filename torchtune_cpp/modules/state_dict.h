// Checks on model state dicts (the StateDict type itself is core/state_dict.h's).
#pragma once

#include <string>

#include "torchtune_cpp/core/state_dict.h"

namespace tt::modules {

// Refuses weights no training can start from, before they are copied into a model: a
// tensor of a non-floating dtype (an int32 "weight" is not a model checkpoint) or one holding
// NaN or infinite values. `origin` names the checkpoint (its folder or file); the error names
// it and the tensor's key.
void check_weights(const StateDict& sd, const std::string& origin);

}  // namespace tt::modules
