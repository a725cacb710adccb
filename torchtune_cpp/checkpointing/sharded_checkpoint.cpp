// Per-rank shard files of a sharded checkpoint, and re-slicing them for another rank count.
#include "torchtune_cpp/checkpointing/sharded_checkpoint.h"

#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "torchtune_cpp/checkpointing/checkpoint_internal.h"
#include "torchtune_cpp/checkpointing/checkpoint_paths.h"
#include "torchtune_cpp/checkpointing/safetensors.h"
#include "torchtune_cpp/checkpointing/safetensors_writer.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::checkpointing {

namespace fs = std::filesystem;

namespace {

constexpr const char* kFormat = "torchtune_cpp.sharded.v1";

std::string shard_name(int64_t rank, int64_t world) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "shard-%05lld-of-%05lld.safetensors", static_cast<long long>(rank),
                static_cast<long long>(world));
  return buf;
}

}  // namespace

void write_sharded_checkpoint(const ModelShards& model, const NamedOptimizerState& optimizer,
                              const ShardedOutputLayout& layout, const std::string& dir) {
  const int64_t rank = model.rank, world = model.world_size;
  std::map<std::string, const PickleValue*> state;
  for (const auto& [name, st] : optimizer.state) state[name] = &st;
  StateDict tensors;
  for (const auto& u : model.units) {
    tensors.emplace_back(u.name + "/param", u.shard.detach());
    auto it = state.find(u.name);
    if (it == state.end()) continue;
    for (const auto& [field, value] : it->second->dict_items()) {
      TT_CHECK(value.is_tensor(), "optimizer", "state '", field.to_string(), "' of ", u.name,
               " is not a tensor; sharded checkpoints hold tensor state only");
      at::Tensor t = value.to_tensor();
      tensors.emplace_back(u.name + "/" + field.to_string(), t.dim() == 0 ? t.reshape({1}) : t);
    }
  }
  save_safetensors(
      (fs::path(dir) / shard_name(rank, world)).string(), tensors,
      {{"format", kFormat}, {"rank", std::to_string(rank)}, {"world_size", std::to_string(world)}});
  if (rank != 0) return;
  nlohmann::json index = {{"format", kFormat}, {"world_size", world}, {"output_layout", layout}};
  for (int64_t r = 0; r < world; ++r) index["files"].push_back(shard_name(r, world));
  for (const auto& u : model.units) {
    nlohmann::json unit = {
        {"name", u.name}, {"numel", u.numel}, {"keys", u.keys}, {"offsets", u.offsets}};
    for (const auto& shape : u.shapes) unit["shapes"].push_back(shape);
    index["units"].push_back(unit);
  }
  std::ofstream out(fs::path(dir) / kShardedCheckpointIndex);
  out << index.dump(1) << "\n";
  TT_CHECK(out.good(), (fs::path(dir) / kShardedCheckpointIndex).string(),
           "cannot be written; check the disk");
}

NamedOptimizerState read_sharded_checkpoint(const ModelShards& model, const std::string& dir,
                                            const PickleValue& group) {
  const fs::path index_path = fs::path(dir) / kShardedCheckpointIndex;
  const std::string where = index_path.string();
  const nlohmann::json index = checkpoint_internal::read_index_json(index_path);
  TT_CHECK(index.value("format", "") == kFormat, where, "is not a ", kFormat, " index");
  const int64_t old_world = index.at("world_size").get<int64_t>();
  const auto& units = model.units;
  TT_CHECK(index.at("units").size() == units.size(), where, "holds ", index.at("units").size(),
           " sharding units, the model has ", units.size(),
           "; check model._component_ against the checkpoint");
  for (size_t k = 0; k < units.size(); ++k) {
    const auto& j = index["units"][k];
    bool same = j.at("name") == units[k].name && j.at("numel").get<int64_t>() == units[k].numel &&
                j.at("keys").get<std::vector<std::string>>() == units[k].keys;
    same = same && j.at("shapes").size() == units[k].shapes.size();
    for (size_t p = 0; same && p < units[k].shapes.size(); ++p)
      same = j.at("shapes")[p].get<std::vector<int64_t>>() == units[k].shapes[p];
    TT_CHECK(same, where, "unit ", j.at("name").get<std::string>(), " does not match the model's ",
             units[k].name,
             " (names or shapes differ); check model._component_ against the checkpoint");
  }
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  for (int64_t r = 0; r < old_world; ++r)
    files.push_back(
        std::make_unique<SafetensorsFile>((fs::path(dir) / shard_name(r, old_world)).string()));

  const int64_t rank = model.rank;
  NamedOptimizerState optimizer;
  optimizer.group = group;
  at::NoGradGuard no_grad;
  for (const auto& u : units) {
    const int64_t old_s = (u.numel + old_world - 1) / old_world;
    const int64_t shard_numel = u.shard.numel();
    const int64_t lo = rank * shard_numel, hi = std::min(lo + shard_numel, u.numel);
    // This rank's slice [lo, hi) of the unit's flat vector, from the old ranks that held it.
    auto reslice = [&](const std::string& name, at::ScalarType dtype, at::Device device) {
      at::Tensor out = at::zeros({shard_numel}, at::TensorOptions().dtype(dtype).device(device));
      for (int64_t q = 0; q < old_world && lo < hi; ++q) {
        const int64_t a = std::max(lo, q * old_s), b = std::min(hi, (q + 1) * old_s);
        if (a >= b) continue;
        at::Tensor t = files[q]->tensor(name);
        TT_CHECK(t.dim() == 1 && t.numel() == old_s, files[q]->path(), "tensor '", name,
                 "' has shape ", t.sizes(), ", expected [", old_s,
                 "]; the file does not belong to this checkpoint");
        out.narrow(0, a - lo, b - a).copy_(t.narrow(0, a - q * old_s, b - a));
      }
      return out;
    };
    u.shard.copy_(reslice(u.name + "/param", u.shard.scalar_type(), u.shard.device()));
    PickleValue entry = PickleValue::dict();
    const std::string prefix = u.name + "/";
    for (const std::string& key : files[0]->keys()) {
      if (key.rfind(prefix, 0) != 0 || key == prefix + "param") continue;
      const std::string field = key.substr(prefix.size());
      at::Tensor first = files[0]->tensor(key);
      if (first.dim() == 1 && first.numel() == old_s && old_s > 1)
        entry.set(field, reslice(key, first.scalar_type(), u.shard.device()));
      else
        entry.set(field, first.reshape({}).clone());  // per-unit scalars: step
    }
    if (entry.size() > 0) optimizer.state.emplace_back(u.name, std::move(entry));
  }
  return optimizer;
}

ShardedOutputLayout read_sharded_output_layout(const std::string& dir) {
  const nlohmann::json index =
      checkpoint_internal::read_index_json(fs::path(dir) / kShardedCheckpointIndex);
  if (!index.contains("output_layout")) return {};
  return index["output_layout"].get<ShardedOutputLayout>();
}

}  // namespace tt::checkpointing
