// Fuzz target: load_torch_file (the zip container, the restricted unpickler and the tensor
// views) on arbitrary bytes, and load_state_dict_file on what loads as a dict. Every tensor it
// returns must lie inside its storage, and every storage byte must be readable; the value tree must
// survive printing, copying and destruction.
#include <ATen/ATen.h>

#include "tests/fuzz/fuzz_util.h"
#include "torchtune_cpp/checkpointing/torch_save.h"

namespace {

uint64_t walk(const tt::PickleValue& v) {
  using Kind = tt::PickleValue::Kind;
  uint64_t sum = 0;
  switch (v.kind()) {
    case Kind::kTensor: {
      const at::Tensor& t = v.to_tensor();
      const size_t storage_bytes = t.storage().nbytes();
      if (t.numel() > 0) {
        int64_t last = t.storage_offset();
        for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
        FUZZ_CHECK(last >= 0 && static_cast<size_t>(last + 1) * t.element_size() <= storage_bytes);
      }
      const auto* p = static_cast<const uint8_t*>(t.storage().data());
      for (size_t i = 0; i < storage_bytes; ++i) sum += p[i];
      break;
    }
    case Kind::kList:
    case Kind::kTuple:
      for (const tt::PickleValue& x : v.items()) sum += walk(x);
      break;
    case Kind::kDict:
      for (const auto& [k, x] : v.dict_items()) sum += walk(k) + walk(x);
      break;
    case Kind::kString:
      sum += v.to_string().size();
      break;
    case Kind::kBytes:
      sum += v.to_bytes().size();
      break;
    default:
      break;
  }
  return sum;
}

}  // namespace

int tt_fuzz_torch_save(const uint8_t* data, size_t size) {
  static const std::string path = tt::fuzz::scratch_path("input.pt");
  tt::fuzz::write_file(path, data, size);
  tt::fuzz::run_one("load_torch_file", [&] {
    tt::PickleValue root = tt::checkpointing::load_torch_file(path);
    uint64_t sum = walk(root);
    sum += root.repr().size();
    tt::PickleValue copy = root;
    sum += walk(copy);
    if (sum == 1) std::fputc(' ', stderr);  // keep the reads
    if (root.is_dict()) {
      tt::fuzz::run_one("load_state_dict_file", [&] {
        for (const auto& [name, t] : tt::checkpointing::load_state_dict_file(path))
          FUZZ_CHECK(root.find(name) != nullptr);
      });
    }
  });
  return 0;
}

TT_FUZZ_ENTRY(torch_save)
