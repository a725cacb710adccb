// Fuzz target: SafetensorsFile on arbitrary bytes. What it accepts must be what Python's
// safetensors accepts in shape: the tensors tile the data region exactly (no overlap, no gap,
// no trailing bytes), and every byte of every tensor can be read.
#include <ATen/ATen.h>

#include "tests/fuzz/fuzz_util.h"
#include "torchtune_cpp/checkpointing/safetensors.h"

int tt_fuzz_safetensors(const uint8_t* data, size_t size) {
  static const std::string path = tt::fuzz::scratch_path("input.safetensors");
  tt::fuzz::write_file(path, data, size);
  tt::fuzz::run_one("SafetensorsFile", [&] {
    tt::checkpointing::SafetensorsFile file(path);
    FUZZ_CHECK(size >= 8);
    uint64_t header = 0;
    for (int i = 7; i >= 0; --i) header = (header << 8) | data[i];
    FUZZ_CHECK(header <= size - 8);
    size_t total = 0;
    uint64_t checksum = 0;
    for (const auto& [name, t] : file.state_dict()) {
      FUZZ_CHECK(file.contains(name));
      FUZZ_CHECK(t.is_contiguous());
      total += t.nbytes();
      const auto* p = static_cast<const uint8_t*>(t.data_ptr());
      for (size_t i = 0; i < t.nbytes(); ++i) checksum += p[i];
    }
    FUZZ_CHECK(total == size - 8 - header);
    for (const auto& [k, v] : file.metadata()) checksum += k.size() + v.size();
    if (checksum == 1) std::fputc(' ', stderr);  // keep the reads
  });
  return 0;
}

TT_FUZZ_ENTRY(safetensors)
