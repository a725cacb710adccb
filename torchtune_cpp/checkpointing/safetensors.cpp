// safetensors reader over mmap, as strict as Python's safetensors: whatever it refuses is a
// tt::Error here, so no file reads one way in Python and another way in C++.
#include "torchtune_cpp/checkpointing/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "torchtune_cpp/utils/check.h"

namespace tt::checkpointing {

struct SafetensorsFile::Mapping {
  void* data = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (data != nullptr && data != MAP_FAILED) munmap(data, size);
  }
};

namespace {

using nlohmann::json;

// Python's safetensors refuses headers above 100,000,000 bytes and JSON nested deeper than
// serde_json's recursion limit of 128.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr int kMaxHeaderDepth = 128;

at::ScalarType parse_dtype(const std::string& d, const std::string& where) {
  static const std::map<std::string, at::ScalarType> kTypes = {
      {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16}, {"F64", at::kDouble},
      {"I64", at::kLong},  {"I32", at::kInt},  {"I16", at::kShort},     {"I8", at::kChar},
      {"U8", at::kByte},   {"BOOL", at::kBool}};
  // Names Python's safetensors knows that have no use in a Llama checkpoint.
  static const std::set<std::string> kOther = {"F4",      "F6_E2M3", "F6_E3M2",     "F8_E5M2",
                                               "F8_E4M3", "F8_E8M0", "U16",         "U32",
                                               "U64",     "C64",     "F8_E4M3FNUZ", "F8_E5M2FNUZ"};
  auto it = kTypes.find(d);
  TT_CHECK(it != kTypes.end(), where,
           kOther.count(d) ? "the safetensors dtype '" : "unknown safetensors dtype '", d,
           kOther.count(d) ? "' is not read by torchtune_cpp" : "'",
           "; supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL");
  return it->second;
}

// A key as it may appear in a one-line message: control characters escaped.
std::string printable(const std::string& key) {
  std::string out;
  for (unsigned char c : key) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// A JSON value's text for messages, cut short.
std::string brief(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  return s.size() > 40 ? s.substr(0, 40) + "..." : s;
}

// A non-negative integer as Python reads a usize: written without sign, fraction or exponent.
uint64_t unsigned_of(const json& v, const std::string& where, const std::string& what) {
  TT_CHECK(v.is_number_unsigned(), where, what, " must be non-negative whole numbers, found ",
           brief(v), "; the header is corrupt");
  return v.get<uint64_t>();
}

// Parses the header with nlohmann's callback parser, which reports the depth of every value:
// deeper than Python's limit, or a field given twice inside a tensor entry (Python refuses
// both), is an error before the value is even built.
json parse_header(const char* begin, const char* end, const std::string& path) {
  TT_CHECK(!(end - begin >= 3 && std::memcmp(begin, "\xEF\xBB\xBF", 3) == 0), path,
           "the safetensors header starts with a byte-order mark, which is not JSON; the file is "
           "corrupt");
  // nlohmann reads a NUL byte as the end of the input; Python reads it as trailing garbage.
  TT_CHECK(std::memchr(begin, '\0', static_cast<size_t>(end - begin)) == nullptr, path,
           "the safetensors header holds a NUL byte (padding must be spaces); the file is corrupt");
  std::vector<std::set<std::string>> fields;  // the keys seen in each open object
  std::string entry;                          // the top-level key being read
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    using Event = json::parse_event_t;
    if ((event == Event::object_start || event == Event::array_start) && depth >= kMaxHeaderDepth)
      throw Error(
          path, tt::str("the safetensors header nests JSON more than ", kMaxHeaderDepth,
                        " levels deep (Python's safetensors refuses it too); the file is corrupt"));
    if (event == Event::object_start) fields.emplace_back();
    if (event == Event::object_end && !fields.empty()) fields.pop_back();
    if (event == Event::key && parsed.is_string() && !fields.empty()) {
      const std::string& key = parsed.get_ref<const std::string&>();
      if (depth == 1) entry = key;
      // Tensor names may repeat (the last entry wins, as in Python), and so may metadata
      // keys; __metadata__ itself and the fields of a tensor entry may not.
      const bool unique =
          (depth == 1 && key == "__metadata__") || (depth == 2 && entry != "__metadata__");
      if (!fields.back().insert(key).second && unique)
        throw Error(depth == 1 ? path : path + " [" + printable(entry) + "]",
                    tt::str("the safetensors header gives '", printable(key),
                            "' twice in one object; the file is corrupt"));
    }
    return true;
  };
  try {
    return json::parse(begin, end, callback);
  } catch (const json::exception& e) {
    throw Error(path, tt::str("corrupt safetensors header (not valid JSON): ", e.what()));
  }
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path)
    : path_(path), map_(std::make_shared<Mapping>()) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  TT_CHECK(fd >= 0, path, "cannot open safetensors file: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    TT_CHECK(false, path, "is not a regular file, so not a safetensors file");
  }
  map_->size = static_cast<size_t>(st.st_size);
  if (map_->size > 0) map_->data = ::mmap(nullptr, map_->size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  TT_CHECK(map_->size >= 8, path, "file is ", map_->size,
           " bytes, too short for a safetensors header (truncated?)");
  TT_CHECK(map_->data != MAP_FAILED, path, "cannot map the file: ", std::strerror(map_errno));
  const auto* bytes = static_cast<const unsigned char*>(map_->data);
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | bytes[i];
  TT_CHECK(header_size <= kMaxHeaderBytes, path, "the header claims ", header_size,
           " bytes, more than safetensors allows (", kMaxHeaderBytes,
           "): not a safetensors file, or corrupt");
  TT_CHECK(header_size <= map_->size - 8, path, "header size ", header_size,
           " does not fit the file (", map_->size, " bytes): not a safetensors file, or truncated");
  data_start_ = 8 + header_size;
  const char* text = reinterpret_cast<const char*>(bytes + 8);
  const json header = parse_header(text, text + header_size, path);
  TT_CHECK(header.is_object(), path, "corrupt safetensors header: a JSON ", header.type_name(),
           " where an object of tensor entries belongs");

  struct Placed {
    size_t begin, end;
    std::string key;
  };
  std::vector<Placed> placed;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string where = path + " [" + printable(it.key()) + "]";
    const json& v = it.value();
    if (it.key() == "__metadata__") {
      if (v.is_null()) continue;
      TT_CHECK(v.is_object(), where, "must map strings to strings, found ", brief(v));
      for (auto m = v.begin(); m != v.end(); ++m) {
        TT_CHECK(m.value().is_string(), where, "must map strings to strings, but '",
                 printable(m.key()), "' holds ", brief(m.value()));
        metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    TT_CHECK(v.is_object(), where,
             "a tensor entry must be an object with dtype, shape and data_offsets, found ",
             brief(v));
    for (const char* field : {"dtype", "shape", "data_offsets"})
      TT_CHECK(v.contains(field), where, "the tensor entry has no ", field,
               "; the header is corrupt");
    Entry e;
    TT_CHECK(v["dtype"].is_string(), where, "dtype must be a name such as \"F32\", found ",
             brief(v["dtype"]));
    e.dtype = parse_dtype(v["dtype"].get<std::string>(), where);
    TT_CHECK(v["shape"].is_array(), where, "shape must be a list of dimensions, found ",
             brief(v["shape"]));
    // Elements and bytes, overflow-checked as Python does; dimensions must also fit int64
    // (LibTorch's sizes), with room for LibTorch's stride arithmetic even when one is 0.
    uint64_t numel = 1, extent = 1;
    bool overflow = false;
    for (const json& d : v["shape"]) {
      const uint64_t dim = unsigned_of(d, where, "shape dimensions");
      overflow = overflow || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
                 __builtin_mul_overflow(numel, dim, &numel) ||
                 __builtin_mul_overflow(extent, std::max<uint64_t>(dim, 1), &extent);
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    uint64_t nbytes = 0;
    overflow = overflow || __builtin_mul_overflow(numel, c10::elementSize(e.dtype), &nbytes) ||
               extent > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    TT_CHECK(!overflow, where, "shape ", brief(v["shape"]),
             " overflows when its size is computed; the header is corrupt");
    const json& offsets = v["data_offsets"];
    TT_CHECK(offsets.is_array() && offsets.size() == 2, where,
             "data_offsets must be two byte offsets [begin, end], found ", brief(offsets));
    e.begin = unsigned_of(offsets[0], where, "data_offsets");
    e.end = unsigned_of(offsets[1], where, "data_offsets");
    TT_CHECK(e.begin <= e.end, where, "data_offsets [", e.begin, ", ", e.end,
             "] end before they begin");
    TT_CHECK(e.end - e.begin == nbytes, where, "data_offsets span ", e.end - e.begin,
             " bytes but shape ", brief(v["shape"]), " of ", v["dtype"].get<std::string>(),
             " needs ", nbytes);
    placed.push_back({e.begin, e.end, it.key()});
    entries_.emplace(it.key(), std::move(e));
  }
  // The tensors must tile the data region: in offset order, each starts where the previous
  // ends, the first at 0 and the last at the end of the file. Anything else would let one
  // tensor read another's bytes, or hide bytes no tensor owns.
  std::sort(placed.begin(), placed.end(), [](const Placed& a, const Placed& b) {
    return std::tie(a.begin, a.end, a.key) < std::tie(b.begin, b.end, b.key);
  });
  const size_t data_size = map_->size - data_start_;
  size_t covered = 0;
  const std::string* previous = nullptr;
  for (const Placed& p : placed) {
    const std::string where = path + " [" + printable(p.key) + "]";
    const std::string after =
        previous ? "tensor '" + printable(*previous) + "'" : "the start of the data";
    TT_CHECK(p.begin >= covered, where, "data_offsets [", p.begin, ", ", p.end, "] overlap ", after,
             ", which ends at ", covered, ": two tensors would share bytes; the header is corrupt");
    TT_CHECK(p.begin == covered, where, "data_offsets start at ", p.begin, ", leaving ",
             p.begin - covered, " bytes after ", after,
             " that no tensor owns; the header is corrupt");
    TT_CHECK(p.end <= data_size, where, "tensor data ends at byte ", p.end, " but the file holds ",
             data_size, " data bytes: the file is truncated");
    covered = p.end;
    previous = &p.key;
    keys_.push_back(p.key);
  }
  TT_CHECK(covered == data_size, path, "the file has ", data_size - covered,
           " bytes after the last tensor that no tensor owns (the tensors end at data byte ",
           covered, "); the file is corrupt or was appended to");
}

at::Tensor SafetensorsFile::tensor(const std::string& key) const {
  auto it = entries_.find(key);
  TT_CHECK(it != entries_.end(), path_, "no tensor named '", key, "' in this file");
  const Entry& e = it->second;
  auto* ptr = static_cast<char*>(map_->data) + data_start_ + e.begin;
  if (reinterpret_cast<uintptr_t>(ptr) % c10::elementSize(e.dtype) != 0) {
    // A header length that is not a multiple of 8 leaves the data unaligned for its dtype:
    // copy the bytes into an aligned tensor rather than hand out a misaligned view.
    at::Tensor raw = at::from_blob(ptr, {static_cast<int64_t>(e.end - e.begin)},
                                   at::TensorOptions().dtype(at::kByte));
    return raw.clone().view(e.dtype).view(e.shape);
  }
  std::shared_ptr<Mapping> keep = map_;
  return at::from_blob(
      ptr, e.shape, [keep](void*) {}, at::TensorOptions().dtype(e.dtype));
}

StateDict SafetensorsFile::state_dict() const {
  StateDict out;
  for (const std::string& k : keys_) out.emplace_back(k, tensor(k));
  return out;
}

}  // namespace tt::checkpointing
