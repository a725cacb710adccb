// Optimizer state in the three layouts torchtune writes under recipe_state.pt's "optimizer",
// and conversions between them, so a run can resume on a different layout:
//   kIndexed       single device, torch.optim's own state_dict():
//                  {"state": {0: {...}, 1: ...}, "param_groups": [{..., "params": [0, 1, ...]}]}
//   kNamed         distributed (torch.distributed.checkpoint's full optimizer state dict):
//                  the same, keyed by parameter name ("layers.0.attn.q_proj.weight")
//   kPerParameter  optimizer_in_bwd (one optimizer per parameter):
//                  {name: {"state": {0: {...}}, "param_groups": [{..., "params": [0]}]}, ...}
// Every conversion passes through NamedOptimizerState. Parameter names come from the model's
// state-dict order, which is also torch.optim's parameter order.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "torchtune_cpp/core/pickle_value.h"

namespace tt::checkpointing {

enum class OptimizerLayout { kIndexed, kNamed, kPerParameter };

const char* layout_name(OptimizerLayout layout);

// One parameter group's hyper-parameters (without "params") and each parameter's state, by
// name, in parameter order; parameters never stepped have no entry (as in torch.optim).
struct NamedOptimizerState {
  PickleValue group = PickleValue::dict();
  std::vector<std::pair<std::string, PickleValue>> state;
};

// Tells the layout apart; a tt::Error naming `where` when it is none of the three.
OptimizerLayout detect_optimizer_layout(const PickleValue& optimizer, const std::string& where);

NamedOptimizerState to_named_optimizer_state(const PickleValue& optimizer,
                                             const std::vector<std::string>& param_names,
                                             const std::string& where);

PickleValue from_named_optimizer_state(const NamedOptimizerState& state, OptimizerLayout layout,
                                       const std::vector<std::string>& param_names);

// Convenience: any layout in, `layout` out.
PickleValue convert_optimizer_state(const PickleValue& optimizer, OptimizerLayout layout,
                                    const std::vector<std::string>& param_names,
                                    const std::string& where);

}  // namespace tt::checkpointing
