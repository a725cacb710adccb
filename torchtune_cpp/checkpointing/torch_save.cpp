// Writing torch.save zip files: a pickler and a PyTorchStreamWriter that emit what Python's
// torch.save emits for the same tree.
#include "torchtune_cpp/checkpointing/torch_save.h"

#include <caffe2/serialize/inline_container.h>

#include <c10/util/Exception.h>
#include <algorithm>
#include <cstring>
#include <exception>
#include <unordered_map>
#include <unordered_set>

#include "torchtune_cpp/checkpointing/safetensors_writer.h"
#include "torchtune_cpp/checkpointing/torch_save_format.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::checkpointing {

namespace {

using torch_save_format::first_line;
using torch_save_format::kMaxDepth;
using torch_save_format::storage_type_name;

}  // namespace

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
             python_dtype_name(t.scalar_type()), " with torch.save storages");
    auto it = by_storage.find(impl);
    if (it != by_storage.end()) {
      TT_CHECK(records[it->second].dtype == t.scalar_type(), file.path(),
               "two tensors view one storage as different dtypes (",
               python_dtype_name(records[it->second].dtype), " and ",
               python_dtype_name(t.scalar_type()),
               "); torch.save refuses this too: clone one of them");
      return it->second;
    }
    const size_t nbytes = t.storage().nbytes();
    const size_t elem = c10::elementSize(t.scalar_type());
    TT_CHECK(nbytes % elem == 0, file.path(), "a storage of ", nbytes,
             " bytes is not a whole number of ", python_dtype_name(t.scalar_type()), " elements");
    const size_t index = records.size();
    records.push_back(
        {std::to_string(index), t.scalar_type(), static_cast<int64_t>(nbytes / elem)});
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
    TT_CHECK(s.size() <= 0xFFFFFFFFu, file.path(), "a string of ", s.size(),
             " bytes is too long to pickle");
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
      for (int i = 0; i < 8; ++i)
        b[i] = static_cast<unsigned char>(static_cast<uint64_t>(v) >> (8 * i));
      int n = 8;
      while (n > 1 &&
             ((b[n - 1] == 0x00 && !(b[n - 2] & 0x80)) || (b[n - 1] == 0xFF && (b[n - 2] & 0x80))))
        --n;
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
    TT_CHECK(depth <= kMaxDepth, file.path(), "values nested more than ", kMaxDepth,
             " levels deep");
    constexpr size_t kBatch = 1000;  // Python's pickler batches APPENDS/SETITEMS the same way
    switch (v.kind()) {
      case PickleValue::Kind::kNone:
        put('N');
        break;
      case PickleValue::Kind::kBool:
        put(v.to_bool() ? '\x88' : '\x89');
        break;
      case PickleValue::Kind::kInt:
        put_int(v.to_int());
        break;
      case PickleValue::Kind::kDouble:
        put_double(v.to_double());
        break;
      case PickleValue::Kind::kString:
        put_str(v.to_string());
        break;
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
      case PickleValue::Kind::kTensor:
        put_tensor(v.to_tensor());
        break;
      case PickleValue::Kind::kList: {
        put(']');
        const auto& items = v.items();
        for (size_t i = 0; i < items.size(); i += kBatch) {
          put('(');
          for (size_t j = i; j < std::min(items.size(), i + kBatch); ++j)
            put_value(items[j], depth + 1);
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
        put(items.size() == 1   ? '\x85'
            : items.size() == 2 ? '\x86'
            : items.size() == 3 ? '\x87'
                                : 't');
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
            TT_CHECK(!k.is_list() && !k.is_dict() && !k.is_tensor(), file.path(),
                     "a dict key of type ", k.type_name(),
                     " cannot be pickled (not hashable in Python)");
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
      throw Error(file.path(), tt::str("cannot finish the zip archive: ",
                                       first_line(e.what_without_backtrace())));
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

TorchSaveWriter::TorchSaveWriter(std::string path)
    : impl_(std::make_unique<Impl>(std::move(path))) {}
TorchSaveWriter::~TorchSaveWriter() = default;

const std::string& TorchSaveWriter::path() const {
  return impl_->file.path();
}

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
    base = at::empty({w.records[index].numel},
                     at::TensorOptions().dtype(t.scalar_type()).device(at::kMeta));
    w.by_placeholder.emplace(base.storage().unsafeGetStorageImpl(), index);
  }
  return PickleValue(base.as_strided(t.sizes(), t.strides(), t.storage_offset()));
}

void TorchSaveWriter::finish(const PickleValue& root) {
  impl_->finish(root);
}

void save_torch_file(const std::string& path, const PickleValue& root) {
  TorchSaveWriter writer(path);
  writer.finish(root);
}

void save_state_dict_file(const std::string& path, const StateDict& state_dict) {
  PickleValue::DictItems items;
  items.reserve(state_dict.size());
  std::unordered_set<std::string> names;
  for (const auto& [name, t] : state_dict) {
    TT_CHECK(names.insert(name).second, path + " [" + name + "]",
             "the state dict holds this name twice");
    items.emplace_back(PickleValue(name), PickleValue(t));
  }
  PickleValue root = PickleValue::ordered_dict();
  root.dict_items() = std::move(items);  // names are unique: skip set()'s search
  save_torch_file(path, root);
}

}  // namespace tt::checkpointing
