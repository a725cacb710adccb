// safetensors reader over mmap.
#include "torchtune_cpp/checkpointing/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "torchtune_cpp/utils/check.h"

namespace tt {

struct SafetensorsFile::Mapping {
  void* data = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (data != nullptr && data != MAP_FAILED) munmap(data, size);
  }
};

namespace {

at::ScalarType parse_dtype(const std::string& d, const std::string& where) {
  static const std::map<std::string, at::ScalarType> kTypes = {
      {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16}, {"F64", at::kDouble},
      {"I64", at::kLong},  {"I32", at::kInt},   {"I16", at::kShort},     {"I8", at::kChar},
      {"U8", at::kByte},   {"BOOL", at::kBool}};
  auto it = kTypes.find(d);
  TT_CHECK(it != kTypes.end(), where, "unsupported safetensors dtype '", d,
           "'; supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL");
  return it->second;
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path), map_(std::make_shared<Mapping>()) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  TT_CHECK(fd >= 0, path, "cannot open safetensors file: ", std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  map_->size = static_cast<size_t>(st.st_size);
  if (map_->size > 0) map_->data = ::mmap(nullptr, map_->size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  TT_CHECK(map_->size >= 8, path, "file is ", map_->size,
           " bytes, too short for a safetensors header (truncated?)");
  TT_CHECK(map_->data != MAP_FAILED, path, "cannot map the file: ", std::strerror(errno));
  const auto* bytes = static_cast<const unsigned char*>(map_->data);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];
  TT_CHECK(header_size <= map_->size - 8 && header_size < (100u << 20), path,
           "header size ", header_size, " does not fit the file (", map_->size,
           " bytes): not a safetensors file, or truncated");
  data_start_ = 8 + header_size;
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(reinterpret_cast<const char*>(bytes + 8),
                                   reinterpret_cast<const char*>(bytes + 8 + header_size));
  } catch (const nlohmann::json::exception& e) {
    throw Error(path, tt::str("corrupt safetensors header: ", e.what()));
  }
  TT_CHECK(header.is_object(), path, "corrupt safetensors header: not a JSON object");
  const size_t data_size = map_->size - data_start_;
  std::vector<std::pair<size_t, std::string>> order;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      for (auto m = it.value().begin(); m != it.value().end(); ++m)
        if (m.value().is_string()) metadata_[m.key()] = m.value().get<std::string>();
      continue;
    }
    const std::string where = path + " [" + it.key() + "]";
    const auto& v = it.value();
    TT_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") && v.contains("data_offsets"),
             where, "corrupt header entry: needs dtype, shape and data_offsets");
    Entry e;
    e.dtype = parse_dtype(v["dtype"].get<std::string>(), where);
    e.shape = v["shape"].get<std::vector<int64_t>>();
    auto offsets = v["data_offsets"].get<std::vector<size_t>>();
    TT_CHECK(offsets.size() == 2 && offsets[0] <= offsets[1], where, "corrupt data_offsets");
    e.begin = offsets[0];
    e.end = offsets[1];
    int64_t numel = 1;
    for (int64_t d : e.shape) numel *= d;
    TT_CHECK(e.end - e.begin == static_cast<size_t>(numel) * c10::elementSize(e.dtype), where,
             "data_offsets span ", e.end - e.begin, " bytes but shape and dtype need ",
             static_cast<size_t>(numel) * c10::elementSize(e.dtype));
    TT_CHECK(e.end <= data_size, where, "tensor data ends at byte ", e.end, " but the file holds ",
             data_size, " data bytes: the file is truncated");
    order.emplace_back(e.begin, it.key());
    entries_.emplace(it.key(), std::move(e));
  }
  std::sort(order.begin(), order.end());
  for (auto& [offset, key] : order) keys_.push_back(key);
}

at::Tensor SafetensorsFile::tensor(const std::string& key) const {
  auto it = entries_.find(key);
  TT_CHECK(it != entries_.end(), path_, "no tensor named '", key, "' in this file");
  const Entry& e = it->second;
  auto* ptr = static_cast<char*>(map_->data) + data_start_ + e.begin;
  std::shared_ptr<Mapping> keep = map_;
  return at::from_blob(ptr, e.shape, [keep](void*) {}, at::TensorOptions().dtype(e.dtype));
}

StateDict SafetensorsFile::state_dict() const {
  StateDict out;
  for (const std::string& k : keys_) out.emplace_back(k, tensor(k));
  return out;
}

}  // namespace tt
