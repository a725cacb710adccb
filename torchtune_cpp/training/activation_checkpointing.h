// Which decoder layers recompute their activations in backward (activation checkpointing),
// from the keys torchtune 0.6.1's distributed recipe reads, in both recipes here:
//   enable_activation_checkpointing: True                    every layer
//   enable_activation_checkpointing: False (the default) and
//     ac_mode: full                                          every layer
//     ac_mode: selective, ac_option: k                       layers i with (i + 1) % k == 0
//                                                            (0-based; k = 0: every layer)
//     ac_mode: none, or no ac_mode                           no layer
// torchtune's quirks, decided one by one (docs/compatibility.md): where it fails (ac_option
// 'op', a missing or negative ac_option) or silently checkpoints nothing (ac_mode with
// enable_activation_checkpointing: True, an unknown ac_mode), this refuses at start-up and
// in `tune validate`, naming the key and what to write instead.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "torchtune_cpp/config/node.h"
#include "torchtune_cpp/config/registry.h"

namespace tt::training {

// The keys' choice: layer i is checkpointed when (i + 1) % interval == 0, so interval 1 is
// every layer and 0 none; or what is wrong with the keys.
struct CheckpointingChoice {
  int64_t interval = 0;
  std::optional<config::Problem> problem;
};

// Reads the keys from a resolved config tree (its top level).
CheckpointingChoice activation_checkpointing(const config::Node& root);

// Per layer of `num_layers`: whether it is checkpointed under `interval`.
std::vector<bool> checkpointed_layers(int64_t interval, int64_t num_layers);

// For the log: "every layer", "no layer", "layers 2, 4, 6 (3 of 6)" (1-based, as people
// count layers).
std::string describe_checkpointed_layers(const std::vector<bool>& layers);

}  // namespace tt::training
