// The checkpoint folders of an output_dir: finding the complete ones (list_checkpoints),
// newest last. Saving one is the Checkpointer's staged save (checkpointer.h: begin_save,
// finish_save, abandon_save, clear_interrupted_saves), implemented in checkpoint_folder.cpp
// with the folder placing, free-space check, pruning and recovery behind it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tt::checkpointing {

// A complete checkpoint folder under an output_dir.
struct CheckpointFolder {
  std::string path;
  std::string name;          // epoch_N or step_N
  bool resumable = false;    // holds its own recipe_state.pt
  int64_t global_step = -1;  // from that recipe state, when recorded
  int64_t epochs_run = -1;
  int64_t saved_at_ns = -1;  // when we saved it (absent in folders torchtune wrote)
};
// The complete epoch_N / step_N folders of `output_dir` (hidden staging folders never
// count), oldest first: non-resumable ones by name, then resumable ones by save time (a
// rerun into the same output_dir, or a run resumed from an earlier checkpoint, makes newer
// checkpoints at lower steps), folders without a save time before the others by position.
// Folders skipped as incomplete or unreadable are reported on stderr.
std::vector<CheckpointFolder> list_checkpoints(const std::string& output_dir);

}  // namespace tt::checkpointing
