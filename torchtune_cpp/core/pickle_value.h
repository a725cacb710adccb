// PickleValue: the value tree of a pickled Python object, as torch.save files hold it
// (checkpointing/torch_load.h reads them, torch_save.h writes them): tensors, dicts, OrderedDicts,
// lists, tuples, ints, floats, bools, strings, bytes and None. A plain value type, so training
// state (optimizer and recipe state dicts) can be built and inspected without the file formats.
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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

// Python's spelling of a dtype ("float32", "bfloat16", "int64"): what repr() shows for a
// tensor, and what messages about pickled tensors name.
std::string python_dtype_name(at::ScalarType dtype);

}  // namespace tt
