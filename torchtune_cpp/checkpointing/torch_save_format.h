// What torch.save's reader (torch_load.cpp, unpickler.cpp) and writer (torch_save.cpp) share:
// the storage classes that name a tensor's dtype in the pickle, the nesting limit both
// enforce, and small helpers for bytes and messages.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <string>

namespace tt::checkpointing {
namespace torch_save_format {

// Limits that keep crafted files from exhausting memory or the C++ stack; real checkpoints
// are far below them (a 70B state dict is ~700 values, nested 1-4 levels deep).
constexpr int64_t kMaxDepth = 1000;

// torch.<Name>Storage <-> dtype; the order is the writer's preference (one name per dtype).
struct StorageType {
  const char* name;
  at::ScalarType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"FloatStorage", at::kFloat},
    {"BFloat16Storage", at::kBFloat16},
    {"HalfStorage", at::kHalf},
    {"DoubleStorage", at::kDouble},
    {"LongStorage", at::kLong},
    {"IntStorage", at::kInt},
    {"ShortStorage", at::kShort},
    {"CharStorage", at::kChar},
    {"ByteStorage", at::kByte},
    {"BoolStorage", at::kBool},
    {"ComplexFloatStorage", at::kComplexFloat},
    {"ComplexDoubleStorage", at::kComplexDouble},
    // torch.load treats an untyped storage as bytes.
    {"UntypedStorage", at::kByte},
};

// "torch.FloatStorage" -> kFloat.
inline std::optional<at::ScalarType> storage_dtype(const std::string& global) {
  if (global.rfind("torch.", 0) != 0) return std::nullopt;
  for (const StorageType& s : kStorageTypes)
    if (global.compare(6, std::string::npos, s.name) == 0) return s.dtype;
  return std::nullopt;
}

inline const char* storage_type_name(at::ScalarType dtype) {
  for (const StorageType& s : kStorageTypes)
    if (s.dtype == dtype) return s.name;
  return nullptr;
}

// The first line of a LibTorch error message (the rest is its C++ context), for messages.
inline std::string first_line(const char* text) {
  std::string s(text);
  return s.substr(0, s.find('\n'));
}

// A little-endian unsigned integer of `n` bytes (pickle arguments, zip headers).
inline uint64_t read_le(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = n; i-- > 0;) v = (v << 8) | p[i];
  return v;
}

// "an int", "a dict", "None": a type name with its article, for messages.
inline std::string with_article(const std::string& type) {
  if (type == "None") return type;
  return (std::string("aeiouAEIOU").find(type[0]) != std::string::npos ? "an " : "a ") + type;
}

}  // namespace torch_save_format
}  // namespace tt::checkpointing
