// The restricted unpickler behind load_torch_file (torch_load.h): torch.load(weights_only=True)'s
// subset of pickle, building a PickleValue; tensors' storages come from the caller.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <string>

#include "torchtune_cpp/core/pickle_value.h"

namespace tt::checkpointing {

// The storage record `key` ("data/<key>" in the zip) as a 1-D tensor of `numel` elements.
using StorageLoader =
    std::function<at::Tensor(const std::string& key, at::ScalarType dtype, int64_t numel)>;

// The value `pickle` (data.pkl of the file `path`, named in errors) describes. Globals other
// than the tensor rebuilders, storages and containers torch.save writes are refused; so are
// values nested more than torch_save_format::kMaxDepth levels or costing more than 512 MiB.
PickleValue unpickle(const std::string& path, const std::string& pickle,
                     const StorageLoader& load_storage);

}  // namespace tt::checkpointing
