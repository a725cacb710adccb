// Streaming safetensors writer and the temp-file-then-rename file under it.
#include "torchtune_cpp/checkpointing/safetensors_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/disk_space.h"
#include "torchtune_cpp/utils/fault_injection.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors and torch.save data are little-endian; this writer copies memory as is");

namespace tt::checkpointing {

// ---------------------------------------------------------------------------------------------
// AtomicFile

namespace {

// The fault-injection point a file's writes belong to (TORCHTUNE_CPP_FAIL_AT=enospc:<point>):
// "recipe_state" (recipe_state.pt), "index" (.json), else "weights".
const char* fault_point_of(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  if (name == "recipe_state.pt") return "recipe_state";
  if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".json") == 0) return "index";
  return "weights";
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), temp_path_(path_ + ".tmp") {
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    const int err = errno;
    if (is_no_space(err)) throw_write_error(temp_path_, "cannot create the file", err);
    TT_CHECK(false, temp_path_, "cannot create the file: ", std::strerror(err),
             "; check that the folder exists and is writable");
  }
  inject_no_space_ = fault::fail_point(fault_point_of(path_));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

void AtomicFile::write_at(uint64_t offset, const void* data, size_t size) {
  TT_CHECK(!committed_ && fd_ >= 0, path_, "internal: write after commit");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    // Linux writes at most ~2 GiB per call; loop for large tensors and short writes.
    ssize_t n = -1;
    if (inject_no_space_)
      errno = ENOSPC;  // a test hook: this file's first write finds the disk full
    else
      n = ::pwrite(fd_, p, std::min<size_t>(size, size_t{1} << 30), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_write_error(temp_path_, "write failed", errno);
    // pwrite makes no progress only when the device is full.
    if (n == 0) throw_write_error(temp_path_, "write failed", ENOSPC);
    p += n;
    offset += static_cast<uint64_t>(n);
    size -= static_cast<size_t>(n);
  }
}

void AtomicFile::append(const void* data, size_t size) {
  write_at(append_pos_, data, size);
  append_pos_ += size;
}

void AtomicFile::resize(uint64_t size) {
  if (::ftruncate(fd_, static_cast<off_t>(size)) != 0)
    throw_write_error(temp_path_, str("cannot set the file size to ", size, " bytes"), errno);
}

void AtomicFile::commit() {
  TT_CHECK(!committed_ && fd_ >= 0, path_, "internal: committed twice");
  // A network or delayed-allocation file system may report a full disk only here.
  if (::fsync(fd_) != 0) throw_write_error(temp_path_, "fsync failed", errno);
  int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) throw_write_error(temp_path_, "close failed", errno);
  TT_CHECK(std::rename(temp_path_.c_str(), path_.c_str()) == 0, path_, "cannot rename ", temp_path_,
           " to it: ", std::strerror(errno));
  committed_ = true;
  // The rename is durable only once the folder entry is on disk.
  std::string dir = std::filesystem::path(path_).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

// ---------------------------------------------------------------------------------------------
// SafetensorsWriter

std::string safetensors_dtype(at::ScalarType dtype, const std::string& where) {
  switch (dtype) {
    case at::kFloat:
      return "F32";
    case at::kHalf:
      return "F16";
    case at::kBFloat16:
      return "BF16";
    case at::kDouble:
      return "F64";
    case at::kLong:
      return "I64";
    case at::kInt:
      return "I32";
    case at::kShort:
      return "I16";
    case at::kChar:
      return "I8";
    case at::kByte:
      return "U8";
    case at::kBool:
      return "BOOL";
    default:
      break;
  }
  TT_CHECK(false, where, "cannot write dtype ", c10::toString(dtype),
           " to safetensors; supported: float32 (F32), float16 (F16), bfloat16 (BF16), float64, "
           "int64, int32, int16, int8, uint8, bool");
  return {};
}

std::vector<TensorSpec> tensor_specs(const StateDict& state_dict) {
  std::vector<TensorSpec> out;
  out.reserve(state_dict.size());
  for (const auto& [name, t] : state_dict) out.push_back({name, t.scalar_type(), t.sizes().vec()});
  return out;
}

SafetensorsWriter::SafetensorsWriter(std::string path, std::vector<TensorSpec> tensors,
                                     std::map<std::string, std::string> metadata)
    : file_(std::move(path)) {
  const std::string& where = file_.path();
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) {
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata) meta[k] = v;
    header["__metadata__"] = meta;
  }
  uint64_t offset = 0;
  slots_.reserve(tensors.size());
  for (TensorSpec& spec : tensors) {
    const std::string tensor_where = where + " [" + spec.name + "]";
    TT_CHECK(!spec.name.empty() && spec.name != "__metadata__", tensor_where,
             "invalid tensor name: it must be non-empty and not '__metadata__'");
    TT_CHECK(index_.count(spec.name) == 0, tensor_where,
             "tensor declared twice; safetensors names must be unique");
    const std::string dtype = safetensors_dtype(spec.dtype, tensor_where);
    uint64_t numel = 1;
    for (int64_t d : spec.shape) {
      TT_CHECK(d >= 0, tensor_where, "negative dimension in shape");
      numel *= static_cast<uint64_t>(d);
    }
    Slot slot;
    slot.begin = offset;
    slot.end = offset + numel * c10::elementSize(spec.dtype);
    offset = slot.end;
    header[spec.name] = {
        {"dtype", dtype}, {"shape", spec.shape}, {"data_offsets", {slot.begin, slot.end}}};
    index_.emplace(spec.name, slots_.size());
    slot.spec = std::move(spec);
    slots_.push_back(std::move(slot));
  }
  std::string json;
  try {
    json = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(where, tt::str("cannot write the header (tensor names and metadata must be valid "
                               "UTF-8): ",
                               e.what()));
  }
  json.append((8 - json.size() % 8) % 8, ' ');
  const uint64_t n = json.size();
  unsigned char size_bytes[8];
  for (int i = 0; i < 8; ++i) size_bytes[i] = static_cast<unsigned char>(n >> (8 * i));
  data_start_ = 8 + n;
  file_.append(size_bytes, 8);
  file_.append(json.data(), json.size());
  file_.resize(data_start_ + offset);
}

void SafetensorsWriter::write(const std::string& name, const at::Tensor& tensor) {
  const std::string where = path() + " [" + name + "]";
  auto it = index_.find(name);
  TT_CHECK(it != index_.end(), where, "tensor was not declared when the writer was created");
  Slot& slot = slots_[it->second];
  TT_CHECK(!slot.written, where, "tensor written twice");
  TT_CHECK(tensor.defined(), where, "undefined tensor");
  TT_CHECK(tensor.scalar_type() == slot.spec.dtype, where, "tensor is ",
           c10::toString(tensor.scalar_type()), " but was declared ",
           c10::toString(slot.spec.dtype), "; convert it before writing");
  TT_CHECK(tensor.sizes().vec() == slot.spec.shape, where, "tensor has shape ", tensor.sizes(),
           " but was declared ", at::IntArrayRef(slot.spec.shape));
  TT_CHECK(tensor.layout() == at::kStrided && !tensor.is_meta() && !tensor.is_quantized(), where,
           "only dense tensors with data can be written (got a ",
           tensor.is_meta() ? "meta" : "sparse or quantized", " tensor)");
  // One tensor's CPU, row-major copy at most; a contiguous CPU tensor is written in place.
  at::Tensor cpu = tensor.resolve_conj().resolve_neg().to(at::kCPU).contiguous();
  if (slot.end > slot.begin)
    file_.write_at(data_start_ + slot.begin, cpu.data_ptr(), slot.end - slot.begin);
  slot.written = true;
}

void SafetensorsWriter::finish() {
  std::vector<std::string> missing;
  for (const Slot& s : slots_)
    if (!s.written) missing.push_back(s.spec.name);
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", " : "") + missing[i];
    if (missing.size() > 5) list += tt::str(", ... (", missing.size(), " in all)");
    TT_CHECK(false, path(), "declared tensors were never written: ", list);
  }
  file_.commit();
}

void save_safetensors(const std::string& path, const StateDict& state_dict,
                      std::map<std::string, std::string> metadata) {
  SafetensorsWriter writer(path, tensor_specs(state_dict), std::move(metadata));
  for (const auto& [name, t] : state_dict) writer.write(name, t);
  writer.finish();
}

}  // namespace tt::checkpointing
