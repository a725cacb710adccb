// Where a checkpoint's files are: torchtune's path helpers (training/checkpointing/_utils.py:
// checkpoint_files, get_path, the output_dir check, copying the non-weight files), the weight
// files of a checkpoint folder (Hugging Face index, sharded checkpoint index, or by
// extension), and the size of what a save writes.
#pragma once

#include <cstdint>
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

}  // namespace tt::checkpointing
