// The restricted unpickler of torch.load(weights_only=True): the opcodes torch.save writes,
// the globals a state dict or optimizer state needs, and nothing that runs code, with limits
// on nesting, stack, memo and the values a pickle may build.
#include "torchtune_cpp/checkpointing/unpickler.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "torchtune_cpp/checkpointing/torch_save_format.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::checkpointing {

namespace {

using torch_save_format::kMaxDepth;
using torch_save_format::read_le;
using torch_save_format::storage_dtype;
using torch_save_format::with_article;

// The reader's further limits against crafted files (kMaxDepth is the writer's too).
// What the values built from one pickle may cost, counted as sizeof(PickleValue) per value
// plus its text: a pickle of a few bytes can otherwise ask for a value to be copied 2^40 times.
constexpr int64_t kMaxValueBytes = int64_t{512} << 20;
// Stack and memo slots: each is a value of its own.
constexpr size_t kMaxSlots = size_t{1} << 22;

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
    case PickleValue::Kind::kNone:
      return "N";
    case PickleValue::Kind::kBool:
      return k.to_bool() ? "T" : "F";
    case PickleValue::Kind::kInt:
      return "I" + std::to_string(k.to_int()) + ";";
    case PickleValue::Kind::kDouble:
      return "D" + k.repr() + ";";  // repr() keeps every bit
    case PickleValue::Kind::kString:
      return "S" + std::to_string(k.to_string().size()) + ":" + k.to_string();
    case PickleValue::Kind::kBytes:
      return "B" + std::to_string(k.to_bytes().size()) + ":" + k.to_bytes();
    case PickleValue::Kind::kTuple: {
      std::string out = "(";
      for (const PickleValue& x : k.items()) {
        std::string part = index_key(x);
        if (part.empty()) return "";
        out += part;
      }
      return out + ")";
    }
    default:
      return "";
  }
}

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
          if (proto > 5)
            fail(tt::str("pickle protocol ", proto, " is newer than any Python writes"));
          break;
        }
        case 0x95:
          take(8);
          break;     // FRAME: only a read-ahead hint
        case '.': {  // STOP
          NodePtr result = pop();
          return value_of(result, "the pickled object");
        }
        case 'N':
          push_value({});
          break;
        case 0x88:
          push_value(true);
          break;
        case 0x89:
          push_value(false);
          break;
        case 'J':
          push_value(static_cast<int64_t>(static_cast<int32_t>(read_le(take(4), 4))));
          break;
        case 'K':
          push_value(static_cast<int64_t>(*take(1)));
          break;
        case 'M':
          push_value(static_cast<int64_t>(read_le(take(2), 2)));
          break;
        case 0x8a:
          push_value(read_long(*take(1)));
          break;  // LONG1
        case 0x8b:
          push_value(read_long(static_cast<size_t>(read_le(take(4), 4))));
          break;     // LONG4
        case 'G': {  // BINFLOAT, big-endian
          const unsigned char* b = take(8);
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | b[i];
          double d;
          std::memcpy(&d, &bits, sizeof(d));
          push_value(d);
          break;
        }
        case 'X':
          push_value(read_string(read_le(take(4), 4)));
          break;  // BINUNICODE
        case 0x8c:
          push_value(read_string(*take(1)));
          break;  // SHORT_BINUNICODE
        case 0x8d:
          push_value(read_string(read_le(take(8), 8)));
          break;  // BINUNICODE8
        case 'T':
          push_value(read_string(read_le(take(4), 4)));
          break;  // BINSTRING (py2 str)
        case 'U':
          push_value(read_string(*take(1)));
          break;  // SHORT_BINSTRING
        case 'B':
          push_value(PickleValue::bytes(read_string(read_le(take(4), 4))));
          break;
        case 'C':
          push_value(PickleValue::bytes(read_string(*take(1))));
          break;
        case 0x8e:
          push_value(PickleValue::bytes(read_string(read_le(take(8), 8))));
          break;
        case ')':
          push_value(PickleValue::tuple());
          break;
        case 0x85:
          push(make_tuple(pop_n(1)));
          break;
        case 0x86:
          push(make_tuple(pop_n(2)));
          break;
        case 0x87:
          push(make_tuple(pop_n(3)));
          break;
        case 't':
          push(make_tuple(pop_mark()));
          break;
        case ']':
          push_value(PickleValue::list());
          break;
        case '}':
          push_value(PickleValue::dict());
          break;
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
        case '(':
          marks_.push_back(stack_.size());
          break;
        case '0':
          pop();
          break;  // POP
        case '1':
          pop_mark();
          break;  // POP_MARK
        case '2':
          push(top());
          break;  // DUP
        case 'q':
          memoize(*take(1));
          break;  // BINPUT
        case 'r':
          memoize(read_le(take(4), 4));
          break;  // LONG_BINPUT
        case 0x94:
          memoize(memo_.size());
          break;  // MEMOIZE
        case 'h':
          push(memo_get(*take(1)));
          break;  // BINGET
        case 'j':
          push(memo_get(read_le(take(4), 4)));
          break;     // LONG_BINGET
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
        case 'R':
          reduce();
          break;
        case 'b':
          build();
          break;
        case 'Q':
          persistent_load();
          break;  // BINPERSID
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
    throw Error(path_,
                tt::str("corrupt or unsupported data.pkl (at byte ", op_pos_, "): ", message));
  }

  static std::string hex(unsigned op) {
    char buf[4];
    std::snprintf(buf, sizeof(buf), "%02x", op);
    return buf;
  }

  [[noreturn]] void refuse(const std::string& what) const {
    throw Error(
        path_,
        tt::str(
            "refused to load: the pickle asks for ", what,
            ". torch.save checkpoints hold only tensors, dicts, OrderedDicts, lists, tuples, "
            "numbers, "
            "strings, bytes and None (what torch.load(weights_only=True) accepts), and building "
            "anything else could run code from the file. It is not a checkpoint, or it was "
            "crafted; "
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
      fail(tt::str("the pickle keeps more than ", kMaxSlots,
                   " objects on its stack (crafted to exhaust memory?)"));
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
      fail(tt::str("the pickle fills more than ", kMaxSlots,
                   " memo slots (crafted to exhaust memory?)"));
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
      case Node::Type::kGlobal:
        return "the global " + n.global;
      case Node::Type::kStorage:
        return "a storage";
      case Node::Type::kRawTuple:
        return "a tuple holding a global or a storage";
      case Node::Type::kValue:
        return with_article(n.value.type_name());
    }
    return "?";
  }

  const PickleValue& value_of(const NodePtr& n, const std::string& what) const {
    if (n->type != Node::Type::kValue)
      fail(what + " is " + describe(*n) + " where a value belongs");
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
    if (parent.depth > kMaxDepth)
      fail(tt::str("values nested more than ", kMaxDepth, " levels deep"));
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
        if (!pairs.is_list() && !pairs.is_tuple())
          fail("OrderedDict's argument must be a list of pairs");
        // The pairs are copied twice (flattened, then into the dict); both copies are paid
        // for here, and the dict is as deep and as costly as its argument at most.
        charge(2 * a[0]->cost);
        std::vector<NodePtr> flat;
        for (const PickleValue& p : pairs.items()) {
          if ((!p.is_list() && !p.is_tuple()) || p.items().size() != 2)
            fail("OrderedDict's items must be pairs");
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
        if (result->depth > kMaxDepth)
          fail(tt::str("values nested more than ", kMaxDepth, " levels deep"));
      } else if (!a.empty()) {
        fail("OrderedDict called with " + std::to_string(a.size()) + " arguments");
      }
    } else if (name == "torch._utils._rebuild_tensor_v2") {
      if (a.size() != 6 && a.size() != 7) fail("_rebuild_tensor_v2 takes 6 or 7 arguments");
      if (a[0]->type != Node::Type::kStorage)
        fail("_rebuild_tensor_v2's first argument is not a storage");
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
  at::Tensor rebuild_tensor(const Node& storage_node, int64_t offset,
                            const std::vector<int64_t>& size,
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
      if (offset > numel)
        fail(tt::str("an empty tensor's offset ", offset, " lies beyond its storage", on));
    } else {
      // The last element reached must lie inside the storage (overflow-checked: a crafted
      // size must not wrap around into a small number).
      int64_t last = offset;
      for (size_t i = 0; i < size.size(); ++i) {
        int64_t step = 0;
        if (__builtin_mul_overflow(size[i] - 1, stride[i], &step) ||
            __builtin_add_overflow(last, step, &last))
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

PickleValue unpickle(const std::string& path, const std::string& pickle,
                     const StorageLoader& load_storage) {
  return Unpickler(path, pickle, load_storage).run();
}

}  // namespace tt::checkpointing
