// Reading safetensors files through mmap: the header is parsed and checked, tensors are
// views of the mapped file (no copy) that keep the mapping alive.
// Format: 8-byte little-endian header size N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data. The file is checked as strictly as Python's safetensors checks it: the
// tensors' data_offsets must tile the data region exactly (in order, no overlap, no gap, no
// trailing bytes), shape x dtype size must equal each span without overflow, shapes and
// offsets are non-negative integers, dtypes known names, __metadata__ text to text, the header
// at most 100,000,000 bytes of JSON nested at most 128 levels. Anything else is a tt::Error
// naming the file and, where one is at fault, the tensor key.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "torchtune_cpp/core/state_dict.h"

namespace tt::checkpointing {

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return path_; }
  // Tensor names in file order (by data offset).
  const std::vector<std::string>& keys() const { return keys_; }
  bool contains(const std::string& key) const { return entries_.count(key) != 0; }
  // A read-only CPU tensor viewing the mapped bytes (clone before writing to it); it keeps
  // the mapping alive after this object is gone. Data left unaligned for its dtype (a header
  // length that is not a multiple of 8) is copied instead.
  at::Tensor tensor(const std::string& key) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Every tensor, in file order.
  StateDict state_dict() const;

 private:
  struct Entry {
    at::ScalarType dtype;
    std::vector<int64_t> shape;
    size_t begin, end;  // offsets into the data section
  };
  struct Mapping;
  std::string path_;
  std::shared_ptr<Mapping> map_;
  size_t data_start_ = 0;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> keys_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace tt::checkpointing
