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
//
// The files are described by plain data (ModelShards), which the distributed recipe's seam
// builds from the sharded model (distributed/fully_shard.h): this folder owns the format,
// not the sharding. The checkpointer (checkpointer.h) is what reads and writes them.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "torchtune_cpp/checkpointing/optimizer_state.h"

namespace tt::checkpointing {

// One sharding unit: the flat vector of its parameters `keys` (each of `shapes`, at
// `offsets`), `numel` elements; rank r of W holds elements [r*S, (r+1)*S), S = ceil(numel / W).
struct ShardedUnit {
  std::string name;  // "root", "layers.3"
  std::vector<std::string> keys;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<int64_t> offsets;
  int64_t numel = 0;
  at::Tensor shard;  // [S] this rank's slice; read_sharded_checkpoint() fills it in place
};

// This rank's view of a sharded model.
struct ModelShards {
  int64_t rank = 0, world_size = 1;
  std::vector<ShardedUnit> units;
};

// The checkpointer's output layout (checkpointer.h), kept in the index for the final save.
using ShardedOutputLayout = std::vector<std::pair<std::string, std::string>>;

// This rank's shard file into `dir` (shared by all ranks; rank 0 also writes the index).
// `optimizer` is the optimizer's own state, named by unit.
void write_sharded_checkpoint(const ModelShards& model, const NamedOptimizerState& optimizer,
                              const ShardedOutputLayout& layout, const std::string& dir);

// Fills the model's shards from a sharded checkpoint written by any number of ranks and
// returns this rank's optimizer state (named by unit), with `group` as its parameter group. A
// folder that does not match the model is a tt::Error naming the file.
NamedOptimizerState read_sharded_checkpoint(const ModelShards& model, const std::string& dir,
                                            const PickleValue& group);

// The output layout recorded in a sharded checkpoint's index (empty when none).
ShardedOutputLayout read_sharded_output_layout(const std::string& dir);

}  // namespace tt::checkpointing
