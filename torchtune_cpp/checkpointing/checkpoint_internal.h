// Shared by the checkpointing sources only (checkpointer, checkpoint_folder, checkpoint_paths,
// hub_cache, post_save, sharded_checkpoint), not an interface for other code: the fixed file
// names inside an output_dir and a checkpoint folder, the INFO log line, small string
// helpers, and the file operations several of them share (checkpoint_paths.cpp).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
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

// Bytes of the files copy_files() would copy from `input_dir`, for the free-space check.
uint64_t copied_files_bytes(const std::string& input_dir);

// Copies `from` to `to` (created or truncated, with `from`'s permissions), reporting the
// real cause of a failure: std::filesystem::copy_file reports a full disk as "Input/output
// error". `point` names the copy for fault injection. The caller syncs.
void copy_file_reporting(const std::filesystem::path& from, const std::filesystem::path& to,
                         const char* point);

// An index file (model.safetensors.index.json, sharded_checkpoint.json) as JSON; a file
// that is not JSON is a tt::Error naming it.
nlohmann::json read_index_json(const std::filesystem::path& path);

}  // namespace tt::checkpointing::checkpoint_internal
