// torch.save zip files: a restricted unpickler (the torch.load(weights_only=True) subset) over
// a memory-mapped PyTorchStreamReader, and a pickler + PyTorchStreamWriter that emit what
// Python's torch.save emits for the same tree.
#include "torchtune_cpp/checkpointing/torch_save.h"

#include <caffe2/serialize/inline_container.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <c10/util/Exception.h>
#include <c10/util/Logging.h>
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <functional>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "torchtune_cpp/checkpointing/safetensors_writer.h"
#include "torchtune_cpp/utils/check.h"

namespace tt {

namespace {

// Limits that keep crafted files from exhausting memory or the C++ stack; real checkpoints
// are far below them (a 70B state dict is ~700 values, nested 1-4 levels deep).
constexpr int64_t kMaxDepth = 1000;
// What the values built from one pickle may cost, counted as sizeof(PickleValue) per value
// plus its text: a pickle of a few bytes can otherwise ask for a value to be copied 2^40 times.
constexpr int64_t kMaxValueBytes = int64_t{512} << 20;
// Stack and memo slots: each is a value of its own.
constexpr size_t kMaxSlots = size_t{1} << 22;
constexpr size_t kMaxPickleBytes = size_t{1} << 30;

// torch.<Name>Storage <-> dtype; the order is the writer's preference (one name per dtype).
struct StorageType {
  const char* name;
  at::ScalarType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", at::kFloat},       {"BFloat16Storage", at::kBFloat16},
    {"HalfStorage", at::kHalf},         {"DoubleStorage", at::kDouble},
    {"LongStorage", at::kLong},         {"IntStorage", at::kInt},
    {"ShortStorage", at::kShort},       {"CharStorage", at::kChar},
    {"ByteStorage", at::kByte},         {"BoolStorage", at::kBool},
    {"ComplexFloatStorage", at::kComplexFloat}, {"ComplexDoubleStorage", at::kComplexDouble},
    // torch.load treats an untyped storage as bytes.
    {"UntypedStorage", at::kByte},
};

// "torch.FloatStorage" -> kFloat.
std::optional<at::ScalarType> storage_dtype(const std::string& global) {
  if (global.rfind("torch.", 0) != 0) return std::nullopt;
  for (const StorageType& s : kStorageTypes)
    if (global.compare(6, std::string::npos, s.name) == 0) return s.dtype;
  return std::nullopt;
}

const char* storage_type_name(at::ScalarType dtype) {
  for (const StorageType& s : kStorageTypes)
    if (s.dtype == dtype) return s.name;
  return nullptr;
}

// Python's spelling of a dtype, for messages and repr().
std::string py_dtype(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kShort: return "int16";
    case at::kChar: return "int8";
    case at::kByte: return "uint8";
    case at::kBool: return "bool";
    case at::kComplexFloat: return "complex64";
    case at::kComplexDouble: return "complex128";
    default: return c10::toString(dtype);
  }
}

std::string first_line(const char* text) {
  std::string s(text);
  return s.substr(0, s.find('\n'));
}

// "an int", "a dict", "None": a type name with its article, for messages.
std::string with_article(const std::string& type) {
  if (type == "None") return type;
  return (std::string("aeiouAEIOU").find(type[0]) != std::string::npos ? "an " : "a ") + type;
}

[[noreturn]] void value_error(const std::string& message) { throw Error("torch.save value", message); }

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

std::string repr_double(double d) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d);
  std::string s(buf, res.ptr);
  if (s == "inf" || s == "-inf" || s == "nan" || s == "-nan") return s;
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// PickleValue

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
    case Kind::kNone: return "None";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kDouble: return "float";
    case Kind::kString: return "str";
    case Kind::kBytes: return "bytes";
    case Kind::kTensor: return "Tensor";
    case Kind::kList: return "list";
    case Kind::kTuple: return "tuple";
    case Kind::kDict: return ordered_ ? "OrderedDict" : "dict";
  }
  return "?";
}

bool PickleValue::to_bool() const {
  if (kind_ != Kind::kBool) value_error(tt::str("expected a bool but found ", type_name(), " ", repr()));
  return bool_;
}
int64_t PickleValue::to_int() const {
  if (kind_ != Kind::kInt) value_error(tt::str("expected an int but found ", type_name(), " ", repr()));
  return int_;
}
double PickleValue::to_double() const {
  if (kind_ == Kind::kInt) return static_cast<double>(int_);
  if (kind_ != Kind::kDouble) value_error(tt::str("expected a float but found ", type_name(), " ", repr()));
  return double_;
}
const std::string& PickleValue::to_string() const {
  if (kind_ != Kind::kString) value_error(tt::str("expected a str but found ", type_name(), " ", repr()));
  return string_;
}
const std::string& PickleValue::to_bytes() const {
  if (kind_ != Kind::kBytes) value_error(tt::str("expected bytes but found ", type_name(), " ", repr()));
  return string_;
}
const at::Tensor& PickleValue::to_tensor() const {
  if (kind_ != Kind::kTensor) value_error(tt::str("expected a Tensor but found ", type_name(), " ", repr()));
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
size_t PickleValue::size() const { return kind_ == Kind::kDict ? dict_.size() : items().size(); }

const PickleValue* PickleValue::find(const PickleValue& key) const {
  for (const auto& [k, v] : dict_items())
    if (k == key) return &v;
  return nullptr;
}

const PickleValue& PickleValue::at(const PickleValue& key) const {
  const PickleValue* v = find(key);
  if (v == nullptr) {
    std::string keys;
    for (size_t i = 0; i < dict_.size() && i < 10; ++i) keys += (i ? ", " : "") + dict_[i].first.repr();
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
  if (kind_ != Kind::kList) value_error(tt::str("append() needs a list but this is a ", type_name()));
  items_.push_back(std::move(value));
}

bool PickleValue::operator==(const PickleValue& o) const {
  if (kind_ != o.kind_) return false;
  switch (kind_) {
    case Kind::kNone: return true;
    case Kind::kBool: return bool_ == o.bool_;
    case Kind::kInt: return int_ == o.int_;
    case Kind::kDouble: return std::memcmp(&double_, &o.double_, sizeof(double)) == 0;
    case Kind::kString:
    case Kind::kBytes: return string_ == o.string_;
    case Kind::kTensor: return same_tensor(tensor_, o.tensor_);
    case Kind::kList:
    case Kind::kTuple: return items_ == o.items_;
    case Kind::kDict: return ordered_ == o.ordered_ && dict_ == o.dict_;
  }
  return false;
}

std::string PickleValue::repr() const {
  switch (kind_) {
    case Kind::kNone: return "None";
    case Kind::kBool: return bool_ ? "True" : "False";
    case Kind::kInt: return std::to_string(int_);
    case Kind::kDouble: return repr_double(double_);
    case Kind::kString: return repr_string(string_, false);
    case Kind::kBytes: return repr_string(string_, true);
    case Kind::kTensor: {
      if (!tensor_.defined()) return "tensor(undefined)";
      std::string dims;
      for (int64_t i = 0; i < tensor_.dim(); ++i) dims += (i ? ", " : "") + std::to_string(tensor_.size(i));
      return "tensor(" + py_dtype(tensor_.scalar_type()) + "[" + dims + "])";
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

// ---------------------------------------------------------------------------------------------
// Reading

namespace {

// The whole file, mapped private and writable: loaded tensors view it copy-on-write, so callers
// may update them in place (optimizer moments) without touching the file or faulting.
struct MappedFile {
  void* data = nullptr;
  size_t size = 0;
  ~MappedFile() {
    if (data != nullptr && data != MAP_FAILED) ::munmap(data, size);
  }
  const unsigned char* bytes() const { return static_cast<const unsigned char*>(data); }
};

std::shared_ptr<MappedFile> map_file(const std::string& path) {
  auto map = std::make_shared<MappedFile>();
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  TT_CHECK(fd >= 0, path, "cannot open the file: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    TT_CHECK(false, path, S_ISDIR(st.st_mode) ? "is a folder, not a torch.save file (a distributed "
                                                "checkpoint folder needs its own loader)"
                                              : "is not a regular file");
  }
  map->size = static_cast<size_t>(st.st_size);
  if (map->size > 0)
    map->data = ::mmap(nullptr, map->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  int map_errno = errno;
  ::close(fd);
  TT_CHECK(map->size > 0, path, "the file is empty");
  TT_CHECK(map->data != MAP_FAILED, path, "cannot map the file: ", std::strerror(map_errno));
  return map;
}

// PyTorchStreamReader reads through this instead of its own file handle: one mapping serves
// both the zip directory and the zero-copy tensors. Reads past the end come back short, which
// the zip reader reports as a truncated file.
class MappedAdapter final : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit MappedAdapter(std::shared_ptr<MappedFile> map) : map_(std::move(map)) {}
  size_t size() const override { return map_->size; }
  size_t read(uint64_t pos, void* buf, size_t n, const char* what = "") const override {
    if (pos >= map_->size) return 0;
    n = std::min<uint64_t>(n, map_->size - pos);
    if (n > 0) std::memcpy(buf, map_->bytes() + pos, n);  // buf may be null for empty records
    return n;
  }

 private:
  std::shared_ptr<MappedFile> map_;
};

uint64_t read_le(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

// One slot of the unpickler's stack and memo. Besides plain values, a pickle's stack holds
// things that are never values themselves: globals (callables and storage types), storages
// (persistent ids) and tuples holding those (the arguments of REDUCE and BINPERSID).
struct Node {
  enum class Type { kValue, kGlobal, kStorage, kRawTuple };
  Type type = Type::kValue;
  PickleValue value;
  std::string global;                      // kGlobal: "module.name"
  at::Tensor storage;                      // kStorage: 1-D tensor over the whole storage
  std::string record;                      // kStorage: its zip record, "data/<key>"
  std::vector<std::shared_ptr<Node>> raw;  // kRawTuple
  int64_t depth = 1;                       // nesting of the value (an upper bound)
  int64_t cost = sizeof(PickleValue);      // bytes a copy of the value costs (an upper bound)
  // Dict nodes: key -> position, so building a dict of n keys costs O(n), not O(n^2).
  std::unordered_map<std::string, size_t> key_index;
};
using NodePtr = std::shared_ptr<Node>;

// A key for Node::key_index, or "" for keys only found by scanning (tuples holding tensors).
// Strings are length-prefixed so that tuples of them cannot collide.
std::string index_key(const PickleValue& k) {
  switch (k.kind()) {
    case PickleValue::Kind::kNone: return "N";
    case PickleValue::Kind::kBool: return k.to_bool() ? "T" : "F";
    case PickleValue::Kind::kInt: return "I" + std::to_string(k.to_int()) + ";";
    case PickleValue::Kind::kDouble: return "D" + repr_double(k.to_double()) + ";";
    case PickleValue::Kind::kString: return "S" + std::to_string(k.to_string().size()) + ":" + k.to_string();
    case PickleValue::Kind::kBytes: return "B" + std::to_string(k.to_bytes().size()) + ":" + k.to_bytes();
    case PickleValue::Kind::kTuple: {
      std::string out = "(";
      for (const PickleValue& x : k.items()) {
        std::string part = index_key(x);
        if (part.empty()) return "";
        out += part;
      }
      return out + ")";
    }
    default: return "";
  }
}

using StorageLoader = std::function<at::Tensor(const std::string& key, at::ScalarType dtype, int64_t numel)>;

class Unpickler {
 public:
  Unpickler(const std::string& path, const std::string& pickle, StorageLoader load_storage)
      : path_(path),
        p_(reinterpret_cast<const unsigned char*>(pickle.data())),
        size_(pickle.size()),
        load_storage_(std::move(load_storage)) {}

  PickleValue run() {
    while (true) {
      op_pos_ = pos_;
      const unsigned char op = *take(1);
      switch (op) {
        case 0x80: {  // PROTO
          unsigned proto = *take(1);
          if (proto > 5) fail(tt::str("pickle protocol ", proto, " is newer than any Python writes"));
          break;
        }
        case 0x95: take(8); break;  // FRAME: only a read-ahead hint
        case '.': {                 // STOP
          NodePtr result = pop();
          return value_of(result, "the pickled object");
        }
        case 'N': push_value({}); break;
        case 0x88: push_value(true); break;
        case 0x89: push_value(false); break;
        case 'J': push_value(static_cast<int64_t>(static_cast<int32_t>(read_le(take(4), 4)))); break;
        case 'K': push_value(static_cast<int64_t>(*take(1))); break;
        case 'M': push_value(static_cast<int64_t>(read_le(take(2), 2))); break;
        case 0x8a: push_value(read_long(*take(1))); break;                          // LONG1
        case 0x8b: push_value(read_long(static_cast<size_t>(read_le(take(4), 4)))); break;  // LONG4
        case 'G': {  // BINFLOAT, big-endian
          const unsigned char* b = take(8);
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | b[i];
          double d;
          std::memcpy(&d, &bits, sizeof(d));
          push_value(d);
          break;
        }
        case 'X': push_value(read_string(read_le(take(4), 4))); break;     // BINUNICODE
        case 0x8c: push_value(read_string(*take(1))); break;               // SHORT_BINUNICODE
        case 0x8d: push_value(read_string(read_le(take(8), 8))); break;    // BINUNICODE8
        case 'T': push_value(read_string(read_le(take(4), 4))); break;     // BINSTRING (py2 str)
        case 'U': push_value(read_string(*take(1))); break;                // SHORT_BINSTRING
        case 'B': push_value(PickleValue::bytes(read_string(read_le(take(4), 4)))); break;
        case 'C': push_value(PickleValue::bytes(read_string(*take(1)))); break;
        case 0x8e: push_value(PickleValue::bytes(read_string(read_le(take(8), 8)))); break;
        case ')': push_value(PickleValue::tuple()); break;
        case 0x85: push(make_tuple(pop_n(1))); break;
        case 0x86: push(make_tuple(pop_n(2))); break;
        case 0x87: push(make_tuple(pop_n(3))); break;
        case 't': push(make_tuple(pop_mark())); break;
        case ']': push_value(PickleValue::list()); break;
        case '}': push_value(PickleValue::dict()); break;
        case 'l': {  // LIST
          auto items = pop_mark();
          push_value(PickleValue::list());
          for (const NodePtr& it : items) add_to_list(*stack_.back(), it);
          break;
        }
        case 'd': {  // DICT
          auto items = pop_mark();
          push_value(PickleValue::dict());
          set_items(*stack_.back(), items);
          break;
        }
        case 'a': {  // APPEND
          NodePtr item = pop();
          add_to_list(*top(), item);
          break;
        }
        case 'e': {  // APPENDS
          auto items = pop_mark();
          Node& list = *top();
          for (const NodePtr& it : items) add_to_list(list, it);
          break;
        }
        case 's': {  // SETITEM
          NodePtr v = pop();
          NodePtr k = pop();
          set_items(*top(), {k, v});
          break;
        }
        case 'u': {  // SETITEMS
          auto items = pop_mark();
          set_items(*top(), items);
          break;
        }
        case '(': marks_.push_back(stack_.size()); break;
        case '0': pop(); break;        // POP
        case '1': pop_mark(); break;   // POP_MARK
        case '2': push(top()); break;  // DUP
        case 'q': memoize(*take(1)); break;               // BINPUT
        case 'r': memoize(read_le(take(4), 4)); break;    // LONG_BINPUT
        case 0x94: memoize(memo_.size()); break;          // MEMOIZE
        case 'h': push(memo_get(*take(1))); break;                 // BINGET
        case 'j': push(memo_get(read_le(take(4), 4))); break;      // LONG_BINGET
        case 'c': {  // GLOBAL
          std::string module = read_line();
          std::string name = read_line();
          push_global(module + "." + name);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          NodePtr name = pop();
          NodePtr module = pop();
          const PickleValue& n = value_of(name, "STACK_GLOBAL's name");
          const PickleValue& m = value_of(module, "STACK_GLOBAL's module");
          if (!n.is_string() || !m.is_string()) fail("STACK_GLOBAL needs two strings");
          push_global(m.to_string() + "." + n.to_string());
          break;
        }
        case 'R': reduce(); break;
        case 'b': build(); break;
        case 'Q': persistent_load(); break;  // BINPERSID
        case 0x81:
        case 0x92:
        case 'i':
        case 'o':
          refuse_construction(op);
          break;
        default:
          fail(tt::str("unsupported pickle opcode 0x", hex(op),
                       " (torch.save writes protocol 2; this is not a torch.save pickle or it is "
                       "damaged)"));
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw Error(path_, tt::str("corrupt or unsupported data.pkl (at byte ", op_pos_, "): ", message));
  }

  static std::string hex(unsigned op) {
    char buf[4];
    std::snprintf(buf, sizeof(buf), "%02x", op);
    return buf;
  }

  [[noreturn]] void refuse(const std::string& what) const {
    throw Error(path_, tt::str(
        "refused to load: the pickle asks for ", what,
        ". torch.save checkpoints hold only tensors, dicts, OrderedDicts, lists, tuples, numbers, "
        "strings, bytes and None (what torch.load(weights_only=True) accepts), and building "
        "anything else could run code from the file. It is not a checkpoint, or it was crafted; "
        "do not load it with pickle or torch.load(weights_only=False)"));
  }

  [[noreturn]] void refuse_construction(unsigned char op) const {
    refuse(tt::str("an object to be constructed (opcode 0x", hex(op), ")"));
  }

  const unsigned char* take(size_t n) {
    if (size_ - pos_ < n) fail("the pickle ends in the middle of an opcode (truncated data.pkl)");
    const unsigned char* r = p_ + pos_;
    pos_ += n;
    return r;
  }

  std::string read_string(uint64_t n) {
    if (n > size_ - pos_) fail(tt::str("a string of ", n, " bytes runs past the end of data.pkl"));
    return std::string(reinterpret_cast<const char*>(take(n)), n);
  }

  std::string read_line() {
    const void* nl = std::memchr(p_ + pos_, '\n', size_ - pos_);
    if (nl == nullptr) fail("GLOBAL without its newline-terminated name");
    size_t n = static_cast<const unsigned char*>(nl) - (p_ + pos_);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), n);
    pos_ += n + 1;
    return s;
  }

  // Little-endian two's complement of n bytes (LONG1/LONG4), as int64.
  int64_t read_long(size_t n) {
    if (n > 8) fail(tt::str("an integer of ", n, " bytes does not fit int64"));
    if (n == 0) return 0;
    const unsigned char* b = take(n);
    uint64_t v = read_le(b, n);
    if (n < 8 && (b[n - 1] & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign-extend
    return static_cast<int64_t>(v);
  }

  // ---- stack
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(NodePtr n) {
    if (stack_.size() + marks_.size() >= kMaxSlots)
      fail(tt::str("the pickle keeps more than ", kMaxSlots, " objects on its stack (crafted to exhaust memory?)"));
    stack_.push_back(std::move(n));
  }
  void push_value(PickleValue v) {
    auto n = std::make_shared<Node>();
    if (v.is_string()) n->cost += static_cast<int64_t>(v.to_string().size());
    if (v.is_bytes()) n->cost += static_cast<int64_t>(v.to_bytes().size());
    n->value = std::move(v);
    push(std::move(n));
  }
  void memoize(uint64_t slot) {
    if (memo_.size() >= kMaxSlots && memo_.count(slot) == 0)
      fail(tt::str("the pickle fills more than ", kMaxSlots, " memo slots (crafted to exhaust memory?)"));
    memo_[slot] = top();
  }
  NodePtr pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    NodePtr n = std::move(stack_.back());
    stack_.pop_back();
    return n;
  }
  const NodePtr& top() const {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<NodePtr> pop_n(size_t n) {
    if (stack_.size() < floor() + n) fail("stack underflow");
    std::vector<NodePtr> out(stack_.end() - n, stack_.end());
    stack_.resize(stack_.size() - n);
    return out;
  }
  std::vector<NodePtr> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<NodePtr> out(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return out;
  }
  NodePtr memo_get(uint64_t i) const {
    auto it = memo_.find(i);
    if (it == memo_.end()) fail(tt::str("memo slot ", i, " read before it was written"));
    return it->second;
  }

  static std::string describe(const Node& n) {
    switch (n.type) {
      case Node::Type::kGlobal: return "the global " + n.global;
      case Node::Type::kStorage: return "a storage";
      case Node::Type::kRawTuple: return "a tuple holding a global or a storage";
      case Node::Type::kValue: return with_article(n.value.type_name());
    }
    return "?";
  }

  const PickleValue& value_of(const NodePtr& n, const std::string& what) const {
    if (n->type != Node::Type::kValue) fail(what + " is " + describe(*n) + " where a value belongs");
    return n->value;
  }

  // Containers receive copies (PickleValue is a value type). torch.save's pickler finishes
  // an object before anything refers to it again, so a copy taken at insertion is complete.
  // Every copy is paid for before it is made, so a pickle that inserts one big object many
  // times (through the memo) ends in an error instead of exhausting memory.
  void charge(int64_t bytes) {
    copied_ += bytes;
    if (copied_ > kMaxValueBytes)
      fail(tt::str("the pickle expands to more than ", kMaxValueBytes >> 20,
                   " MiB of values (crafted to exhaust memory?)"));
  }
  void adopt(Node& parent, const Node& child) {
    charge(child.cost);
    parent.cost += child.cost;
    parent.depth = std::max(parent.depth, child.depth + 1);
    if (parent.depth > kMaxDepth) fail(tt::str("values nested more than ", kMaxDepth, " levels deep"));
  }

  void add_to_list(Node& list, const NodePtr& item) {
    if (list.type != Node::Type::kValue || !list.value.is_list())
      fail("APPEND to " + describe(list) + ", not a list");
    const PickleValue& v = value_of(item, "a list item");
    adopt(list, *item);
    list.value.items().push_back(v);
  }

  void set_items(Node& dict, const std::vector<NodePtr>& items) {
    if (dict.type != Node::Type::kValue || !dict.value.is_dict())
      fail("SETITEM on " + describe(dict) + ", not a dict");
    if (items.size() % 2 != 0) fail("SETITEMS with an odd number of keys and values");
    auto& entries = dict.value.dict_items();
    for (size_t i = 0; i < items.size(); i += 2) {
      const PickleValue& k = value_of(items[i], "a dict key");
      const PickleValue& v = value_of(items[i + 1], "a dict value");
      if (k.is_list() || k.is_dict() || k.is_tensor())
        fail("a dict key of type " + k.type_name() + " (not hashable in Python)");
      // Checkpoint keys are names, numbers and tuples of them; a tuple holding a tensor (hashed
      // by identity in Python) has no place in one and would make every insertion a scan.
      const std::string ik = index_key(k);
      if (ik.empty()) fail("a dict key " + k.type_name() + " holding a tensor, list or dict");
      adopt(dict, *items[i]);
      adopt(dict, *items[i + 1]);
      auto it = dict.key_index.find(ik);
      if (it != dict.key_index.end()) {
        entries[it->second].second = v;  // Python's d[k] = v on an existing key
      } else {
        dict.key_index.emplace(ik, entries.size());
        entries.emplace_back(k, v);
      }
    }
  }

  NodePtr make_tuple(std::vector<NodePtr> items) {
    auto n = std::make_shared<Node>();
    bool plain = std::all_of(items.begin(), items.end(),
                             [](const NodePtr& x) { return x->type == Node::Type::kValue; });
    for (const NodePtr& x : items) adopt(*n, *x);
    if (plain) {
      PickleValue::Items values;
      values.reserve(items.size());
      for (const NodePtr& x : items) values.push_back(x->value);
      n->value = PickleValue::tuple(std::move(values));
    } else {
      n->type = Node::Type::kRawTuple;
      n->raw = std::move(items);
    }
    return n;
  }

  // The elements of a tuple argument, plain or raw. Copies of plain elements keep the
  // tuple's depth and cost as bounds, so what is built from them stays within the limits.
  std::vector<NodePtr> tuple_items(const NodePtr& t, const std::string& what) {
    if (t->type == Node::Type::kRawTuple) return t->raw;
    if (t->type == Node::Type::kValue && t->value.is_tuple()) {
      charge(t->cost);
      std::vector<NodePtr> out;
      for (const PickleValue& v : t->value.items()) {
        auto n = std::make_shared<Node>();
        n->value = v;
        n->depth = std::max<int64_t>(1, t->depth - 1);
        n->cost = t->cost;
        out.push_back(std::move(n));
      }
      return out;
    }
    fail(what + " must be a tuple, not " + describe(*t));
  }

  std::vector<int64_t> int_tuple(const NodePtr& n, const std::string& what) const {
    const PickleValue& v = value_of(n, what);
    if (!v.is_tuple()) fail(what + " must be a tuple of ints, not " + with_article(v.type_name()));
    std::vector<int64_t> out;
    for (const PickleValue& x : v.items()) {
      if (!x.is_int()) fail(what + " must be a tuple of ints");
      out.push_back(x.to_int());
    }
    return out;
  }

  // ---- the risky opcodes
  void push_global(const std::string& name) {
    static const std::unordered_set<std::string> kCallables = {
        "collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
        "_codecs.encode"};
    if (kCallables.count(name) == 0 && !storage_dtype(name)) refuse("the global '" + name + "'");
    auto n = std::make_shared<Node>();
    n->type = Node::Type::kGlobal;
    n->global = name;
    push(std::move(n));
  }

  void reduce() {
    NodePtr args = pop();
    const NodePtr& fn = top();
    if (fn->type != Node::Type::kGlobal) fail("REDUCE on " + describe(*fn) + ", not a callable");
    const std::string& name = fn->global;
    std::vector<NodePtr> a = tuple_items(args, "the arguments of " + name);
    auto result = std::make_shared<Node>();
    if (name == "collections.OrderedDict") {
      result->value = PickleValue::ordered_dict();
      if (a.size() == 1) {  // OrderedDict([(k, v), ...])
        const PickleValue& pairs = value_of(a[0], "OrderedDict's argument");
        if (!pairs.is_list() && !pairs.is_tuple()) fail("OrderedDict's argument must be a list of pairs");
        // The pairs are copied twice (flattened, then into the dict); both copies are paid
        // for here, and the dict is as deep and as costly as its argument at most.
        charge(2 * a[0]->cost);
        std::vector<NodePtr> flat;
        for (const PickleValue& p : pairs.items()) {
          if ((!p.is_list() && !p.is_tuple()) || p.items().size() != 2) fail("OrderedDict's items must be pairs");
          for (const PickleValue& x : p.items()) {
            auto n = std::make_shared<Node>();
            n->value = x;
            n->cost = 0;
            flat.push_back(std::move(n));
          }
        }
        set_items(*result, flat);
        result->depth = std::max(result->depth, a[0]->depth);
        result->cost = std::max(result->cost, a[0]->cost);
        if (result->depth > kMaxDepth) fail(tt::str("values nested more than ", kMaxDepth, " levels deep"));
      } else if (!a.empty()) {
        fail("OrderedDict called with " + std::to_string(a.size()) + " arguments");
      }
    } else if (name == "torch._utils._rebuild_tensor_v2") {
      if (a.size() != 6 && a.size() != 7) fail("_rebuild_tensor_v2 takes 6 or 7 arguments");
      if (a[0]->type != Node::Type::kStorage) fail("_rebuild_tensor_v2's first argument is not a storage");
      const PickleValue& offset = value_of(a[1], "the storage offset");
      if (!offset.is_int()) fail("the storage offset must be an int");
      std::vector<int64_t> size = int_tuple(a[2], "the tensor size");
      std::vector<int64_t> stride = int_tuple(a[3], "the tensor stride");
      value_of(a[4], "requires_grad");
      value_of(a[5], "the backward hooks");  // ignored, as by torch.load for plain tensors
      if (a.size() == 7) value_of(a[6], "the tensor metadata");
      result->value = PickleValue(rebuild_tensor(*a[0], offset.to_int(), size, stride));
    } else if (name == "torch._utils._rebuild_parameter" ||
               name == "torch._utils._rebuild_parameter_with_state") {
      if (a.size() < 3) fail(name + " takes at least 3 arguments");
      const PickleValue& t = value_of(a[0], "the parameter's data");
      if (!t.is_tensor()) fail("the parameter's data is not a tensor");
      result->value = t;  // a Parameter is its tensor here; requires_grad is the caller's choice
    } else if (name == "_codecs.encode") {  // how protocol 2 spells a bytes object
      if (a.size() != 2) fail("_codecs.encode takes 2 arguments");
      const PickleValue& text = value_of(a[0], "the encoded text");
      const PickleValue& enc = value_of(a[1], "the encoding");
      if (!text.is_string() || !enc.is_string() ||
          (enc.to_string() != "latin1" && enc.to_string() != "latin-1"))
        fail("_codecs.encode is accepted only as encode(str, 'latin1'), how pickle stores bytes");
      result->value = PickleValue::bytes(latin1_from_utf8(text.to_string()));
    } else {
      fail("the storage type " + name + " cannot be called");
    }
    stack_.back() = std::move(result);
  }

  std::string latin1_from_utf8(const std::string& s) const {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c < 0x80) {
        out += static_cast<char>(c);
      } else if ((c & 0xE0) == 0xC0 && c <= 0xC3 && i + 1 < s.size()) {
        out += static_cast<char>(((c & 0x1F) << 6) | (static_cast<unsigned char>(s[++i]) & 0x3F));
      } else {
        fail("bytes encoded as a str with characters beyond latin-1");
      }
    }
    return out;
  }

  // A view of a storage node's tensor; every way of reaching outside the storage (or of
  // overflowing on the way) is an error naming the storage's record.
  at::Tensor rebuild_tensor(const Node& storage_node, int64_t offset, const std::vector<int64_t>& size,
                            const std::vector<int64_t>& stride) const {
    const at::Tensor& storage = storage_node.storage;
    const std::string on = " (a tensor on the storage " + storage_node.record + ")";
    if (size.size() != stride.size()) fail("tensor size and stride have different lengths" + on);
    if (offset < 0) fail("negative storage offset" + on);
    bool empty = false;
    int64_t extent = 1;  // LibTorch's own size arithmetic must not overflow either
    for (size_t i = 0; i < size.size(); ++i) {
      if (size[i] < 0 || stride[i] < 0) fail("negative tensor size or stride" + on);
      empty = empty || size[i] == 0;
      if (__builtin_mul_overflow(extent, std::max<int64_t>(size[i], 1), &extent))
        fail("tensor size overflows int64" + on);
    }
    const int64_t numel = storage.numel();
    if (empty) {
      if (offset > numel) fail(tt::str("an empty tensor's offset ", offset, " lies beyond its storage", on));
    } else {
      // The last element reached must lie inside the storage (overflow-checked: a crafted
      // size must not wrap around into a small number).
      int64_t last = offset;
      for (size_t i = 0; i < size.size(); ++i) {
        int64_t step = 0;
        if (__builtin_mul_overflow(size[i] - 1, stride[i], &step) || __builtin_add_overflow(last, step, &last))
          fail("tensor extent overflows int64" + on);
      }
      if (last >= numel)
        fail(tt::str("a tensor reaches element ", last, " of a storage of ", numel, " elements", on,
                     "; the file is corrupt"));
    }
    return storage.as_strided(size, stride, offset);
  }

  void build() {
    NodePtr state = pop();
    const NodePtr& inst = top();
    // torch.save pickles nn.Module.state_dict()'s `_metadata` attribute this way. Only
    // attributes of an OrderedDict are accepted (as weights_only does); they are dropped, since
    // they carry module version numbers nothing here uses.
    if (inst->type != Node::Type::kValue || !inst->value.is_ordered_dict())
      refuse("attributes to be set on " + describe(*inst) + " (BUILD)");
    const PickleValue& s = value_of(state, "the OrderedDict's attributes");
    if (!s.is_dict() && !s.is_none()) fail("BUILD state of an OrderedDict must be a dict");
  }

  void persistent_load() {
    NodePtr pid = pop();
    std::vector<NodePtr> a = tuple_items(pid, "a persistent id");
    if (a.size() != 5 || a[0]->type != Node::Type::kValue || !a[0]->value.is_string() ||
        a[0]->value.to_string() != "storage")
      fail("persistent ids must be ('storage', type, key, location, numel)");
    if (a[1]->type != Node::Type::kGlobal || !storage_dtype(a[1]->global))
      fail("the storage type is " + describe(*a[1]) + ", not a torch storage class");
    const PickleValue& key = value_of(a[2], "the storage key");
    value_of(a[3], "the storage location");  // "cpu", "cuda:0": everything loads to the CPU
    const PickleValue& numel = value_of(a[4], "the storage size");
    if (!key.is_string() || !numel.is_int() || numel.to_int() < 0)
      fail("the storage key must be a str and its size a non-negative int");
    auto n = std::make_shared<Node>();
    n->type = Node::Type::kStorage;
    n->record = "data/" + key.to_string();
    n->storage = load_storage_(key.to_string(), *storage_dtype(a[1]->global), numel.to_int());
    push(std::move(n));
  }

  const std::string& path_;
  const unsigned char* p_;
  size_t size_;
  size_t pos_ = 0;
  size_t op_pos_ = 0;
  StorageLoader load_storage_;
  std::vector<NodePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, NodePtr> memo_;
  int64_t copied_ = 0;
};

}  // namespace

namespace {

// Keeps LibTorch's checks (CAFFE_ENFORCE, used all through its zip reader) throwing while it
// lives. Debian's libsentencepiece, which the tokenizer links, exports a global named
// FLAGS_minloglevel, as libc10 does; libc10's wins the symbol lookup, and SentencePiece's
// start-up code builds its larger flag object over it, setting libc10's neighbouring
// caffe2_use_fatal_for_enforce. A damaged zip would then abort the process from inside
// LibTorch instead of raising an error. The byte is restored afterwards, as it is part of
// SentencePiece's object.
class EnforceThrows {
 public:
  EnforceThrows() {
    std::memcpy(&saved_, &FLAGS_caffe2_use_fatal_for_enforce, 1);  // the raw byte, maybe not 0 or 1
    FLAGS_caffe2_use_fatal_for_enforce = false;
  }
  ~EnforceThrows() { std::memcpy(&FLAGS_caffe2_use_fatal_for_enforce, &saved_, 1); }
  EnforceThrows(const EnforceThrows&) = delete;
  EnforceThrows& operator=(const EnforceThrows&) = delete;

 private:
  unsigned char saved_ = 0;
};

}  // namespace

PickleValue load_torch_file(const std::string& path) {
  EnforceThrows enforce_throws;
  std::shared_ptr<MappedFile> map = map_file(path);
  const unsigned char* b = map->bytes();
  TT_CHECK(!(b[0] == 0x80 && map->size > 1 && b[1] <= 5), path,
           "is a legacy torch.save file (the pre-1.6 format, not a zip); load it once in Python "
           "and save it again with a current torch.save, or convert it to safetensors");
  if (map->size < 4 || std::memcmp(b, "PK\x03\x04", 4) != 0) {
    bool safetensors = map->size > 9 && b[8] == '{';
    TT_CHECK(false, path, "is not a torch.save file (no zip signature)",
             safetensors ? "; it looks like a safetensors file: read it with SafetensorsFile" : "");
  }
  try {
    caffe2::serialize::PyTorchStreamReader reader(std::make_shared<MappedAdapter>(map));
    if (reader.hasRecord("byteorder")) {
      auto [data, size] = reader.getRecord("byteorder");
      std::string order(static_cast<const char*>(data.get()), size);
      TT_CHECK(order == "little", path, "the tensors were saved on a '", order,
               "'-endian machine; only little-endian files are supported");
    }
    TT_CHECK(reader.hasRecord("data.pkl"), path,
             "the zip has no data.pkl, so it is not a torch.save file (a TorchScript archive from "
             "torch.jit.save?)");
    const size_t pickle_size = reader.getRecordSize("data.pkl");
    TT_CHECK(pickle_size <= kMaxPickleBytes, path, "data.pkl claims ", pickle_size,
             " bytes, more than any checkpoint's pickle (crafted or corrupt file?)");
    std::string pickle(pickle_size, '\0');
    if (pickle_size > 0) reader.getRecord("data.pkl", pickle.data(), pickle_size);

    std::unordered_map<std::string, at::Tensor> storages;
    auto load_storage = [&](const std::string& key, at::ScalarType dtype, int64_t numel) -> at::Tensor {
      const std::string where = path + " [data/" + key + "]";
      auto found = storages.find(key);
      if (found != storages.end()) {
        TT_CHECK(found->second.scalar_type() == dtype && found->second.numel() == numel, where,
                 "one storage is used as ", py_dtype(found->second.scalar_type()), " and as ",
                 py_dtype(dtype), " (corrupt file)");
        return found->second;
      }
      TT_CHECK(reader.hasRecord("data/" + key), where,
               "the storage record is missing: the file is incomplete");
      const size_t elem = c10::elementSize(dtype);
      TT_CHECK(static_cast<uint64_t>(numel) <= map->size / elem, where, "the pickle expects ", numel,
               " elements of ", py_dtype(dtype), ", more than the file holds (corrupt file)");
      const size_t nbytes = static_cast<size_t>(numel) * elem;
      const std::string name = "data/" + key;
      const size_t record_size = reader.getRecordSize(name);
      TT_CHECK(record_size == nbytes, where, "the record holds ", record_size,
               " bytes but the pickle expects ", numel, " x ", py_dtype(dtype), " = ", nbytes,
               " bytes (corrupt file)");
      at::Tensor t;
      if (nbytes > 0) {
        // Stored (uncompressed) and aligned: a view of the mapping. torch.save always writes
        // records so; zips re-packed by other tools may be compressed and are copied.
        const size_t header = reader.getRecordHeaderOffset(name);
        const size_t offset = reader.getRecordOffset(name);
        const bool stored = header + 30 <= map->size && read_le(b + header, 4) == 0x04034b50 &&
                            read_le(b + header + 8, 2) == 0 && (read_le(b + header + 6, 2) & 1) == 0;
        if (stored && offset <= map->size && nbytes <= map->size - offset &&
            reinterpret_cast<uintptr_t>(b + offset) % elem == 0) {
          std::shared_ptr<MappedFile> keep = map;
          t = at::from_blob(static_cast<char*>(map->data) + offset, {numel}, [keep](void*) {},
                            at::TensorOptions().dtype(dtype));
        }
      }
      if (!t.defined()) {
        t = at::empty({numel}, at::TensorOptions().dtype(dtype));
        if (nbytes > 0) reader.getRecord(name, t.data_ptr(), nbytes);
      }
      storages.emplace(key, t);
      return t;
    };
    return Unpickler(path, pickle, load_storage).run();
  } catch (const c10::Error& e) {
    throw Error(path, tt::str("cannot read this torch.save file (truncated or corrupt?): ",
                              first_line(e.what_without_backtrace())));
  }
}

StateDict load_state_dict_file(const std::string& path) {
  PickleValue root = load_torch_file(path);
  TT_CHECK(root.is_dict(), path, "expected a state dict (a dict of name -> tensor) but the file holds ",
           with_article(root.type_name()));
  StateDict out;
  out.reserve(root.size());
  for (auto& [k, v] : root.dict_items()) {
    TT_CHECK(k.is_string(), path, "state dict keys must be strings, found the ", k.type_name(), " ",
             k.repr(), " (a recipe_state.pt or optimizer state? read it with load_torch_file)");
    TT_CHECK(v.is_tensor(), path + " [" + k.to_string() + "]", "expected a tensor but found ",
             with_article(v.type_name()),
             "; this is not a plain state dict (a recipe_state.pt or training checkpoint? read it "
             "with load_torch_file)");
    out.emplace_back(k.to_string(), v.to_tensor());
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writing

struct TorchSaveWriter::Impl {
  struct Record {
    std::string key;
    at::ScalarType dtype;
    int64_t numel;
  };

  explicit Impl(std::string path) : file(std::move(path)) {
    // Write failures are kept here, never reported to the zip writer: it would remember them
    // and throw again from its destructor, which ends the process. The error itself is kept
    // (a full disk stays a NoSpaceError for the save to explain).
    zip = std::make_unique<caffe2::serialize::PyTorchStreamWriter>(
        [this](const void* buf, size_t n) -> size_t {
          if (!io_failed) {
            try {
              file.append(buf, n);
            } catch (const Error&) {
              io_failed = true;
              io_error = std::current_exception();
            }
          }
          return n;
        });
  }

  ~Impl() {
    io_failed = true;  // abandoned: whatever the zip writer still flushes goes nowhere
    close_zip();
  }

  void close_zip() {
    if (zip && !zip->finalized()) {
      try {
        zip->writeEndOfFile();
      } catch (const c10::Error&) {
        // Already failing; the temporary file is removed by `file`.
      }
    }
  }

  void check_io() const {
    if (io_error) std::rethrow_exception(io_error);
    if (io_failed) throw Error(file.path(), "the file could not be written");
  }

  void record(const std::string& name, const void* data, size_t size) {
    try {
      zip->writeRecord(name, data, size);
    } catch (const c10::Error& e) {
      check_io();  // the zip writer failed because our write did: that error says why
      io_failed = true;
      throw Error(file.path(), tt::str("cannot write the record ", name, ": ",
                                       first_line(e.what_without_backtrace())));
    }
    check_io();
  }

  size_t storage_index(const at::Tensor& t, bool write_now) {
    const c10::StorageImpl* impl = t.storage().unsafeGetStorageImpl();
    if (t.is_meta()) {
      auto it = by_placeholder.find(impl);
      TT_CHECK(it != by_placeholder.end(), file.path(),
               "a meta tensor has no data to save; pass tensors with data, or the values "
               "TorchSaveWriter::write() returned");
      return it->second;
    }
    TT_CHECK(t.layout() == at::kStrided && !t.is_quantized(), file.path(),
             "only dense tensors can be saved (got a sparse or quantized tensor)");
    TT_CHECK(storage_type_name(t.scalar_type()) != nullptr, file.path(), "cannot save dtype ",
             py_dtype(t.scalar_type()), " with torch.save storages");
    auto it = by_storage.find(impl);
    if (it != by_storage.end()) {
      TT_CHECK(records[it->second].dtype == t.scalar_type(), file.path(),
               "two tensors view one storage as different dtypes (", py_dtype(records[it->second].dtype),
               " and ", py_dtype(t.scalar_type()), "); torch.save refuses this too: clone one of them");
      return it->second;
    }
    const size_t nbytes = t.storage().nbytes();
    const size_t elem = c10::elementSize(t.scalar_type());
    TT_CHECK(nbytes % elem == 0, file.path(), "a storage of ", nbytes, " bytes is not a whole number of ",
             py_dtype(t.scalar_type()), " elements");
    const size_t index = records.size();
    records.push_back({std::to_string(index), t.scalar_type(), static_cast<int64_t>(nbytes / elem)});
    by_storage.emplace(impl, index);
    // A weak reference keeps the StorageImpl's address from being reused by a later tensor
    // (which would then pass for this storage) while freeing its data as soon as the caller
    // drops the tensor.
    seen.push_back(t.storage().getWeakStorageImpl());
    if (write_now) {
      write_storage(index, t);
    } else {
      pending.emplace_back(index, t);
    }
    return index;
  }

  void write_storage(size_t index, const at::Tensor& t) {
    const c10::Storage& storage = t.storage();
    const size_t nbytes = storage.nbytes();
    const std::string name = "data/" + records[index].key;
    if (t.is_cpu()) {
      record(name, storage.data(), nbytes);
    } else {
      // One storage's CPU copy at a time.
      at::Tensor bytes = at::empty({0}, t.options().dtype(at::kByte))
                             .set_(storage, 0, {static_cast<int64_t>(nbytes)}, {1})
                             .to(at::kCPU);
      record(name, bytes.data_ptr(), nbytes);
    }
  }

  // ---- the pickle, protocol 2, as Python's pickler writes it (without the memo: every
  // object is written out in full, which torch.load reads the same way)
  void put(char c) { pkl.push_back(c); }
  void put_le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) pkl.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
  void put_global(const char* module, const char* name) {
    put('c');
    pkl += module;
    put('\n');
    pkl += name;
    put('\n');
  }
  void put_str(const std::string& s) {
    TT_CHECK(s.size() <= 0xFFFFFFFFu, file.path(), "a string of ", s.size(), " bytes is too long to pickle");
    put('X');
    put_le(s.size(), 4);
    pkl += s;
  }
  void put_int(int64_t v) {
    if (v >= 0 && v < 256) {
      put('K');
      put_le(static_cast<uint64_t>(v), 1);
    } else if (v >= 0 && v < 65536) {
      put('M');
      put_le(static_cast<uint64_t>(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      put('J');
      put_le(static_cast<uint32_t>(static_cast<int32_t>(v)), 4);
    } else {  // LONG1: the shortest little-endian two's complement
      unsigned char b[8];
      for (int i = 0; i < 8; ++i) b[i] = static_cast<unsigned char>(static_cast<uint64_t>(v) >> (8 * i));
      int n = 8;
      while (n > 1 && ((b[n - 1] == 0x00 && !(b[n - 2] & 0x80)) || (b[n - 1] == 0xFF && (b[n - 2] & 0x80)))) --n;
      put('\x8a');
      put_le(static_cast<uint64_t>(n), 1);
      pkl.append(reinterpret_cast<const char*>(b), n);
    }
  }
  void put_double(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof(d));
    put('G');
    for (int i = 7; i >= 0; --i) pkl.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  }
  void put_int_tuple(at::IntArrayRef v) {
    if (v.empty()) {
      put(')');
      return;
    }
    if (v.size() > 3) put('(');
    for (int64_t x : v) put_int(x);
    put(v.size() == 1 ? '\x85' : v.size() == 2 ? '\x86' : v.size() == 3 ? '\x87' : 't');
  }

  void put_tensor(const at::Tensor& tensor) {
    TT_CHECK(tensor.defined(), file.path(), "an undefined tensor cannot be saved");
    at::Tensor t = tensor;
    if (t.is_conj() || t.is_neg()) t = t.resolve_conj().resolve_neg();  // lazy bits are not saved
    const size_t index = storage_index(t, /*write_now=*/false);
    const Record& r = records[index];
    put_global("torch._utils", "_rebuild_tensor_v2");
    put('(');
    put('(');  // the persistent id ('storage', torch.<Type>Storage, key, 'cpu', numel)
    put_str("storage");
    put_global("torch", storage_type_name(r.dtype));
    put_str(r.key);
    put_str("cpu");
    put_int(r.numel);
    put('t');
    put('Q');
    put_int(t.storage_offset());
    put_int_tuple(t.sizes());
    put_int_tuple(t.strides());
    put(t.requires_grad() ? '\x88' : '\x89');
    put_global("collections", "OrderedDict");  // backward hooks: always empty
    put(')');
    put('R');
    put('t');
    put('R');
  }

  void put_value(const PickleValue& v, int depth) {
    TT_CHECK(depth <= kMaxDepth, file.path(), "values nested more than ", kMaxDepth, " levels deep");
    constexpr size_t kBatch = 1000;  // Python's pickler batches APPENDS/SETITEMS the same way
    switch (v.kind()) {
      case PickleValue::Kind::kNone: put('N'); break;
      case PickleValue::Kind::kBool: put(v.to_bool() ? '\x88' : '\x89'); break;
      case PickleValue::Kind::kInt: put_int(v.to_int()); break;
      case PickleValue::Kind::kDouble: put_double(v.to_double()); break;
      case PickleValue::Kind::kString: put_str(v.to_string()); break;
      case PickleValue::Kind::kBytes: {
        // Protocol 2 has no bytes opcode: Python writes _codecs.encode(latin-1 text, 'latin1').
        // (Empty bytes too: Python writes builtins.bytes() there, which weights_only refuses.)
        std::string text;
        for (unsigned char c : v.to_bytes()) {
          if (c < 0x80) {
            text += static_cast<char>(c);
          } else {
            text += static_cast<char>(0xC0 | (c >> 6));
            text += static_cast<char>(0x80 | (c & 0x3F));
          }
        }
        put_global("_codecs", "encode");
        put_str(text);
        put_str("latin1");
        put('\x86');
        put('R');
        break;
      }
      case PickleValue::Kind::kTensor: put_tensor(v.to_tensor()); break;
      case PickleValue::Kind::kList: {
        put(']');
        const auto& items = v.items();
        for (size_t i = 0; i < items.size(); i += kBatch) {
          put('(');
          for (size_t j = i; j < std::min(items.size(), i + kBatch); ++j) put_value(items[j], depth + 1);
          put('e');
        }
        break;
      }
      case PickleValue::Kind::kTuple: {
        const auto& items = v.items();
        if (items.empty()) {
          put(')');
          break;
        }
        if (items.size() > 3) put('(');
        for (const PickleValue& x : items) put_value(x, depth + 1);
        put(items.size() == 1 ? '\x85' : items.size() == 2 ? '\x86' : items.size() == 3 ? '\x87' : 't');
        break;
      }
      case PickleValue::Kind::kDict: {
        if (v.is_ordered_dict()) {
          put_global("collections", "OrderedDict");
          put(')');
          put('R');
        } else {
          put('}');
        }
        const auto& items = v.dict_items();
        for (size_t i = 0; i < items.size(); i += kBatch) {
          put('(');
          for (size_t j = i; j < std::min(items.size(), i + kBatch); ++j) {
            const PickleValue& k = items[j].first;
            TT_CHECK(!k.is_list() && !k.is_dict() && !k.is_tensor(), file.path(), "a dict key of type ",
                     k.type_name(), " cannot be pickled (not hashable in Python)");
            put_value(k, depth + 1);
            put_value(items[j].second, depth + 1);
          }
          put('u');
        }
        break;
      }
    }
  }

  void finish(const PickleValue& root) {
    TT_CHECK(!finished, file.path(), "finish() called twice");
    pkl = "\x80\x02";
    put_value(root, 0);
    put('.');
    // Python's record order: the pickle, its format notes, then the storages.
    record("data.pkl", pkl.data(), pkl.size());
    record(".format_version", "1", 1);
    record(".storage_alignment", "64", 2);
    record("byteorder", "little", 6);
    std::string().swap(pkl);
    for (auto& [index, t] : pending) {
      write_storage(index, t);
      t = at::Tensor();  // drop our reference as soon as it is on disk
    }
    pending.clear();
    try {
      zip->writeEndOfFile();  // version, serialization id, central directory
    } catch (const c10::Error& e) {
      check_io();
      io_failed = true;
      throw Error(file.path(), tt::str("cannot finish the zip archive: ", first_line(e.what_without_backtrace())));
    }
    check_io();
    file.commit();
    finished = true;
  }

  AtomicFile file;  // declared before `zip`, so the zip writer is destroyed first
  std::unique_ptr<caffe2::serialize::PyTorchStreamWriter> zip;
  bool io_failed = false;
  std::exception_ptr io_error;
  bool finished = false;
  std::vector<Record> records;
  std::unordered_map<const c10::StorageImpl*, size_t> by_storage;
  std::vector<c10::weak_intrusive_ptr<c10::StorageImpl>> seen;
  std::unordered_map<const c10::StorageImpl*, size_t> by_placeholder;
  std::vector<at::Tensor> placeholder_bases;
  std::vector<std::pair<size_t, at::Tensor>> pending;
  std::string pkl;
};

TorchSaveWriter::TorchSaveWriter(std::string path) : impl_(std::make_unique<Impl>(std::move(path))) {}
TorchSaveWriter::~TorchSaveWriter() = default;

const std::string& TorchSaveWriter::path() const { return impl_->file.path(); }

PickleValue TorchSaveWriter::write(const at::Tensor& tensor) {
  Impl& w = *impl_;
  TT_CHECK(!w.finished, w.file.path(), "write() after finish()");
  TT_CHECK(tensor.defined(), w.file.path(), "an undefined tensor cannot be saved");
  at::Tensor t = tensor;
  if (t.is_conj() || t.is_neg()) t = t.resolve_conj().resolve_neg();
  const size_t index = w.storage_index(t, /*write_now=*/true);
  if (w.placeholder_bases.size() <= index) w.placeholder_bases.resize(index + 1);
  at::Tensor& base = w.placeholder_bases[index];
  if (!base.defined()) {
    base = at::empty({w.records[index].numel}, at::TensorOptions().dtype(t.scalar_type()).device(at::kMeta));
    w.by_placeholder.emplace(base.storage().unsafeGetStorageImpl(), index);
  }
  return PickleValue(base.as_strided(t.sizes(), t.strides(), t.storage_offset()));
}

void TorchSaveWriter::finish(const PickleValue& root) { impl_->finish(root); }

void save_torch_file(const std::string& path, const PickleValue& root) {
  TorchSaveWriter writer(path);
  writer.finish(root);
}

void save_state_dict_file(const std::string& path, const StateDict& state_dict) {
  PickleValue::DictItems items;
  items.reserve(state_dict.size());
  std::unordered_set<std::string> names;
  for (const auto& [name, t] : state_dict) {
    TT_CHECK(names.insert(name).second, path + " [" + name + "]", "the state dict holds this name twice");
    items.emplace_back(PickleValue(name), PickleValue(t));
  }
  PickleValue root = PickleValue::ordered_dict();
  root.dict_items() = std::move(items);  // names are unique: skip set()'s search
  save_torch_file(path, root);
}

}  // namespace tt
