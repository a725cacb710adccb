// PickleValue's constructors, typed accessors, deep equality and Python-like repr.
#include "torchtune_cpp/core/pickle_value.h"

#include <cstdio>
#include <cstring>

#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/strings.h"

namespace tt {

namespace {

[[noreturn]] void value_error(const std::string& message) {
  throw Error("torch.save value", message);
}

bool same_tensor(const at::Tensor& a, const at::Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  if (a.is_meta() || b.is_meta()) return a.is_meta() && b.is_meta();
  at::Tensor ca = a.to(at::kCPU).contiguous(), cb = b.to(at::kCPU).contiguous();
  return ca.nbytes() == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

std::string repr_string(const std::string& s, bool bytes) {
  std::string out = bytes ? "b'" : "'";
  for (unsigned char c : s) {
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80)) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "'";
}

}  // namespace

std::string python_dtype_name(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat:
      return "float32";
    case at::kDouble:
      return "float64";
    case at::kHalf:
      return "float16";
    case at::kBFloat16:
      return "bfloat16";
    case at::kLong:
      return "int64";
    case at::kInt:
      return "int32";
    case at::kShort:
      return "int16";
    case at::kChar:
      return "int8";
    case at::kByte:
      return "uint8";
    case at::kBool:
      return "bool";
    case at::kComplexFloat:
      return "complex64";
    case at::kComplexDouble:
      return "complex128";
    default:
      return c10::toString(dtype);
  }
}

PickleValue::PickleValue(bool v) : kind_(Kind::kBool), bool_(v) {}
PickleValue::PickleValue(int v) : kind_(Kind::kInt), int_(v) {}
PickleValue::PickleValue(int64_t v) : kind_(Kind::kInt), int_(v) {}
PickleValue::PickleValue(double v) : kind_(Kind::kDouble), double_(v) {}
PickleValue::PickleValue(const char* v) : kind_(Kind::kString), string_(v) {}
PickleValue::PickleValue(std::string v) : kind_(Kind::kString), string_(std::move(v)) {}
PickleValue::PickleValue(at::Tensor v) : kind_(Kind::kTensor), tensor_(std::move(v)) {}

PickleValue PickleValue::bytes(std::string data) {
  PickleValue v(std::move(data));
  v.kind_ = Kind::kBytes;
  return v;
}
PickleValue PickleValue::list(Items items) {
  PickleValue v;
  v.kind_ = Kind::kList;
  v.items_ = std::move(items);
  return v;
}
PickleValue PickleValue::tuple(Items items) {
  PickleValue v;
  v.kind_ = Kind::kTuple;
  v.items_ = std::move(items);
  return v;
}
PickleValue PickleValue::dict(DictItems items) {
  PickleValue v;
  v.kind_ = Kind::kDict;
  for (auto& [k, x] : items) v.set(std::move(k), std::move(x));
  return v;
}
PickleValue PickleValue::ordered_dict(DictItems items) {
  PickleValue v = dict(std::move(items));
  v.ordered_ = true;
  return v;
}

std::string PickleValue::type_name() const {
  switch (kind_) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kDouble:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kBytes:
      return "bytes";
    case Kind::kTensor:
      return "Tensor";
    case Kind::kList:
      return "list";
    case Kind::kTuple:
      return "tuple";
    case Kind::kDict:
      return ordered_ ? "OrderedDict" : "dict";
  }
  return "?";
}

bool PickleValue::to_bool() const {
  if (kind_ != Kind::kBool)
    value_error(tt::str("expected a bool but found ", type_name(), " ", repr()));
  return bool_;
}
int64_t PickleValue::to_int() const {
  if (kind_ != Kind::kInt)
    value_error(tt::str("expected an int but found ", type_name(), " ", repr()));
  return int_;
}
double PickleValue::to_double() const {
  if (kind_ == Kind::kInt) return static_cast<double>(int_);
  if (kind_ != Kind::kDouble)
    value_error(tt::str("expected a float but found ", type_name(), " ", repr()));
  return double_;
}
const std::string& PickleValue::to_string() const {
  if (kind_ != Kind::kString)
    value_error(tt::str("expected a str but found ", type_name(), " ", repr()));
  return string_;
}
const std::string& PickleValue::to_bytes() const {
  if (kind_ != Kind::kBytes)
    value_error(tt::str("expected bytes but found ", type_name(), " ", repr()));
  return string_;
}
const at::Tensor& PickleValue::to_tensor() const {
  if (kind_ != Kind::kTensor)
    value_error(tt::str("expected a Tensor but found ", type_name(), " ", repr()));
  return tensor_;
}
const PickleValue::Items& PickleValue::items() const {
  if (kind_ != Kind::kList && kind_ != Kind::kTuple)
    value_error(tt::str("expected a list or tuple but found ", type_name()));
  return items_;
}
PickleValue::Items& PickleValue::items() {
  if (kind_ != Kind::kList && kind_ != Kind::kTuple)
    value_error(tt::str("expected a list or tuple but found ", type_name()));
  return items_;
}
const PickleValue::DictItems& PickleValue::dict_items() const {
  if (kind_ != Kind::kDict) value_error(tt::str("expected a dict but found ", type_name()));
  return dict_;
}
PickleValue::DictItems& PickleValue::dict_items() {
  if (kind_ != Kind::kDict) value_error(tt::str("expected a dict but found ", type_name()));
  return dict_;
}
size_t PickleValue::size() const {
  return kind_ == Kind::kDict ? dict_.size() : items().size();
}

const PickleValue* PickleValue::find(const PickleValue& key) const {
  for (const auto& [k, v] : dict_items())
    if (k == key) return &v;
  return nullptr;
}

const PickleValue& PickleValue::at(const PickleValue& key) const {
  const PickleValue* v = find(key);
  if (v == nullptr) {
    std::string keys;
    for (size_t i = 0; i < dict_.size() && i < 10; ++i)
      keys += (i ? ", " : "") + dict_[i].first.repr();
    if (dict_.size() > 10) keys += ", ...";
    value_error(tt::str("no key ", key.repr(), " in the dict (keys: ", keys, ")"));
  }
  return *v;
}

void PickleValue::set(PickleValue key, PickleValue value) {
  for (auto& [k, v] : dict_items()) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  dict_.emplace_back(std::move(key), std::move(value));
}

void PickleValue::append(PickleValue value) {
  if (kind_ != Kind::kList)
    value_error(tt::str("append() needs a list but this is a ", type_name()));
  items_.push_back(std::move(value));
}

bool PickleValue::operator==(const PickleValue& o) const {
  if (kind_ != o.kind_) return false;
  switch (kind_) {
    case Kind::kNone:
      return true;
    case Kind::kBool:
      return bool_ == o.bool_;
    case Kind::kInt:
      return int_ == o.int_;
    case Kind::kDouble:
      return std::memcmp(&double_, &o.double_, sizeof(double)) == 0;
    case Kind::kString:
    case Kind::kBytes:
      return string_ == o.string_;
    case Kind::kTensor:
      return same_tensor(tensor_, o.tensor_);
    case Kind::kList:
    case Kind::kTuple:
      return items_ == o.items_;
    case Kind::kDict:
      return ordered_ == o.ordered_ && dict_ == o.dict_;
  }
  return false;
}

std::string PickleValue::repr() const {
  switch (kind_) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return bool_ ? "True" : "False";
    case Kind::kInt:
      return std::to_string(int_);
    case Kind::kDouble:
      return python_float_str(double_);
    case Kind::kString:
      return repr_string(string_, false);
    case Kind::kBytes:
      return repr_string(string_, true);
    case Kind::kTensor: {
      if (!tensor_.defined()) return "tensor(undefined)";
      std::string dims;
      for (int64_t i = 0; i < tensor_.dim(); ++i)
        dims += (i ? ", " : "") + std::to_string(tensor_.size(i));
      return "tensor(" + python_dtype_name(tensor_.scalar_type()) + "[" + dims + "])";
    }
    case Kind::kList:
    case Kind::kTuple: {
      std::string out = kind_ == Kind::kList ? "[" : "(";
      for (size_t i = 0; i < items_.size(); ++i) out += (i ? ", " : "") + items_[i].repr();
      if (kind_ == Kind::kTuple && items_.size() == 1) out += ",";
      return out + (kind_ == Kind::kList ? "]" : ")");
    }
    case Kind::kDict: {
      std::string out = ordered_ ? "OrderedDict({" : "{";
      for (size_t i = 0; i < dict_.size(); ++i)
        out += (i ? ", " : "") + dict_[i].first.repr() + ": " + dict_[i].second.repr();
      return out + (ordered_ ? "})" : "}");
    }
  }
  return "?";
}

}  // namespace tt
