// torchtune v0.6.1's full-model checkpointers, on state dicts (never on model classes):
//   FullModelHFCheckpointer         Hugging Face folders: config.json + sharded .safetensors
//                                   or pytorch_model-*.bin; saved with the input's shard
//                                   partition as model-0000i-of-0000n.* + index json.
//   FullModelMetaCheckpointer       one Meta consolidated.00.pth (no permutation).
//   FullModelTorchTuneCheckpointer  one torchtune-keyed .pt/.bin.
// Same arguments, validation and error messages as torchtune, and the same output layout:
//   <output_dir>/epoch_{N}/...       (weights + non-weight files copied from checkpoint_dir)
//   <output_dir>/recipe_state/recipe_state.pt   (intermediate checkpoints only)
// Beyond torchtune v0.6.1:
//   - mid-epoch checkpoints <output_dir>/step_{N}/ (the recipe's save_every_n_steps);
//   - an intermediate checkpoint also carries its own recipe_state.pt, so every such folder
//     is resumable by itself; recipe_state/recipe_state.pt mirrors the latest one;
//   - a folder is assembled under a hidden temporary name and renamed into place when
//     complete: a crash or a full disk mid-save leaves the previous checkpoints intact, and
//     a half-written folder is never visible, never taken as the latest; the free space is
//     checked before a save, and a full disk is reported with what the save needed;
//   - resuming with checkpoint_files absent from output_dir takes the latest complete
//     checkpoint there; keep_last_n_checkpoints prunes older intermediate ones;
//   - post_save_command runs after each save with the folder's path (uploads, registries);
//   - checkpoint_dir may be a hub id (meta-llama/Llama-2-7b-hf) found in the local Hugging
//     Face cache.
// Also declared through this header: the path helpers (checkpoint_paths.h), list_checkpoints
// (checkpoint_folder.h), resolve_checkpoint_dir (hub_cache.h) and PostSaveCommand (post_save.h).
// The save itself (save_* and the staged steps) is implemented in checkpoint_folder.cpp.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "torchtune_cpp/checkpointing/checkpoint_folder.h"
#include "torchtune_cpp/checkpointing/checkpoint_paths.h"
#include "torchtune_cpp/checkpointing/hub_cache.h"
#include "torchtune_cpp/checkpointing/post_save.h"
#include "torchtune_cpp/checkpointing/sharded_checkpoint.h"
#include "torchtune_cpp/core/pickle_value.h"
#include "torchtune_cpp/core/state_dict.h"
#include "torchtune_cpp/models/llama2/convert_weights.h"

namespace tt::checkpointing {

// What load_checkpoint() returns: torchtune's {"model": ..., <recipe_state.pt keys>}.
struct CheckpointDict {
  StateDict model;                          // torchtune keys
  std::optional<PickleValue> recipe_state;  // the recipe_state.pt dict, when resuming
  // Resuming a sharded checkpoint (sharded_checkpoint.h): `model` is empty; the weights and
  // the optimizer state go straight into the sharded model through read_shards().
  bool sharded = false;
};

struct CheckpointerOptions {
  std::string checkpoint_dir;
  CheckpointFiles checkpoint_files;
  std::string model_type;
  std::string output_dir;
  std::optional<std::string> adapter_checkpoint;
  std::optional<std::string> recipe_checkpoint;
  bool resume_from_checkpoint = false;  // deprecated: forces should_load_recipe_state
  bool should_load_recipe_state = false;
  bool safe_serialization = true;  // FullModelHFCheckpointer only
  std::optional<int64_t> keep_last_n_checkpoints;
  std::optional<std::string> post_save_command;
};

class Checkpointer {
 public:
  virtual ~Checkpointer();

  // torchtune's load_checkpoint(). Resuming from a sharded checkpoint, the recipe state only,
  // and the output layout the folder recorded becomes this checkpointer's.
  CheckpointDict load_checkpoint();
  // torchtune's save: epoch_{epoch}/ and, when `intermediate`, the recipe state (a dict,
  // required then). Tensors may be on any device.
  void save_checkpoint(const StateDict& model_tune_keys, int epoch, bool intermediate,
                       const PickleValue* recipe_state);
  // Writes <output_dir>/<folder>/ ("epoch_2", "step_500"): the weights, the side files and,
  // when `recipe_state` is given (an intermediate checkpoint), its recipe_state.pt, mirrored
  // to recipe_state/recipe_state.pt. Then prunes and runs post_save_command.
  // The free space is checked first against what the save will write; too little, or a full
  // disk meanwhile, is a tt::Error saying how much was needed and how much is free, and
  // leaves nothing of the save behind (earlier checkpoints intact).
  void save_folder(const StateDict& model_tune_keys, const std::string& folder,
                   const PickleValue* recipe_state);
  // The same in three steps, for weights written by several processes (sharded checkpoints):
  // begin_save() checks the free space and makes the staging folder it returns, the writers
  // fill it, finish_save() completes the folder and moves it into place. After an error in
  // between, abandon_save() (or the next begin_save(), or the destructor) removes the
  // staging folder.
  std::string begin_save(const std::string& folder, const PickleValue* recipe_state,
                         uint64_t weight_bytes);
  void finish_save();
  void abandon_save();
  // Clears what saves killed mid-way left in output_dir (hidden staging folders, a replaced
  // folder whose replacement never arrived, temporary files): the recipe calls this once it
  // holds the output_dir lock. (A resume does it when constructed, to see the checkpoints.)
  void clear_interrupted_saves();
  // Sharded checkpoints, one call per rank. read_shards() fills this rank's shards of the
  // model from the folder being resumed (load_checkpoint() said `sharded`), whatever rank
  // count wrote it, and returns this rank's optimizer state with `group` as its parameter
  // group. write_rank_shard() writes this rank's shard into a staging folder of begin_save().
  NamedOptimizerState read_shards(const ModelShards& model, const PickleValue& group) const;
  void write_rank_shard(const ModelShards& model, const NamedOptimizerState& optimizer,
                        const std::string& staging_dir) const;
  // Waits for a running post_save_command (the recipe calls this before exiting).
  void wait_post_save();

  const std::string& output_dir() const { return output_dir_; }
  const std::string& checkpoint_dir() const { return checkpoint_dir_; }
  // The resolved, sorted weight files.
  const std::vector<std::string>& checkpoint_paths() const { return paths_; }
  bool should_load_recipe_state() const { return should_load_recipe_state_; }
  const std::optional<std::string>& recipe_checkpoint_path() const { return recipe_path_; }
  // On resume, the folder the weights come from (the latest complete checkpoint when
  // checkpoint_files were not found under output_dir).
  const std::optional<std::string>& resume_folder() const { return resume_folder_; }

 protected:
  // Steps 1-4 and 6 of torchtune's constructor order (the HF config is read in between by
  // the subclass). `single_file` enforces the Meta/torchtune one-file rule.
  Checkpointer(const CheckpointerOptions& options, bool single_file);
  void resolve_paths();
  // The weights of a full checkpoint, in the subclass's format, and the recipe state.
  virtual CheckpointDict load_full_checkpoint() = 0;

  std::optional<PickleValue> load_recipe_state() const;
  // What a full save takes from the loaded input beyond the weights (the HF checkpointer's
  // file partition: key -> file index). A sharded checkpoint records it in its index, and
  // resuming one restores it, so the final full save keeps the input's partition.
  using OutputLayout = ShardedOutputLayout;
  virtual OutputLayout output_layout() const { return {}; }
  virtual void set_output_layout(const OutputLayout& layout) {}
  // Writes the weight files (and any index) into `dir`, in the subclass's format, calling
  // note_saved() for each weight file (reported once the folder is in place).
  virtual void write_weights(const StateDict& model_tune_keys, const std::string& dir) = 0;
  void note_saved(const std::string& name, int64_t bytes);

  CheckpointerOptions options_;
  std::string checkpoint_dir_;
  std::string output_dir_;
  bool should_load_recipe_state_ = false;
  std::vector<std::string> paths_;
  std::optional<std::string> recipe_path_;
  std::optional<std::string> resume_folder_;

 private:
  struct PendingSave {
    std::string folder;
    std::string staging;
    std::optional<PickleValue> recipe_state;  // without the model keys
    uint64_t needed = 0;                      // bytes the save writes, about
  };
  // True when resuming from a sharded checkpoint (sharded_checkpoint.h).
  bool resuming_shards() const;
  // The save in progress is abandoned and a tt::Error thrown: no space, how much needed.
  [[noreturn]] void fail_no_space(const std::string& detail);
  void prune();
  PostSaveCommand post_save_;
  std::optional<PendingSave> pending_;
  std::vector<std::pair<std::string, int64_t>> saved_files_;  // weight file names and sizes
};

using CheckpointerPtr = std::shared_ptr<Checkpointer>;

// The config.json fields the Llama2 conversion needs (plus rope_theta for completeness:
// transformers 5 writes it under rope_parameters, older versions at the top level).
struct HfModelConfig {
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t hidden_size = 0;
  std::optional<int64_t> head_dim;
  double rope_theta = 10000.0;

  llama2::HfShape shape() const {
    return {num_attention_heads, num_key_value_heads, hidden_size, head_dim};
  }
};
HfModelConfig read_hf_model_config(const std::string& config_json_path);

class FullModelHFCheckpointer : public Checkpointer {
 public:
  explicit FullModelHFCheckpointer(const CheckpointerOptions& options);

  const HfModelConfig& config() const { return config_; }
  // HF key -> 1-based input file index as "0001", in load order (filled by load_checkpoint,
  // from the input's files or, resuming a sharded checkpoint, from its index).
  const std::vector<std::pair<std::string, std::string>>& weight_map() const { return weight_map_; }

 protected:
  OutputLayout output_layout() const override { return weight_map_; }
  void set_output_layout(const OutputLayout& layout) override;
  CheckpointDict load_full_checkpoint() override;
  void write_weights(const StateDict& model_tune_keys, const std::string& dir) override;

 private:
  HfModelConfig config_;
  std::vector<std::pair<std::string, std::string>> weight_map_;
  std::map<std::string, std::string> weight_index_;
};

class FullModelMetaCheckpointer : public Checkpointer {
 public:
  explicit FullModelMetaCheckpointer(const CheckpointerOptions& options);

 protected:
  CheckpointDict load_full_checkpoint() override;
  void write_weights(const StateDict& model_tune_keys, const std::string& dir) override;
};

class FullModelTorchTuneCheckpointer : public Checkpointer {
 public:
  explicit FullModelTorchTuneCheckpointer(const CheckpointerOptions& options);

 protected:
  CheckpointDict load_full_checkpoint() override;
  void write_weights(const StateDict& model_tune_keys, const std::string& dir) override;
};

// Registers the three checkpointers under torchtune.training.* and torchtune.utils.*.
void register_checkpointers();

}  // namespace tt::checkpointing
