// Optimizer-state layouts and their conversions; see optimizer_state.h.
#include "torchtune_cpp/checkpointing/optimizer_state.h"

#include <map>

#include "torchtune_cpp/utils/check.h"

namespace tt::checkpointing {

namespace {

using PV = PickleValue;

bool is_torch_optim_dict(const PV& v) {
  return v.is_dict() && v.size() == 2 && v.find("state") != nullptr &&
         v.find("param_groups") != nullptr;
}

// The single group's hyper-parameters without "params", and its params list.
std::pair<PV, const PV*> split_group(const PV& sd, const std::string& where) {
  const PV& groups = sd.at("param_groups");
  TT_CHECK(groups.is_list() && groups.size() == 1, where, "optimizer state with ",
           groups.is_list() ? groups.size() : 0,
           " parameter groups; torchtune's recipes write exactly one");
  const PV& group = groups.items()[0];
  TT_CHECK(group.is_dict() && group.find("params"), where, "param_groups[0] has no 'params' list");
  PV hyper = PV::dict();
  for (const auto& [k, v] : group.dict_items())
    if (!(k.is_string() && k.to_string() == "params")) hyper.set(k, v);
  return {std::move(hyper), &group.at("params")};
}

size_t index_of(const std::vector<std::string>& names, const std::string& name,
                const std::string& where) {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return i;
  TT_CHECK(false, where, "the optimizer state names a parameter '", name,
           "' that the model does not have; resume with the model the checkpoint was trained with");
  return 0;
}

}  // namespace

const char* layout_name(OptimizerLayout layout) {
  switch (layout) {
    case OptimizerLayout::kIndexed:
      return "torch.optim (indexed)";
    case OptimizerLayout::kNamed:
      return "distributed (named)";
    case OptimizerLayout::kPerParameter:
      return "optimizer_in_bwd (per parameter)";
  }
  return "unknown";
}

OptimizerLayout detect_optimizer_layout(const PV& opt, const std::string& where) {
  TT_CHECK(opt.is_dict(), where, "the optimizer state must be a dict, found a ", opt.type_name());
  if (is_torch_optim_dict(opt)) {
    const PV& groups = opt.at("param_groups");
    if (groups.is_list() && groups.size() > 0 && groups.items()[0].find("params")) {
      const PV& ids = groups.items()[0].at("params");
      if (ids.is_list() && ids.size() > 0 && ids.items()[0].is_string())
        return OptimizerLayout::kNamed;
    }
    return OptimizerLayout::kIndexed;
  }
  bool all_per_param = opt.size() > 0;
  for (const auto& [k, v] : opt.dict_items())
    all_per_param = all_per_param && k.is_string() && is_torch_optim_dict(v);
  TT_CHECK(all_per_param, where,
           "the optimizer state is neither a torch.optim state dict ({'state', 'param_groups'}) "
           "nor a per-parameter dict of them (optimizer_in_bwd); was recipe_state.pt written by "
           "a full fine-tuning recipe?");
  return OptimizerLayout::kPerParameter;
}

NamedOptimizerState to_named_optimizer_state(const PV& opt, const std::vector<std::string>& names,
                                             const std::string& where) {
  NamedOptimizerState out;
  std::map<size_t, PV> by_position;
  const OptimizerLayout layout = detect_optimizer_layout(opt, where);
  if (layout == OptimizerLayout::kPerParameter) {
    TT_CHECK(opt.size() == names.size(), where, "the optimizer state has ", opt.size(),
             " per-parameter entries but the model has ", names.size(), " parameters");
    bool first = true;
    for (const auto& [k, v] : opt.dict_items()) {
      auto [hyper, ids] = split_group(v, where);
      if (first) out.group = std::move(hyper);
      first = false;
      const size_t pos = index_of(names, k.to_string(), where);
      const PV& st = v.at("state");
      TT_CHECK(st.is_dict() && st.size() <= 1, where, "per-parameter optimizer state of ",
               k.to_string(), " must hold at most one entry");
      if (st.size() == 1) by_position[pos] = st.dict_items()[0].second;
    }
  } else {
    auto [hyper, ids] = split_group(opt, where);
    out.group = std::move(hyper);
    TT_CHECK(ids->is_list() && ids->size() == names.size(), where, "the optimizer state covers ",
             ids->is_list() ? ids->size() : 0, " parameters but the model has ", names.size(),
             "; resume with the model the checkpoint was trained with");
    // Saved id -> model position: the k-th id of the group is the k-th parameter (indexed), or
    // the id is the parameter's name (named).
    std::map<std::string, size_t> named_pos;
    std::map<int64_t, size_t> indexed_pos;
    for (size_t k = 0; k < ids->size(); ++k) {
      const PV& id = ids->items()[k];
      if (layout == OptimizerLayout::kNamed)
        named_pos[id.to_string()] = index_of(names, id.to_string(), where);
      else
        indexed_pos[id.to_int()] = k;
    }
    for (const auto& [k, v] : opt.at("state").dict_items()) {
      size_t pos = 0;
      if (layout == OptimizerLayout::kNamed) {
        auto it = named_pos.find(k.to_string());
        TT_CHECK(it != named_pos.end(), where, "optimizer state for '", k.to_string(),
                 "', which is not in param_groups[0]['params']");
        pos = it->second;
      } else {
        auto it = indexed_pos.find(k.to_int());
        TT_CHECK(it != indexed_pos.end(), where, "optimizer state for parameter id ", k.to_int(),
                 ", which is not in param_groups[0]['params']");
        pos = it->second;
      }
      by_position[pos] = v;
    }
  }
  for (auto& [pos, v] : by_position) out.state.emplace_back(names[pos], std::move(v));
  return out;
}

PV from_named_optimizer_state(const NamedOptimizerState& s, OptimizerLayout layout,
                              const std::vector<std::string>& names) {
  std::map<std::string, const PV*> state;
  for (const auto& [name, v] : s.state) state[name] = &v;
  auto group_with = [&](PV ids) {
    PV g = s.group;
    g.set("params", std::move(ids));
    return g;
  };
  if (layout == OptimizerLayout::kPerParameter) {
    PV out = PV::dict();
    for (const std::string& name : names) {
      PV st = PV::dict();
      auto it = state.find(name);
      if (it != state.end()) st.set(int64_t{0}, *it->second);
      out.set(name, PV::dict({{"state", std::move(st)},
                              {"param_groups", PV::list({group_with(PV::list({int64_t{0}}))})}}));
    }
    return out;
  }
  PV st = PV::dict();
  PV ids = PV::list();
  for (size_t i = 0; i < names.size(); ++i) {
    PV id = layout == OptimizerLayout::kNamed ? PV(names[i]) : PV(static_cast<int64_t>(i));
    auto it = state.find(names[i]);
    if (it != state.end()) st.set(id, *it->second);
    ids.append(std::move(id));
  }
  return PV::dict(
      {{"state", std::move(st)}, {"param_groups", PV::list({group_with(std::move(ids))})}});
}

PV convert_optimizer_state(const PV& opt, OptimizerLayout layout,
                           const std::vector<std::string>& names, const std::string& where) {
  return from_named_optimizer_state(to_named_optimizer_state(opt, names, where), layout, names);
}

}  // namespace tt::checkpointing
