// Where a checkpoint's files are: torchtune's path helpers (training/checkpointing/_utils.py:
// checkpoint_files, get_path, the output_dir check, copying the non-weight files), the weight
// files of a checkpoint folder (Hugging Face index, sharded checkpoint index, or by
// extension), and the size of what a save writes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "torchtune_cpp/core/pickle_value.h"

namespace tt::checkpointing {

// `checkpoint_files`: a list of names, or {filename_format, max_filename}.
struct CheckpointFiles {
  std::vector<std::string> names;
  bool formatted = false;
  std::string filename_format;
  std::string max_filename;
  bool max_filename_is_string = true;  // torchtune refuses an int max_filename
};

// torchtune's path helpers (training/checkpointing/_utils.py).
std::vector<std::string> formatted_checkpoint_files(const CheckpointFiles& files);
std::string get_path(const std::string& input_dir, const std::string& filename);
void check_outdir_not_in_ckptdir(const std::string& ckpt_dir, const std::string& out_dir);
// Copies every file of `input_dir` (recursively, keeping sub-folders) except hidden ones,
// weights, index files and files over 100 MiB; never overwrites.
void copy_files(const std::string& input_dir, const std::string& output_dir);

// A sharded checkpoint folder (written by several ranks, checkpointing/sharded_checkpoint.h)
// holds this index, a JSON object whose "files" lists its shard files.
extern const char* const kShardedCheckpointIndex;
bool is_sharded_checkpoint(const std::string& folder);
// The weight files of a checkpoint folder, sorted (a sharded checkpoint's shard files): those
// its index json names, else every .safetensors/.bin/.pt/.pth file but recipe_state.pt.
// Missing indexed files are an error.
std::vector<std::string> checkpoint_weight_files(const std::string& folder);

// Bytes of the tensors in a value tree (a recipe state's optimizer moments), as torch.save
// writes them (whole storages); for estimating what a save writes.
uint64_t tensor_bytes(const PickleValue& value);

namespace checkpoint_internal {

// Bytes of the files copy_files() would copy from `input_dir`, for the free-space check.
uint64_t copied_files_bytes(const std::string& input_dir);

// Copies `from` to `to` (created or truncated, with `from`'s permissions), reporting the
// real cause of a failure: std::filesystem::copy_file reports a full disk as "Input/output
// error". `point` names the copy for fault injection. The caller syncs.
void copy_file_reporting(const std::filesystem::path& from, const std::filesystem::path& to,
                         const char* point);

}  // namespace checkpoint_internal

}  // namespace tt::checkpointing
