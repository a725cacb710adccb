// Reading PyTorch's torch.save files (.pt / .bin / .pth) without Python: load_torch_file and
// load_state_dict_file. The file format, and why this has its own unpickler, are described in
// torch_save.h, the header of both reading and writing (it includes this one).
#pragma once

#include <string>

#include "torchtune_cpp/core/pickle_value.h"
#include "torchtune_cpp/core/state_dict.h"

namespace tt::checkpointing {

// Reads a torch.save file. Tensors are CPU tensors; each storage is a copy-on-write view of the
// memory-mapped file when it is stored uncompressed and aligned (always, for files torch.save
// wrote), so loading a multi-GB shard costs no second copy, and writing into a loaded tensor
// changes only this process's memory. Tensors that shared a storage in the file share one here
// (views keep their offsets and strides). Bad, truncated, legacy (non-zip) or crafted files are
// tt::Errors naming the file (and the storage record where one is at fault): a tensor reaching
// outside its storage, a record whose size disagrees with the pickle, values nested more than
// 1000 levels or a pickle that would build more than 512 MiB of values (through the memo).
PickleValue load_torch_file(const std::string& path);

// A state dict file (.pt / .bin): the top-level dict or OrderedDict of name -> tensor, in file
// order. Anything else (a nested training checkpoint, a list) is a tt::Error naming the file.
StateDict load_state_dict_file(const std::string& path);

}  // namespace tt::checkpointing
