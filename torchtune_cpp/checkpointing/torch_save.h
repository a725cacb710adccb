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
// torch.load(weights_only=True), the default since PyTorch 2.6. So this file has its own
// restricted unpickler and pickler, limited to what weights_only allows for checkpoints:
// tensors, dicts, OrderedDicts, lists, tuples, ints, floats, bools, strings, bytes and None.
// Any other global in a pickle is refused before anything is built: a crafted file cannot run
// code or build objects here, it only gets a tt::Error naming the file and the global.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "torchtune_cpp/modules/state_dict.h"

namespace tt {

// A pickled value tree, with value semantics (copies are deep; tensors are shared handles).
// Dicts keep insertion order, as Python's do; `is_ordered_dict()` tells a
// collections.OrderedDict from a plain dict so both round-trip.
class PickleValue {
 public:
  enum class Kind { kNone, kBool, kInt, kDouble, kString, kBytes, kTensor, kList, kTuple, kDict };
  using Items = std::vector<PickleValue>;
  using DictItems = std::vector<std::pair<PickleValue, PickleValue>>;

  PickleValue() = default;  // None
  PickleValue(bool v);
  PickleValue(int v);
  PickleValue(int64_t v);
  PickleValue(double v);
  PickleValue(const char* v);
  PickleValue(std::string v);
  PickleValue(at::Tensor v);
  static PickleValue none() { return {}; }
  static PickleValue bytes(std::string data);
  static PickleValue list(Items items = {});
  static PickleValue tuple(Items items = {});
  static PickleValue dict(DictItems items = {});
  static PickleValue ordered_dict(DictItems items = {});

  Kind kind() const { return kind_; }
  // "None", "bool", "int", "float", "str", "bytes", "Tensor", "list", "tuple", "dict",
  // "OrderedDict": Python's names, for messages.
  std::string type_name() const;
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_double() const { return kind_ == Kind::kDouble; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_bytes() const { return kind_ == Kind::kBytes; }
  bool is_tensor() const { return kind_ == Kind::kTensor; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_tuple() const { return kind_ == Kind::kTuple; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_ordered_dict() const { return kind_ == Kind::kDict && ordered_; }

  // Typed access; a tt::Error naming the expected and the actual type on mismatch.
  bool to_bool() const;
  int64_t to_int() const;
  double to_double() const;  // a float, or an int widened as Python would
  const std::string& to_string() const;
  const std::string& to_bytes() const;
  const at::Tensor& to_tensor() const;
  const Items& items() const;  // list or tuple
  Items& items();
  const DictItems& dict_items() const;
  DictItems& dict_items();
  size_t size() const;  // list, tuple or dict length

  // Dict access. find() returns nullptr when absent; at() throws a tt::Error naming the key.
  const PickleValue* find(const PickleValue& key) const;
  const PickleValue& at(const PickleValue& key) const;
  // Inserts at the end, or replaces the value of an existing key in place (Python's d[k] = v).
  void set(PickleValue key, PickleValue value);
  // Appends to a list.
  void append(PickleValue value);

  // Deep equality, strict enough for round-trip checks: same kinds (int 1 != float 1.0 !=
  // True, list != tuple, dict != OrderedDict), equal ints and strings, floats with identical
  // bits (-0.0 != 0.0), dicts in the same order, and tensors of equal dtype and shape with
  // identical bytes (strides and devices may differ).
  bool operator==(const PickleValue& other) const;
  bool operator!=(const PickleValue& other) const { return !(*this == other); }
  // Python-like text, tensors as tensor(bfloat16[2, 3]); for messages and test output.
  std::string repr() const;

 private:
  Kind kind_ = Kind::kNone;
  bool ordered_ = false;
  bool bool_ = false;
  int64_t int_ = 0;
  double double_ = 0.0;
  std::string string_;  // str (UTF-8) or bytes
  at::Tensor tensor_;
  Items items_;
  DictItems dict_;
};

// Reads a torch.save file. Tensors are CPU tensors; each storage is a copy-on-write view of the
// memory-mapped file when it is stored uncompressed and aligned (always, for files torch.save
// wrote), so loading a multi-GB shard costs no second copy, and writing into a loaded tensor
// changes only this process's memory. Tensors that shared a storage in the file share one here
// (views keep their offsets and strides). Bad, truncated, legacy (non-zip) or crafted files are
// tt::Errors naming the file (and the storage record where one is at fault): a tensor reaching
// outside its storage, a record whose size disagrees with the pickle, values nested more than
// 1000 levels or a pickle that would build more than 512 MiB of values (through the memo).
PickleValue load_torch_file(const std::string& path);

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

// A state dict file (.pt / .bin): the top-level dict or OrderedDict of name -> tensor, in file
// order. Anything else (a nested training checkpoint, a list) is a tt::Error naming the file.
StateDict load_state_dict_file(const std::string& path);

// Writes a state dict as torch.save(OrderedDict) does: what torchtune's checkpointers and
// transformers' pytorch_model-*.bin shards contain.
void save_state_dict_file(const std::string& path, const StateDict& state_dict);

}  // namespace tt
