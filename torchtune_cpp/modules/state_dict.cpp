// Checks on loaded weights.
#include "torchtune_cpp/modules/state_dict.h"

#include <algorithm>

#include "torchtune_cpp/utils/check.h"

namespace tt::modules {

void check_weights(const StateDict& sd, const std::string& origin) {
  // Scanned in slices so the temporary mask stays small next to a 70B embedding.
  constexpr int64_t kSlice = int64_t{1} << 24;
  for (const auto& [key, t] : sd) {
    const std::string where = str(key, " (", origin, ")");
    TT_CHECK(
        at::isFloatingType(t.scalar_type()), where, "the checkpoint stores this tensor as ",
        t.scalar_type(),
        "; model weights are floating point (float32, bfloat16, float16): check checkpoint_dir and "
        "checkpoint_files name the model's weights");
    const at::Tensor flat = t.reshape({-1});
    for (int64_t start = 0; start < flat.numel(); start += kSlice) {
      const at::Tensor part = flat.slice(0, start, std::min(start + kSlice, flat.numel()));
      if (at::isfinite(part).all().item<bool>()) continue;
      const int64_t first = at::logical_not(at::isfinite(part)).nonzero()[0][0].item<int64_t>();
      throw Error(
          where,
          str("the checkpoint holds a non-finite value (", part[first].item<double>(),
              " at flat index ", start + first,
              "); training from it gives NaN: use an intact checkpoint (an earlier epoch_N, or the "
              "original weights)"));
    }
  }
}

}  // namespace tt::modules
