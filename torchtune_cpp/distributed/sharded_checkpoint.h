// Sharded checkpoints (beyond torchtune's files): every rank writes its own shard of the model
// and of the optimizer state into one checkpoint folder, all in parallel, so saving costs
// 1/W of the model per rank and no gathering; any number of ranks reads it back, each taking
// the slices it now owns (the unpadded flat layout of fully_shard.h does not depend on W).
// A folder holds, beside recipe_state.pt and the side files of a full checkpoint:
//   sharded_checkpoint.json   {"format": "torchtune_cpp.sharded.v1", "world_size": W,
//                              "files": [...], "units": [{"name", "numel", "keys",
//                              "shapes", "offsets"}, ...]}
//   shard-0000r-of-0000W.safetensors
//                             rank r's tensors: "<unit>/param" [S] and "<unit>/<field>"
//                             for the optimizer state ([S] slices, or as saved: step)
// The recipe state's "optimizer" then carries only the parameter group.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "torchtune_cpp/checkpointing/optimizer_state.h"
#include "torchtune_cpp/distributed/fully_shard.h"

namespace tt::distributed {

// The checkpointer's output layout (checkpointer.h), kept in the index for the final save.
using OutputLayout = std::vector<std::pair<std::string, std::string>>;

// This rank's shard files into `dir` (shared by all ranks; rank 0 also writes the index).
// `optimizer` is the optimizer's own state, named by unit.
void write_sharded_checkpoint(const FullyShardedDecoder& model, const NamedOptimizerState& optimizer,
                              const OutputLayout& layout, const std::string& dir);

struct ShardedCheckpoint {
  NamedOptimizerState optimizer;  // this rank's, named by unit
  OutputLayout layout;
};

// Fills the model's shards from a sharded checkpoint written by any number of ranks and
// returns this rank's optimizer state, with `group` as its parameter group. A folder that
// does not match the model is a tt::Error naming the file.
ShardedCheckpoint read_sharded_checkpoint(FullyShardedDecoder& model, const std::string& dir,
                                          const PickleValue& group);

}  // namespace tt::distributed
