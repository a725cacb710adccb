// Shared by the checkpointing sources only (checkpointer, checkpoint_folder, checkpoint_paths,
// hub_cache, post_save), not an interface for other code: the fixed file names inside an
// output_dir and a checkpoint folder, the INFO log line, and two small string helpers.
#pragma once

#include <iostream>
#include <string>

namespace tt::checkpointing::checkpoint_internal {

inline constexpr const char* kRecipeStateDir = "recipe_state";
inline constexpr const char* kRecipeStateFile = "recipe_state.pt";
inline constexpr const char* kSafetensorsIndex = "model.safetensors.index.json";
inline constexpr const char* kTorchIndex = "pytorch_model.bin.index.json";

inline void log_info(const std::string& message) {
  std::cerr << "INFO: " << message << "\n";
}

inline std::string zfill(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), '0') + s;
}

inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace tt::checkpointing::checkpoint_internal
