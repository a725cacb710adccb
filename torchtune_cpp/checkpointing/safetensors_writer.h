// Writing safetensors files as a stream, and the crash-safe file both checkpoint writers use.
//
// The safetensors header lists every tensor's byte range, so it must be known before any data:
// the caller declares all names, dtypes and shapes up front, then hands the tensors over one at
// a time (any device, any strides, any order). Each goes straight to its place in the file, so
// saving never holds a second copy of the state dict, only one tensor's CPU copy at a time.
// Layout: 8-byte little-endian header size N (a multiple of 8, the JSON padded with spaces as
// the reference writer does, so the data is 8-byte aligned), the JSON
// {"__metadata__": {"format": "pt"}, "<name>": {"dtype", "shape", "data_offsets"}, ...} in
// declaration order, then the tensors packed in that order.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "torchtune_cpp/core/state_dict.h"

namespace tt::checkpointing {

// A file written under `path + ".tmp"` and renamed over `path` only by commit(), after fsync,
// so an error or a crash never leaves a half-written checkpoint under the real name (and an
// existing file there stays intact until the new one is complete). Destroying it uncommitted
// removes the temporary file. A full disk is a NoSpaceError (utils/disk_space.h).
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends at the current end of what append() has written.
  void append(const void* data, size_t size);
  // Writes at an absolute offset (the file grows as needed).
  void write_at(uint64_t offset, const void* data, size_t size);
  // Sets the file size up front (unwritten parts read as zeros until written).
  void resize(uint64_t size);
  // fsync, rename over the target, fsync the folder. Nothing may be written afterwards.
  void commit();

  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_path_; }
  bool committed() const { return committed_; }

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  uint64_t append_pos_ = 0;
  bool committed_ = false;
  bool inject_no_space_ = false;  // TORCHTUNE_CPP_FAIL_AT (utils/fault_injection.h)
};

struct TensorSpec {
  std::string name;
  at::ScalarType dtype;
  std::vector<int64_t> shape;
};

// The specs of a state dict's tensors, in its order.
std::vector<TensorSpec> tensor_specs(const StateDict& state_dict);

// The safetensors dtype string ("F32", "BF16", ...) of a scalar type; a tt::Error naming
// `where` for types the format or this project does not write.
std::string safetensors_dtype(at::ScalarType dtype, const std::string& where);

class SafetensorsWriter {
 public:
  // Declares every tensor and writes the header. Supported dtypes: F32, F16, BF16, F64, I64,
  // I32, I16, I8, U8, BOOL (what SafetensorsFile reads back).
  SafetensorsWriter(std::string path, std::vector<TensorSpec> tensors,
                    std::map<std::string, std::string> metadata = {{"format", "pt"}});
  ~SafetensorsWriter() = default;  // without finish(): the temporary file is removed
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  // Writes one declared tensor now; its dtype and shape must match the declaration exactly
  // (no silent casts: a checkpoint's dtype is part of its contract).
  void write(const std::string& name, const at::Tensor& tensor);
  // Checks that every declared tensor was written, then makes the file appear under `path`.
  void finish();

  const std::string& path() const { return file_.path(); }

 private:
  struct Slot {
    TensorSpec spec;
    uint64_t begin = 0, end = 0;
    bool written = false;
  };
  AtomicFile file_;
  std::vector<Slot> slots_;
  std::unordered_map<std::string, size_t> index_;
  uint64_t data_start_ = 0;
};

// The whole state dict in one call (tensors on any device), through SafetensorsWriter.
void save_safetensors(const std::string& path, const StateDict& state_dict,
                      std::map<std::string, std::string> metadata = {{"format", "pt"}});

}  // namespace tt::checkpointing
