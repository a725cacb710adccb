// PyTorch's torch.save files (.pt / .bin / .pth), read and written without Python.
//
// A torch.save file is a zip (stored, entries 64-byte aligned) under one top folder:
// data.pkl (a protocol-2 pickle of the object), data/<key> (one raw little-endian storage per
// key), byteorder, version, .format_version, .storage_alignment, .data/serialization_id.
// Tensors appear in the pickle as torch._utils._rebuild_tensor_v2(storage, offset, size,
// stride, requires_grad, hooks), the storage as the persistent id
// ('storage', torch.<Type>Storage, key, location, numel).
//
// LibTorch's own torch::pickle_load cannot read collections.OrderedDict (every state dict and
// Hugging Face .bin shard), and Python refuses torch::pickle_save's output under
// torch.load(weights_only=True), the default since PyTorch 2.6. So unpickler.cpp and
// torch_save.cpp have their own restricted unpickler and pickler, limited to what weights_only
// allows for checkpoints: tensors, dicts, OrderedDicts, lists, tuples, ints, floats, bools,
// strings, bytes and None. Any other global in a pickle is refused before anything is built: a
// crafted file cannot run code or build objects here, it only gets a tt::Error naming the file and
// the global.
//
// The value tree is core/pickle_value.h's PickleValue; the reading side is declared in
// torch_load.h (torch_load.cpp), included here, the writing side below (torch_save.cpp).
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>

#include "torchtune_cpp/checkpointing/torch_load.h"
#include "torchtune_cpp/core/pickle_value.h"
#include "torchtune_cpp/core/state_dict.h"

namespace tt::checkpointing {

// Writes `root` as torch.save would, loadable by Python's torch.load(path, weights_only=True),
// through TorchSaveWriter.
void save_torch_file(const std::string& path, const PickleValue& root);

// Streams a torch.save file: storages go to disk as tensors are handed over, the pickle comes
// last. The file is written as `path + ".tmp"` and renamed on finish(); destroyed unfinished,
// the temporary file is removed and `path` is untouched.
class TorchSaveWriter {
 public:
  explicit TorchSaveWriter(std::string path);
  ~TorchSaveWriter();
  TorchSaveWriter(const TorchSaveWriter&) = delete;
  TorchSaveWriter& operator=(const TorchSaveWriter&) = delete;

  // Writes `tensor`'s storage now (once per distinct storage; any device, one CPU copy of a
  // GPU storage at a time) and returns the value to place in the tree given to finish(). It
  // holds no data (a meta tensor with the same dtype, shape, strides and offset), so the caller
  // may free `tensor` at once: a sharded save can gather, write and drop one tensor at a time.
  PickleValue write(const at::Tensor& tensor);
  // Pickles `root` and completes the file. Tensors in `root` are either values returned by
  // write() or ordinary tensors, whose storages are written now, one at a time. As in
  // torch.save, a view saves its whole storage, and views of one storage stay views.
  void finish(const PickleValue& root);

  const std::string& path() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Writes a state dict as torch.save(OrderedDict) does: what torchtune's checkpointers and
// transformers' pytorch_model-*.bin shards contain.
void save_state_dict_file(const std::string& path, const StateDict& state_dict);

}  // namespace tt::checkpointing
