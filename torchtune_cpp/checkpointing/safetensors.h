// Reading safetensors files through mmap: the header is parsed and checked, tensors are
// views of the mapped file (no copy) that keep the mapping alive.
// Format: 8-byte little-endian header size N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the data. Truncated or inconsistent files are tt::Errors naming the file and the key.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "torchtune_cpp/modules/state_dict.h"

namespace tt {

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return path_; }
  // Tensor names in file order (by data offset).
  const std::vector<std::string>& keys() const { return keys_; }
  bool contains(const std::string& key) const { return entries_.count(key) != 0; }
  // A read-only CPU tensor viewing the mapped bytes (clone before writing to it); it keeps
  // the mapping alive after this object is gone.
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

}  // namespace tt
