// Adam, AdamW and SGD as torch.optim computes them.
#include "torchtune_cpp/training/optimizer.h"

#include <ATen/core/grad_mode.h>

#include <cmath>

#include <cstdlib>
#include <cstring>

#if defined(TT_WITH_CUDA)
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#endif

#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/utils/check.h"

namespace tt {

namespace {

// A zeroed fp32 host tensor for optimizer state, page-locked when `pin` so transfers to and
// from the device run asynchronously at full bandwidth. Pinned through cudaHostRegister on an
// exact-size allocation: the caching pinned allocator rounds each block up to a power of two,
// which for a 7B model's two moments would lock ~68 GB of host memory instead of 54.
at::Tensor host_state_tensor(at::IntArrayRef sizes, bool pin) {
#if defined(TT_WITH_CUDA)
  if (pin) {
    constexpr size_t kPage = 4096;
    const size_t bytes = static_cast<size_t>(c10::multiply_integers(sizes)) * sizeof(float);
    const size_t rounded = std::max<size_t>((bytes + kPage - 1) / kPage * kPage, kPage);
    void* ptr = std::aligned_alloc(kPage, rounded);
    TT_CHECK(ptr != nullptr, "optimizer", "cannot allocate ", rounded,
             " bytes of host memory for the optimizer state; the host needs about 8 bytes per parameter");
    std::memset(ptr, 0, rounded);
    if (cudaHostRegister(ptr, rounded, cudaHostRegisterDefault) == cudaSuccess)
      return at::from_blob(ptr, sizes, [](void* p) { cudaHostUnregister(p); std::free(p); },
                           at::TensorOptions().dtype(at::kFloat));
    (void)cudaGetLastError();  // not lockable (limits): pageable memory still works, slower
    return at::from_blob(ptr, sizes, [](void* p) { std::free(p); }, at::TensorOptions().dtype(at::kFloat));
  }
#endif
  (void)pin;
  return at::zeros(sizes, at::kFloat);
}

bool all_cuda(const StateDict& params) {
  for (const auto& [name, p] : params)
    if (!p.is_cuda()) return false;
  return !params.empty();
}

const char* kind_name(OptimizerKind k) {
  switch (k) {
    case OptimizerKind::kAdam:
      return "torch.optim.Adam";
    case OptimizerKind::kAdamW:
      return "torch.optim.AdamW";
    case OptimizerKind::kSGD:
      return "torch.optim.SGD";
  }
  return "optimizer";
}

}  // namespace

Optimizer::Optimizer(StateDict params, OptimizerOptions options)
    : params_(std::move(params)), options_(options) {
  const char* name = kind_name(options_.kind);
  TT_CHECK(!(options_.fused.value_or(false) && options_.foreach.value_or(false)),
           std::string(name), "`foreach` and `fused` flags cannot both be True.");
  TT_CHECK(!(options_.fused.value_or(false) && options_.kind == OptimizerKind::kSGD),
           "torch.optim.SGD", "fused SGD is not supported here; use foreach: True or leave it unset");
  TT_CHECK(!options_.nesterov || (options_.momentum > 0 && options_.dampening == 0), "torch.optim.SGD",
           "Nesterov momentum requires a momentum and zero dampening");
  for (const auto& [key, p] : params_)
    TT_CHECK(p.is_floating_point(), key, "optimizers take floating-point parameters only");
  if (options_.kind == OptimizerKind::kSGD) {
    path_ = Path::kSingleTensor;  // SGD's multi-tensor request runs the same per-tensor maths
  } else if (options_.fused.value_or(false)) {
    path_ = Path::kFused;
  } else if (options_.foreach.has_value()) {
    path_ = *options_.foreach ? Path::kForeach : Path::kSingleTensor;
  } else {
    path_ = all_cuda(params_) ? Path::kForeach : Path::kSingleTensor;  // torch.optim's default
  }
}

void Optimizer::zero_grad() {
  for (auto& [name, p] : params_) p.mutable_grad().reset();
}

void Optimizer::step() {
  at::NoGradGuard no_grad;
  std::vector<size_t> with_grad;
  for (size_t i = 0; i < params_.size(); ++i)
    if (params_[i].second.grad().defined()) with_grad.push_back(i);
  if (with_grad.empty()) return;
  if (options_.kind == OptimizerKind::kSGD)
    step_sgd(with_grad);
  else
    step_adam(with_grad);
}

void Optimizer::step_params(const std::vector<size_t>& indices) {
  at::NoGradGuard no_grad;
  std::vector<size_t> with_grad;
  for (size_t i : indices)
    if (params_.at(i).second.grad().defined()) with_grad.push_back(i);
  if (with_grad.empty()) return;
  if (options_.kind == OptimizerKind::kSGD)
    step_sgd(with_grad);
  else
    step_adam(with_grad);
}

void Optimizer::step_adam_host_state(size_t i) {
  const OptimizerOptions& o = options_;
  const at::Tensor& p = params_[i].second;
  ParamState& s = state_[i];
  const bool pin = p.is_cuda();
  if (!s.exp_avg.defined()) {
    s.exp_avg = host_state_tensor(p.sizes(), pin);
    s.exp_avg_sq = host_state_tensor(p.sizes(), pin);
    s.step = at::zeros({}, p.options().dtype(at::kFloat));
  }
  // fp32 working copies on the parameter's device; the moments stream in and back out.
  at::Tensor p32 = p.scalar_type() == at::kFloat ? p : p.to(at::kFloat);
  at::Tensor g32 = p.grad().to(at::kFloat);
  at::Tensor m = s.exp_avg.to(p.device(), /*non_blocking=*/true);
  at::Tensor v = s.exp_avg_sq.to(p.device(), /*non_blocking=*/true);
  at::Tensor step = s.step.to(p.device());
  at::_foreach_add_(at::TensorList(&step, 1), 1);
  at::_fused_adamw_({p32}, {g32}, {m}, {v}, {}, {step}, o.lr, o.beta1, o.beta2, o.weight_decay, o.eps,
                    false, false);
  if (!p32.is_same(p)) p.copy_(p32);
  s.step = step;
  // Device-to-pinned copies stay ordered on the stream before the next step's reads.
  if (!m.is_same(s.exp_avg)) {
    s.exp_avg.copy_(m, /*non_blocking=*/pin);
    s.exp_avg_sq.copy_(v, /*non_blocking=*/pin);
  }
}

void Optimizer::step_adam(const std::vector<size_t>& idx) {
  const OptimizerOptions& o = options_;
  if (o.state_on_host) {
    for (size_t i : idx) step_adam_host_state(i);
    return;
  }
  const bool decoupled = o.kind == OptimizerKind::kAdamW;
  std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs, steps;
  for (size_t i : idx) {
    const at::Tensor& p = params_[i].second;
    ParamState& s = state_[i];
    if (!s.step.defined()) {
      // torch.optim: an fp32 scalar, on the parameter's device only for the fused kernels.
      s.step = path_ == Path::kFused ? at::zeros({}, p.options().dtype(at::kFloat))
                                     : at::zeros({}, at::TensorOptions().dtype(at::kFloat));
      s.exp_avg = at::zeros_like(p, at::MemoryFormat::Preserve);
      s.exp_avg_sq = at::zeros_like(p, at::MemoryFormat::Preserve);
    }
    params.push_back(p);
    grads.push_back(p.grad());
    exp_avgs.push_back(s.exp_avg);
    exp_avg_sqs.push_back(s.exp_avg_sq);
    steps.push_back(s.step);
  }
  if (path_ == Path::kFused) {
    // One kernel per (device, dtype) group, as torch.optim groups them.
    std::map<std::pair<std::string, at::ScalarType>, std::vector<size_t>> groups;
    for (size_t k = 0; k < params.size(); ++k)
      groups[{params[k].device().str(), params[k].scalar_type()}].push_back(k);
    for (const auto& [key, ks] : groups) {
      std::vector<at::Tensor> gp, gg, gm, gv, gs;
      for (size_t k : ks) {
        gp.push_back(params[k]);
        gg.push_back(grads[k]);
        gm.push_back(exp_avgs[k]);
        gv.push_back(exp_avg_sqs[k]);
        gs.push_back(steps[k]);
      }
      at::_foreach_add_(gs, 1);
      if (decoupled)
        at::_fused_adamw_(gp, gg, gm, gv, {}, gs, o.lr, o.beta1, o.beta2, o.weight_decay, o.eps,
                          false, false);
      else
        at::_fused_adam_(gp, gg, gm, gv, {}, gs, o.lr, o.beta1, o.beta2, o.weight_decay, o.eps,
                         false, false);
    }
    return;
  }
  if (path_ == Path::kForeach) {
    at::_foreach_add_(steps, 1);
    std::vector<at::Tensor> g = grads;
    if (o.weight_decay != 0) {
      if (decoupled)
        at::_foreach_mul_(params, 1 - o.lr * o.weight_decay);
      else
        g = at::_foreach_add(grads, params, o.weight_decay);
    }
    at::_foreach_lerp_(exp_avgs, g, 1 - o.beta1);
    at::_foreach_mul_(exp_avg_sqs, o.beta2);
    at::_foreach_addcmul_(exp_avg_sqs, g, g, 1 - o.beta2);
    std::vector<at::Scalar> step_size, bc2_sqrt;
    for (const at::Tensor& s : steps) {
      double t = s.item<double>();
      step_size.emplace_back((o.lr / (1 - std::pow(o.beta1, t))) * -1);
      bc2_sqrt.emplace_back(std::pow(1 - std::pow(o.beta2, t), 0.5));
    }
    std::vector<at::Tensor> denom = at::_foreach_sqrt(exp_avg_sqs);
    at::_foreach_div_(denom, bc2_sqrt);
    at::_foreach_add_(denom, o.eps);
    at::_foreach_addcdiv_(params, exp_avgs, denom, step_size);
    return;
  }
  for (size_t k = 0; k < params.size(); ++k) {
    at::Tensor& p = params[k];
    at::Tensor grad = grads[k];
    steps[k] += 1;
    if (o.weight_decay != 0) {
      if (decoupled)
        p.mul_(1 - o.lr * o.weight_decay);
      else
        grad = grad.add(p, o.weight_decay);
    }
    exp_avgs[k].lerp_(grad, 1 - o.beta1);
    exp_avg_sqs[k].mul_(o.beta2).addcmul_(grad, grad, 1 - o.beta2);
    double t = steps[k].item<double>();
    double step_size = o.lr / (1 - std::pow(o.beta1, t));
    double bc2_sqrt = std::pow(1 - std::pow(o.beta2, t), 0.5);
    at::Tensor denom = (exp_avg_sqs[k].sqrt() / bc2_sqrt).add_(o.eps);
    p.addcdiv_(exp_avgs[k], denom, -step_size);
  }
}

void Optimizer::step_sgd(const std::vector<size_t>& idx) {
  const OptimizerOptions& o = options_;
  for (size_t i : idx) {
    at::Tensor& p = params_[i].second;
    at::Tensor grad = p.grad();
    if (o.weight_decay != 0) grad = grad.add(p, o.weight_decay);
    if (o.momentum != 0) {
      ParamState& s = state_[i];
      if (!s.momentum_buffer.defined()) {
        s.momentum_buffer = grad.detach().clone();
      } else {
        s.momentum_buffer.mul_(o.momentum).add_(grad, 1 - o.dampening);
      }
      grad = o.nesterov ? grad.add(s.momentum_buffer, o.momentum) : s.momentum_buffer;
    }
    p.add_(grad, -o.lr);
  }
}

PickleValue Optimizer::state_dict() const {
  using PV = PickleValue;
  const OptimizerOptions& o = options_;
  PV state = PV::dict();
#if defined(TT_WITH_CUDA)
  // Host-resident moments may still be arriving from the device.
  if (options_.state_on_host && !params_.empty() && params_[0].second.is_cuda()) c10::cuda::device_synchronize();
#endif
  for (const auto& [i, st] : state_) {
    PV entry = PV::dict();
    if (st.step.defined()) entry.set("step", st.step);
    if (st.exp_avg.defined()) entry.set("exp_avg", st.exp_avg);
    if (st.exp_avg_sq.defined()) entry.set("exp_avg_sq", st.exp_avg_sq);
    if (st.momentum_buffer.defined()) entry.set("momentum_buffer", st.momentum_buffer);
    state.set(static_cast<int64_t>(i), std::move(entry));
  }
  auto flag = [](const std::optional<bool>& b) { return b ? PV(*b) : PV::none(); };
  // torch 2.11's param_group keys, in its order.
  PV group = PV::dict();
  group.set("lr", o.lr);
  if (o.kind == OptimizerKind::kSGD) {
    group.set("momentum", o.momentum);
    group.set("dampening", o.dampening);
    group.set("weight_decay", o.weight_decay);
    group.set("nesterov", o.nesterov);
    group.set("maximize", false);
    group.set("foreach", flag(o.foreach));
    group.set("differentiable", false);
    group.set("fused", flag(o.fused));
  } else {
    group.set("betas", PV::tuple({o.beta1, o.beta2}));
    group.set("eps", o.eps);
    group.set("weight_decay", o.weight_decay);
    group.set("amsgrad", false);
    group.set("maximize", false);
    group.set("foreach", flag(o.foreach));
    group.set("capturable", false);
    group.set("differentiable", false);
    group.set("fused", flag(o.fused));
    group.set("decoupled_weight_decay", o.kind == OptimizerKind::kAdamW);
  }
  if (o.initial_lr) group.set("initial_lr", *o.initial_lr);
  PV ids = PV::list();
  for (size_t i = 0; i < params_.size(); ++i) ids.append(static_cast<int64_t>(i));
  group.set("params", std::move(ids));
  return PV::dict({{"state", std::move(state)}, {"param_groups", PV::list({std::move(group)})}});
}

void Optimizer::load_state_dict(const PickleValue& sd, const std::string& where) {
  using PV = PickleValue;
  const std::string name = kind_name(options_.kind);
  TT_CHECK(sd.is_dict() && sd.find("state") && sd.find("param_groups"), where,
           "the optimizer state is not a torch.optim state dict (no 'state' / 'param_groups'); "
           "was it written by another optimizer?");
  const PV& groups = sd.at("param_groups");
  TT_CHECK(groups.is_list() && groups.size() == 1, where,
           "the optimizer state has ", groups.is_list() ? groups.size() : 0,
           " parameter groups; torchtune's recipes use one");
  const PV& group = groups.items()[0];
  const PV& ids = group.at("params");
  TT_CHECK(ids.is_list() && ids.size() == params_.size(), where, "the optimizer state covers ",
           ids.is_list() ? ids.size() : 0, " parameters but the model has ", params_.size(),
           "; resume with the model the checkpoint was trained with");
  const bool sgd = options_.kind == OptimizerKind::kSGD;
  TT_CHECK(sgd == (group.find("momentum") != nullptr), where, "the optimizer state was written by ",
           sgd ? "an Adam-family optimizer" : "SGD", ", but the config's optimizer is ", name,
           "; resume with the optimizer the run was started with");
  OptimizerOptions o = options_;
  o.lr = group.at("lr").to_double();
  o.weight_decay = group.at("weight_decay").to_double();
  if (sgd) {
    o.momentum = group.at("momentum").to_double();
    o.dampening = group.at("dampening").to_double();
    o.nesterov = group.at("nesterov").to_bool();
  } else {
    const PV& betas = group.at("betas");
    TT_CHECK((betas.is_tuple() || betas.is_list()) && betas.size() == 2, where, "betas must hold two numbers");
    o.beta1 = betas.items()[0].to_double();
    o.beta2 = betas.items()[1].to_double();
    o.eps = group.at("eps").to_double();
  }
  if (const PV* init = group.find("initial_lr")) o.initial_lr = init->to_double();
  // Position k of the saved params list is parameter k here (torch.optim pairs them so).
  std::map<int64_t, size_t> position;
  for (size_t k = 0; k < ids.size(); ++k) position[ids.items()[k].to_int()] = k;
  std::map<size_t, ParamState> state;
  for (const auto& [key, entry] : sd.at("state").dict_items()) {
    auto pos = position.find(key.to_int());
    TT_CHECK(pos != position.end(), where, "optimizer state for parameter id ", key.to_int(),
             " which is not in param_groups[0]['params']");
    const at::Tensor& p = params_[pos->second].second;
    const std::string& pname = params_[pos->second].first;
    auto like_param = [&](const char* field) {
      const at::Tensor& t = entry.at(field).to_tensor();
      TT_CHECK(t.sizes() == p.sizes(), where, "optimizer state '", field, "' of ", pname, " has shape ",
               t.sizes(), " but the parameter has ", p.sizes());
      return t.to(p.device(), p.scalar_type(), /*non_blocking=*/false, /*copy=*/true);
    };
    ParamState ps;
    if (sgd) {
      if (entry.find("momentum_buffer") && !entry.at("momentum_buffer").is_none())
        ps.momentum_buffer = like_param("momentum_buffer");
    } else {
      // bitsandbytes names its moments state1 / state2 and may keep the step as an int.
      const PV& step = entry.at("step");
      at::Tensor step_t = step.is_tensor() ? step.to_tensor() : at::scalar_tensor(step.to_double());
      const bool on_device = path_ == Path::kFused || o.state_on_host;
      ps.step = step_t.to(on_device ? p.device() : at::Device(at::kCPU), at::kFloat, false, /*copy=*/true);
      const char* m = entry.find("exp_avg") ? "exp_avg" : "state1";
      const char* v = entry.find("exp_avg_sq") ? "exp_avg_sq" : "state2";
      if (o.state_on_host) {
        auto host = [&](const char* field) {
          const at::Tensor& t = entry.at(field).to_tensor();
          TT_CHECK(t.sizes() == p.sizes(), where, "optimizer state '", field, "' of ", pname, " has shape ",
                   t.sizes(), " but the parameter has ", p.sizes());
          return host_state_tensor(p.sizes(), p.is_cuda()).copy_(t);
        };
        ps.exp_avg = host(m);
        ps.exp_avg_sq = host(v);
      } else {
        ps.exp_avg = like_param(m);
        ps.exp_avg_sq = like_param(v);
      }
    }
    state[pos->second] = std::move(ps);
  }
  options_ = o;
  state_ = std::move(state);
}

void register_optimizers() {
  using namespace config;
  auto common_tail = [](std::vector<ArgSpec> args) {
    for (const char* flag : {"maximize", "capturable", "differentiable"})
      args.push_back(arg(flag, ArgType::kBool, "False", "only False is supported"));
    args.push_back(arg("foreach", ArgType::kBool, "null", "torch.optim's multi-tensor path"));
    args.push_back(arg("fused", ArgType::kBool, "null", "one fused kernel per device"));
    return args;
  };
  auto refuse_unsupported = [](const Kwargs& kw) {
    for (const char* flag : {"maximize", "capturable", "differentiable", "amsgrad"})
      if (kw.spec().find_arg(flag) != nullptr)
        TT_CHECK(!kw.get_bool(flag), kw.where(flag), flag,
                 "=True is not supported by torchtune_cpp's optimizers; remove it");
  };
  auto adam_args = [&](const char* wd) {
    return common_tail({arg("lr", ArgType::kFloat, "0.001", ""),
                        arg("betas", ArgType::kNumberList, "[0.9, 0.999]", ""),
                        arg("eps", ArgType::kFloat, "1e-08", ""),
                        arg("weight_decay", ArgType::kFloat, wd, ""),
                        arg("amsgrad", ArgType::kBool, "False", "only False is supported")});
  };
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
    register_component<OptimizerPtr, StateDict>(
        ComponentSpec{kind_name(kind), "optimizer", "torch.optim's Adam family", {"params"},
                      adam_args(kind == OptimizerKind::kAdamW ? "0.01" : "0")},
        [kind, refuse_unsupported](const Kwargs& kw, StateDict params) {
          refuse_unsupported(kw);
          std::vector<double> betas = kw.get_number_list("betas");
          TT_CHECK(betas.size() == 2, kw.where("betas"), "betas needs two values, e.g. [0.9, 0.999]");
          OptimizerOptions o;
          o.kind = kind;
          o.lr = kw.get_double("lr");
          o.beta1 = betas[0];
          o.beta2 = betas[1];
          o.eps = kw.get_double("eps");
          o.weight_decay = kw.get_double("weight_decay");
          if (kw.has("foreach")) o.foreach = kw.get_bool("foreach");
          if (kw.has("fused")) o.fused = kw.get_bool("fused");
          return std::make_shared<Optimizer>(std::move(params), o);
        });
  }
  register_component<OptimizerPtr, StateDict>(
      ComponentSpec{"bitsandbytes.optim.PagedAdamW", "optimizer",
                    "AdamW with fp32 moments in pinned host memory, streamed per parameter "
                    "(bitsandbytes' 32-bit paged AdamW maths)",
                    {"params"},
                    {arg("lr", ArgType::kFloat, "0.001", ""), arg("betas", ArgType::kNumberList, "[0.9, 0.999]", ""),
                     arg("eps", ArgType::kFloat, "1e-08", ""), arg("weight_decay", ArgType::kFloat, "0.01", ""),
                     arg("amsgrad", ArgType::kBool, "False", "only False is supported"),
                     arg("optim_bits", ArgType::kInt, "32", "only 32 (PagedAdamW8bit is the 8-bit one)"),
                     arg("min_8bit_size", ArgType::kInt, "4096", "8-bit only; no effect"),
                     arg("percentile_clipping", ArgType::kInt, "100", "only 100 (off) is supported"),
                     arg("block_wise", ArgType::kBool, "True", "8-bit only; no effect")}},
      [](const Kwargs& kw, StateDict params) {
        TT_CHECK(!kw.get_bool("amsgrad"), kw.where("amsgrad"), "amsgrad=True is not supported; remove it");
        TT_CHECK(kw.get_int("optim_bits") == 32, kw.where("optim_bits"),
                 "only 32-bit state is supported by bitsandbytes.optim.PagedAdamW here; remove optim_bits");
        TT_CHECK(kw.get_int("percentile_clipping") == 100, kw.where("percentile_clipping"),
                 "percentile clipping is not supported; use clip_grad_norm instead");
        std::vector<double> betas = kw.get_number_list("betas");
        TT_CHECK(betas.size() == 2, kw.where("betas"), "betas needs two values, e.g. [0.9, 0.999]");
        OptimizerOptions o;
        o.kind = OptimizerKind::kAdamW;
        o.name = "bitsandbytes.optim.PagedAdamW";
        o.lr = kw.get_double("lr");
        o.beta1 = betas[0];
        o.beta2 = betas[1];
        o.eps = kw.get_double("eps");
        o.weight_decay = kw.get_double("weight_decay");
        o.state_on_host = true;
        return std::make_shared<Optimizer>(std::move(params), o);
      });
  register_component<OptimizerPtr, StateDict>(
      ComponentSpec{"torch.optim.SGD", "optimizer", "torch.optim's SGD", {"params"},
                    common_tail({arg("lr", ArgType::kFloat, "0.001", ""),
                                 arg("momentum", ArgType::kFloat, "0", ""),
                                 arg("dampening", ArgType::kFloat, "0", ""),
                                 arg("weight_decay", ArgType::kFloat, "0", ""),
                                 arg("nesterov", ArgType::kBool, "False", "")})},
      [refuse_unsupported](const Kwargs& kw, StateDict params) {
        refuse_unsupported(kw);
        OptimizerOptions o;
        o.kind = OptimizerKind::kSGD;
        o.lr = kw.get_double("lr");
        o.momentum = kw.get_double("momentum");
        o.dampening = kw.get_double("dampening");
        o.weight_decay = kw.get_double("weight_decay");
        o.nesterov = kw.get_bool("nesterov");
        if (kw.has("foreach")) o.foreach = kw.get_bool("foreach");
        if (kw.has("fused")) o.fused = kw.get_bool("fused");
        return std::make_shared<Optimizer>(std::move(params), o);
      });
}

}  // namespace tt
