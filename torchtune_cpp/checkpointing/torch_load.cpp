// Reading torch.save zip files: the restricted unpickler (unpickler.h) over a memory-mapped
// PyTorchStreamReader, which hands it the storages as views of the mapping.
#include "torchtune_cpp/checkpointing/torch_load.h"

#include <caffe2/serialize/inline_container.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <c10/util/Exception.h>
#include <c10/util/Logging.h>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "torchtune_cpp/checkpointing/torch_save_format.h"
#include "torchtune_cpp/checkpointing/unpickler.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::checkpointing {

namespace {

using torch_save_format::first_line;
using torch_save_format::read_le;
using torch_save_format::with_article;

// The largest data.pkl read (crafted files claim more).
constexpr size_t kMaxPickleBytes = size_t{1} << 30;

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
    TT_CHECK(false, path,
             S_ISDIR(st.st_mode) ? "is a folder, not a torch.save file (a distributed "
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
    auto load_storage = [&](const std::string& key, at::ScalarType dtype,
                            int64_t numel) -> at::Tensor {
      const std::string where = path + " [data/" + key + "]";
      auto found = storages.find(key);
      if (found != storages.end()) {
        TT_CHECK(found->second.scalar_type() == dtype && found->second.numel() == numel, where,
                 "one storage is used as ", python_dtype_name(found->second.scalar_type()),
                 " and as ", python_dtype_name(dtype), " (corrupt file)");
        return found->second;
      }
      TT_CHECK(reader.hasRecord("data/" + key), where,
               "the storage record is missing: the file is incomplete");
      const size_t elem = c10::elementSize(dtype);
      TT_CHECK(static_cast<uint64_t>(numel) <= map->size / elem, where, "the pickle expects ",
               numel, " elements of ", python_dtype_name(dtype),
               ", more than the file holds (corrupt file)");
      const size_t nbytes = static_cast<size_t>(numel) * elem;
      const std::string name = "data/" + key;
      const size_t record_size = reader.getRecordSize(name);
      TT_CHECK(record_size == nbytes, where, "the record holds ", record_size,
               " bytes but the pickle expects ", numel, " x ", python_dtype_name(dtype), " = ",
               nbytes, " bytes (corrupt file)");
      at::Tensor t;
      if (nbytes > 0) {
        // Stored (uncompressed) and aligned: a view of the mapping. torch.save always writes
        // records so; zips re-packed by other tools may be compressed and are copied.
        const size_t header = reader.getRecordHeaderOffset(name);
        const size_t offset = reader.getRecordOffset(name);
        const bool stored = header + 30 <= map->size && read_le(b + header, 4) == 0x04034b50 &&
                            read_le(b + header + 8, 2) == 0 &&
                            (read_le(b + header + 6, 2) & 1) == 0;
        if (stored && offset <= map->size && nbytes <= map->size - offset &&
            reinterpret_cast<uintptr_t>(b + offset) % elem == 0) {
          std::shared_ptr<MappedFile> keep = map;
          t = at::from_blob(
              static_cast<char*>(map->data) + offset, {numel}, [keep](void*) {},
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
    return unpickle(path, pickle, load_storage);
  } catch (const c10::Error& e) {
    throw Error(path, tt::str("cannot read this torch.save file (truncated or corrupt?): ",
                              first_line(e.what_without_backtrace())));
  }
}

StateDict load_state_dict_file(const std::string& path) {
  PickleValue root = load_torch_file(path);
  TT_CHECK(root.is_dict(), path,
           "expected a state dict (a dict of name -> tensor) but the file holds ",
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

}  // namespace tt::checkpointing
