// Flat per-unit sharding: gathers, frees and reduce-scatters around the layer wrapper hooks.
#include "torchtune_cpp/distributed/fully_shard.h"

#include <ATen/core/grad_mode.h>
#include <c10/core/StorageImpl.h>
#include <c10/util/strides.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <map>

#include "torchtune_cpp/modules/transformer.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::distributed {

namespace {

// A gathered unit's parameters are views of one storage; resharding frees that storage's
// memory and gathering gives it new memory, so the parameter tensors (leaves with their
// autograd state and hooks, saved for backward by the layers) never change identity.
void free_storage(const at::Tensor& t) {
  c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
  s->set_data_ptr_noswap(c10::DataPtr(nullptr, t.device()));
  s->set_nbytes(0);
}

void allocate_storage(const at::Tensor& t) {
  c10::StorageImpl* s = t.storage().unsafeGetStorageImpl();
  const size_t nbytes = static_cast<size_t>(t.numel()) * t.element_size();
  s->set_data_ptr_noswap(s->allocator()->allocate(nbytes));
  s->set_nbytes(nbytes);
}

struct GradReady : torch::autograd::PostAccumulateGradHook {
  GradReady(FullyShardedDecoder* owner, size_t unit) : owner(owner), unit(unit) {}
  void operator()(const torch::autograd::Variable& /*param*/) override { owner->on_gradient(unit); }
  FullyShardedDecoder* owner;
  size_t unit;
};

}  // namespace

FullyShardedDecoder::FullyShardedDecoder(modules::TransformerDecoder& model, ProcessGroupPtr pg,
                                         at::Device device, at::ScalarType dtype,
                                         const FullyShardOptions& options)
    : model_(model), pg_(std::move(pg)), device_(device), dtype_(dtype), options_(options) {
  TT_CHECK(!options.cpu_offload || device.is_cuda(), "fsdp_cpu_offload",
           "CPU offloading moves shards off a GPU; set it to False when training on the CPU");
  const int64_t L = model.args.num_layers;
  units_.resize(static_cast<size_t>(L) + 1);
  units_[0].name = "root";
  for (int64_t i = 0; i < L; ++i) layer_unit(i).name = "layers." + std::to_string(i);
  std::vector<std::vector<at::Tensor*>> slots(units_.size());
  for (auto& [key, slot] : modules::parameter_slots(model)) {
    TT_CHECK(
        slot->device().type() == at::kMeta, key,
        "sharding starts from a model on the meta device; this parameter is already materialised");
    size_t k = 0;
    if (key.rfind("layers.", 0) == 0) k = std::stoul(key.substr(7, key.find('.', 7) - 7)) + 1;
    Unit& u = units_[k];
    u.keys.push_back(key);
    u.offsets.push_back(u.numel);
    u.numel += slot->numel();
    slots[k].push_back(slot);
  }
  const int64_t W = pg_->world_size();
  const auto on_device = at::TensorOptions().dtype(dtype).device(device);
  const auto shard_options =
      options.cpu_offload ? at::TensorOptions().dtype(dtype).pinned_memory(true) : on_device;
  at::NoGradGuard no_grad;
  for (size_t k = 0; k < units_.size(); ++k) {
    Unit& u = units_[k];
    u.padded = (u.numel + W - 1) / W * W;
    u.shard_numel = u.padded / W;
    u.shard = at::zeros({u.shard_numel}, shard_options).requires_grad_(true);
    // One rank on its device: the shard is the whole unit, so the parameters alias it and
    // stay gathered (no second copy, no collectives for the parameters).
    const bool alias = W == 1 && !options.cpu_offload;
    u.full = alias ? u.shard.detach() : at::empty({u.padded}, on_device);
    for (size_t j = 0; j < u.keys.size(); ++j) {
      // An alias of the unit's storage with a version counter of its own: gathering writes
      // the storage, and must not look like an in-place change to the tensors autograd saved.
      at::Tensor p = at::empty({0}, on_device);
      p.set_(u.full.storage(), u.offsets[j], slots[k][j]->sizes(),
             c10::contiguous_strides(slots[k][j]->sizes()));
      p.requires_grad_(true);
      torch::autograd::impl::set_post_acc_grad_hooks(p, std::make_unique<GradReady>(this, k));
      *slots[k][j] = p;
      u.params.push_back(p);
    }
    if (alias)
      u.gathered = true;
    else
      free_storage(u.full);
  }
  modules::init_buffers(model, device);
}

FullyShardedDecoder::~FullyShardedDecoder() {
  for (Unit& u : units_)
    for (at::Tensor& p : u.params) torch::autograd::impl::set_post_acc_grad_hooks(p, nullptr);
}

FullyShardedDecoderPtr fully_shard(modules::TransformerDecoder& model, ProcessGroupPtr pg,
                                   at::Device device, at::ScalarType dtype,
                                   const FullyShardOptions& options) {
  auto sharded =
      std::make_shared<FullyShardedDecoder>(model, std::move(pg), device, dtype, options);
  model.wrapper.hooks.push_back(sharded);
  return sharded;
}

// ---- filling and reading shards

at::Tensor FullyShardedDecoder::slice_of(const Unit& u, const std::vector<at::Tensor>& per_param,
                                         at::ScalarType dtype, at::Device device) const {
  at::Tensor out = at::zeros({u.shard_numel}, at::TensorOptions().dtype(dtype).device(device));
  const int64_t lo = pg_->rank() * u.shard_numel, hi = lo + u.shard_numel;
  for (size_t j = 0; j < u.keys.size(); ++j) {
    const int64_t a = u.offsets[j], b = a + u.params[j].numel();
    const int64_t s = std::max(a, lo), e = std::min(b, hi);
    if (s < e) out.narrow(0, s - lo, e - s).copy_(per_param[j].reshape(-1).narrow(0, s - a, e - s));
  }
  return out;
}

void FullyShardedDecoder::load_full_state_dict(StateDict&& full, const std::string& where) {
  // The parameters alias the units' storage with their full shapes: the model's own check.
  modules::check_state_dict(model_, full, /*strict=*/true, where);
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < full.size(); ++i) index[full[i].first] = i;
  at::NoGradGuard no_grad;
  for (Unit& u : units_) {
    std::vector<at::Tensor> per_param;
    for (const std::string& key : u.keys)
      per_param.push_back(std::move(full[index.at(key)].second));
    u.shard.copy_(slice_of(u, per_param, dtype_, u.shard.device()));
  }
}

void FullyShardedDecoder::init_parameters(const modules::InitFn& init) {
  at::NoGradGuard no_grad;
  for (Unit& u : units_) {
    std::vector<at::Tensor> per_param;
    for (size_t j = 0; j < u.keys.size(); ++j) {
      at::Tensor t =
          at::empty(u.params[j].sizes(), at::TensorOptions().dtype(dtype_).device(device_));
      init(u.keys[j], t);
      per_param.push_back(t);
    }
    u.shard.copy_(slice_of(u, per_param, dtype_, device_));
  }
}

StateDict FullyShardedDecoder::sharded_parameters() const {
  StateDict out;
  for (const Unit& u : units_) out.emplace_back(u.name, u.shard);
  return out;
}

std::vector<std::string> FullyShardedDecoder::unit_names() const {
  std::vector<std::string> out;
  for (const Unit& u : units_) out.push_back(u.name);
  return out;
}

at::Tensor FullyShardedDecoder::gather_to_rank0(const at::Tensor& shard_like, const Unit& u) {
  TT_CHECK(shard_like.dim() == 1 && shard_like.numel() == u.shard_numel, u.name,
           "expected a shard of ", u.shard_numel, " elements, got shape ", shard_like.sizes());
  at::Tensor src = shard_like.to(device_).contiguous();
  at::Tensor full = at::empty({u.padded}, src.options());
  pg_->all_gather(full, src)->wait();
  return pg_->rank() == 0 ? full.to(at::kCPU) : at::Tensor();
}

StateDict FullyShardedDecoder::gather_full_state_dict() {
  at::NoGradGuard no_grad;
  std::map<std::string, at::Tensor> by_key;
  for (Unit& u : units_) {
    at::Tensor flat = gather_to_rank0(u.shard.detach(), u);
    if (!flat.defined()) continue;
    for (size_t j = 0; j < u.keys.size(); ++j)
      by_key[u.keys[j]] =
          flat.narrow(0, u.offsets[j], u.params[j].numel()).view(u.params[j].sizes()).clone();
  }
  StateDict out;
  if (pg_->rank() != 0) return out;
  for (auto& [key, slot] : modules::parameter_slots(model_))
    out.emplace_back(key, std::move(by_key.at(key)));
  return out;
}

checkpointing::NamedOptimizerState FullyShardedDecoder::gather_optimizer_state(
    const checkpointing::NamedOptimizerState& sharded) {
  at::NoGradGuard no_grad;
  std::map<std::string, const PickleValue*> by_unit;
  for (const auto& [name, st] : sharded.state) by_unit[name] = &st;
  checkpointing::NamedOptimizerState out;
  out.group = sharded.group;
  const bool rank0 = pg_->rank() == 0;
  for (Unit& u : units_) {
    auto it = by_unit.find(u.name);
    if (it == by_unit.end()) continue;  // never stepped (the same on every rank)
    std::vector<PickleValue> per_param(u.keys.size(), PickleValue::dict());
    for (const auto& [field, value] : it->second->dict_items()) {
      const bool sharded_field = value.is_tensor() && value.to_tensor().dim() == 1 &&
                                 value.to_tensor().numel() == u.shard_numel;
      if (sharded_field) {
        at::Tensor flat = gather_to_rank0(value.to_tensor(), u);
        if (rank0)
          for (size_t j = 0; j < u.keys.size(); ++j)
            per_param[j].set(field, flat.narrow(0, u.offsets[j], u.params[j].numel())
                                        .view(u.params[j].sizes())
                                        .clone());
      } else if (rank0) {
        for (size_t j = 0; j < u.keys.size(); ++j)
          per_param[j].set(
              field, value.is_tensor() ? PickleValue(value.to_tensor().cpu().clone()) : value);
      }
    }
    if (rank0)
      for (size_t j = 0; j < u.keys.size(); ++j)
        out.state.emplace_back(u.keys[j], std::move(per_param[j]));
  }
  return out;
}

checkpointing::NamedOptimizerState FullyShardedDecoder::shard_optimizer_state(
    const checkpointing::NamedOptimizerState& full, const std::string& where) const {
  std::map<std::string, const PickleValue*> by_key;
  for (const auto& [name, st] : full.state) by_key[name] = &st;
  checkpointing::NamedOptimizerState out;
  out.group = full.group;
  for (const Unit& u : units_) {
    size_t present = 0;
    for (const std::string& key : u.keys) present += by_key.count(key);
    if (present == 0) continue;
    TT_CHECK(present == u.keys.size(), where, "the optimizer state covers only some parameters of ",
             u.name, "; the file is incomplete");
    PickleValue entry = PickleValue::dict();
    const PickleValue& first = *by_key.at(u.keys[0]);
    for (const auto& [field, value] : first.dict_items()) {
      const bool per_param_field =
          value.is_tensor() && value.to_tensor().sizes() == u.params[0].sizes();
      if (!per_param_field) {
        entry.set(field, value);
        continue;
      }
      std::vector<at::Tensor> parts;
      for (size_t j = 0; j < u.keys.size(); ++j) {
        const PickleValue* v = by_key.at(u.keys[j])->find(field);
        TT_CHECK(v != nullptr && v->is_tensor() && v->to_tensor().sizes() == u.params[j].sizes(),
                 where, "optimizer state '", field.to_string(), "' of ", u.keys[j],
                 " is missing or has the wrong shape");
        parts.push_back(v->to_tensor());
      }
      entry.set(field, slice_of(u, parts, parts[0].scalar_type(), u.shard.device()));
    }
    out.state.emplace_back(u.name, std::move(entry));
  }
  return out;
}

// ---- the step

void FullyShardedDecoder::gather(Unit& u) {
  if (u.gathered || u.gather_work) return;
  allocate_storage(u.full);
  at::Tensor src = u.shard.detach();
  if (options_.cpu_offload) {
    src = src.to(device_, /*non_blocking=*/true);
    u.gather_source = src;
  }
  u.gather_work = pg_->all_gather(u.full, src);
}

void FullyShardedDecoder::wait_gathered(Unit& u) {
  if (u.gathered) return;
  gather(u);
  u.gather_work->wait();
  u.gather_work.reset();
  u.gather_source = at::Tensor();
  u.gathered = true;
}

void FullyShardedDecoder::reshard(Unit& u) {
  if (u.gather_work) wait_gathered(u);
  if (!u.gathered || aliased()) return;
  free_storage(u.full);
  u.gathered = false;
}

void FullyShardedDecoder::before_model_forward() {
  if (at::GradMode::is_enabled())
    for (Unit& u : units_) u.grads_pending = static_cast<int64_t>(u.params.size());
  wait_gathered(units_[0]);
  if (units_.size() > 1) gather(units_[1]);
}

void FullyShardedDecoder::before_forward(int64_t layer) {
  wait_gathered(layer_unit(layer));
  if (layer + 1 < model_.args.num_layers) gather(layer_unit(layer + 1));
}

void FullyShardedDecoder::after_forward(int64_t layer) {
  // Without a backward to follow every layer is freed; with one, the last layer is kept
  // since its backward starts right away.
  const bool backward_follows = at::GradMode::is_enabled();
  if (!backward_follows || (options_.reshard_after_forward && layer + 1 < model_.args.num_layers))
    reshard(layer_unit(layer));
}

void FullyShardedDecoder::before_backward(int64_t layer) {
  wait_gathered(layer_unit(layer));
  if (layer > 0) gather(layer_unit(layer - 1));
}

void FullyShardedDecoder::on_gradient(size_t unit) {
  Unit& u = units_[unit];
  if (--u.grads_pending == 0) reduce(u);
}

namespace {

// The reduce-scatter's result into the shard's gradient (on the shard's device).
void accumulate(FullyShardedDecoder::Unit& u) {
  u.reduce_work->wait();
  at::Tensor g =
      u.reduce_out.device() == u.shard.device() ? u.reduce_out : u.reduce_out.to(u.shard.device());
  if (u.shard.grad().defined())
    u.shard.mutable_grad().add_(g);
  else
    u.shard.mutable_grad() = g;
  u.reduce_work.reset();
  u.reduce_in = at::Tensor();
  u.reduce_out = at::Tensor();
}

}  // namespace

void FullyShardedDecoder::reduce(Unit& u) {
  at::NoGradGuard no_grad;
  at::Tensor flat = at::empty({u.padded}, at::TensorOptions().dtype(dtype_).device(device_));
  for (size_t j = 0; j < u.params.size(); ++j) {
    at::Tensor& p = u.params[j];
    flat.narrow(0, u.offsets[j], p.numel()).copy_(p.grad().reshape(-1));
    p.mutable_grad().reset();
  }
  if (u.padded > u.numel) flat.narrow(0, u.numel, u.padded - u.numel).zero_();
  reshard(u);
  u.reduce_in = flat;
  u.reduce_out = at::empty({u.shard_numel}, flat.options());
  u.reduce_work = pg_->reduce_scatter(u.reduce_out, u.reduce_in);
  // The previous unit's reduce-scatter has had a layer's backward to finish: take its result
  // now, so at most two full-size gradient buffers exist at a time.
  for (Unit& other : units_)
    if (&other != &u && other.reduce_work) accumulate(other);
}

void FullyShardedDecoder::finish_backward() {
  at::NoGradGuard no_grad;
  for (Unit& u : units_) {
    TT_CHECK(
        u.grads_pending == 0, u.name, u.grads_pending,
        " of its parameters received no gradient in this backward; every parameter must take part "
        "in the loss");
    if (u.reduce_work) accumulate(u);
  }
}

double FullyShardedDecoder::grad_norm() {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> squares;  // one per unit, summed on the shards' device: one sync
  for (Unit& u : units_)
    if (u.shard.grad().defined()) squares.push_back(u.shard.grad().to(at::kFloat).pow(2).sum());
  const double local = squares.empty() ? 0.0 : at::stack(squares).sum().item<double>();
  return std::sqrt(pg_->sum(local));
}

double FullyShardedDecoder::clip_grad_norm(double max_norm) {
  const double total = grad_norm();
  const double coef = std::min(1.0, max_norm / (total + 1e-6));
  at::NoGradGuard no_grad;
  for (Unit& u : units_)
    if (u.shard.grad().defined()) u.shard.mutable_grad().mul_(coef);
  return total;
}

}  // namespace tt::distributed
