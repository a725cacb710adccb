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
#include "torchtune_cpp/training/blockwise_quant.h"
#include "torchtune_cpp/utils/check.h"

namespace tt::training {

namespace {

// A zeroed fp32 host tensor for optimizer state, page-locked when `pin` so transfers to and
// from the device run asynchronously at full bandwidth. Pinned through cudaHostRegister on an
// exact-size allocation: the caching pinned allocator rounds each block up to a power of two,
// which for a 7B model's two moments would lock ~68 GB of host memory instead of 54.
at::Tensor host_state_tensor(at::IntArrayRef sizes, bool pin, at::ScalarType dtype = at::kFloat) {
#if defined(TT_WITH_CUDA)
  if (pin) {
    constexpr size_t kPage = 4096;
    const size_t bytes =
        static_cast<size_t>(c10::multiply_integers(sizes)) * c10::elementSize(dtype);
    const size_t rounded = std::max<size_t>((bytes + kPage - 1) / kPage * kPage, kPage);
    void* ptr = std::aligned_alloc(kPage, rounded);
    TT_CHECK(ptr != nullptr, "optimizer", "cannot allocate ", rounded,
             " bytes of host memory for the optimizer state; the host needs about 8 bytes per "
             "parameter");
    std::memset(ptr, 0, rounded);
    if (cudaHostRegister(ptr, rounded, cudaHostRegisterDefault) == cudaSuccess)
      return at::from_blob(
          ptr, sizes,
          [](void* p) {
            cudaHostUnregister(p);
            std::free(p);
          },
          at::TensorOptions().dtype(dtype));
    (void)cudaGetLastError();  // not lockable (limits): pageable memory still works, slower
    return at::from_blob(
        ptr, sizes, [](void* p) { std::free(p); }, at::TensorOptions().dtype(dtype));
  }
#endif
  (void)pin;
  return at::zeros(sizes, dtype);
}

bool all_cuda(const NamedParameters& params) {
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

Optimizer::Optimizer(NamedParameters params, OptimizerOptions options)
    : params_(std::move(params)), options_(options) {
  const char* name = kind_name(options_.kind);
  TT_CHECK(!(options_.fused.value_or(false) && options_.foreach.value_or(false)), std::string(name),
           "`foreach` and `fused` flags cannot both be True.");
  TT_CHECK(!(options_.fused.value_or(false) && options_.kind == OptimizerKind::kSGD),
           "torch.optim.SGD",
           "fused SGD is not supported here; use foreach: True or leave it unset");
  TT_CHECK(!options_.nesterov || (options_.momentum > 0 && options_.dampening == 0),
           "torch.optim.SGD", "Nesterov momentum requires a momentum and zero dampening");
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

const at::Tensor& Optimizer::quant_map(bool is_signed, const at::Device& device) {
  const std::string key = device.str() + (is_signed ? "+" : "");
  auto it = quant_maps_.find(key);
  if (it == quant_maps_.end())
    it = quant_maps_.emplace(key, dynamic_quant_map(is_signed, device)).first;
  return it->second;
}

void Optimizer::step_adam_host_state(size_t i) {
  const OptimizerOptions& o = options_;
  const at::Tensor& p = params_[i].second;
  ParamState& s = state_[i];
  const bool pin = p.is_cuda();
  const bool q = quantize_state(p);
  const int64_t blocks = (p.numel() + kQuantBlock - 1) / kQuantBlock;
  if (!s.exp_avg.defined()) {
    s.step = at::zeros({}, p.options().dtype(at::kFloat));
    if (q) {
      // Codes start at 0: with zero scales they dequantize to zero whatever the code.
      s.exp_avg = host_state_tensor({p.numel()}, pin, at::kByte);
      s.exp_avg_sq = host_state_tensor({p.numel()}, pin, at::kByte);
      s.exp_avg_absmax = host_state_tensor({blocks}, pin);
      s.exp_avg_sq_absmax = host_state_tensor({blocks}, pin);
    } else {
      s.exp_avg = host_state_tensor(p.sizes(), pin);
      s.exp_avg_sq = host_state_tensor(p.sizes(), pin);
    }
  }
  // fp32 working copies on the parameter's device; the moments stream in and back out.
  at::Tensor p32 = p.scalar_type() == at::kFloat ? p : p.to(at::kFloat);
  at::Tensor g32 = p.grad().to(at::kFloat);
  at::Tensor m, v;
  if (q) {
    const at::Tensor& sm = quant_map(true, p.device());
    const at::Tensor& um = quant_map(false, p.device());
    m = dequantize_blockwise(s.exp_avg.to(p.device(), true), s.exp_avg_absmax.to(p.device(), true),
                             sm, p.sizes());
    v = dequantize_blockwise(s.exp_avg_sq.to(p.device(), true),
                             s.exp_avg_sq_absmax.to(p.device(), true), um, p.sizes());
  } else {
    m = s.exp_avg.to(p.device(), /*non_blocking=*/true);
    v = s.exp_avg_sq.to(p.device(), /*non_blocking=*/true);
  }
  at::Tensor step = s.step.to(p.device());
  at::_foreach_add_(at::TensorList(&step, 1), 1);
  at::_fused_adamw_({p32}, {g32}, {m}, {v}, {}, {step}, o.lr, o.beta1, o.beta2, o.weight_decay,
                    o.eps, false, false);
  if (!p32.is_same(p)) p.copy_(p32);
  s.step = step;
  // Device-to-pinned copies stay ordered on the stream before the next step's reads.
  if (q) {
    BlockwiseQuantized qm = quantize_blockwise(m, quant_map(true, p.device()));
    BlockwiseQuantized qv = quantize_blockwise(v, quant_map(false, p.device()));
    s.exp_avg.copy_(qm.codes, pin);
    s.exp_avg_absmax.copy_(qm.absmax, pin);
    s.exp_avg_sq.copy_(qv.codes, pin);
    s.exp_avg_sq_absmax.copy_(qv.absmax, pin);
  } else if (!m.is_same(s.exp_avg)) {
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
  if (options_.state_on_host && !params_.empty() && params_[0].second.is_cuda())
    c10::cuda::device_synchronize();
#endif
  for (const auto& [i, st] : state_) {
    PV entry = PV::dict();
    if (st.step.defined()) entry.set("step", st.step);
    if (st.quantized()) {
      // bitsandbytes' names for 8-bit state: codes, block scales and the code book.
      const at::Device cpu(at::kCPU);
      entry.set("state1", st.exp_avg);
      entry.set("absmax1", st.exp_avg_absmax);
      entry.set("qmap1", dynamic_quant_map(true, cpu));
      entry.set("state2", st.exp_avg_sq);
      entry.set("absmax2", st.exp_avg_sq_absmax);
      entry.set("qmap2", dynamic_quant_map(false, cpu));
      state.set(static_cast<int64_t>(i), std::move(entry));
      continue;
    }
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
  TT_CHECK(groups.is_list() && groups.size() == 1, where, "the optimizer state has ",
           groups.is_list() ? groups.size() : 0, " parameter groups; torchtune's recipes use one");
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
    TT_CHECK((betas.is_tuple() || betas.is_list()) && betas.size() == 2, where,
             "betas must hold two numbers");
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
      TT_CHECK(t.sizes() == p.sizes(), where, "optimizer state '", field, "' of ", pname,
               " has shape ", t.sizes(), " but the parameter has ", p.sizes());
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
      ps.step = step_t.to(on_device ? p.device() : at::Device(at::kCPU), at::kFloat, false,
                          /*copy=*/true);
      // A moment as saved: fp32 (torch.optim, bitsandbytes 32-bit) or 8-bit codes + scales.
      auto moment = [&](const char* torch_name, const char* bnb_name, const char* absmax_name,
                        bool is_signed) -> std::pair<at::Tensor, at::Tensor> {
        const PV* t = entry.find(torch_name) ? entry.find(torch_name) : entry.find(bnb_name);
        TT_CHECK(t != nullptr, where, "optimizer state of ", pname, " has neither '", torch_name,
                 "' nor '", bnb_name, "'");
        const PV* a = entry.find(absmax_name);
        if (a == nullptr) {
          const at::Tensor& f = t->to_tensor();
          TT_CHECK(f.sizes() == p.sizes(), where, "optimizer state '", torch_name, "' of ", pname,
                   " has shape ", f.sizes(), " but the parameter has ", p.sizes());
          return {f, at::Tensor()};
        }
        const at::Tensor& codes = t->to_tensor();
        TT_CHECK(codes.scalar_type() == at::kByte && codes.numel() == p.numel(), where,
                 "8-bit optimizer state '", bnb_name, "' of ", pname,
                 " must hold one uint8 code per parameter element");
        // The block size follows from the number of scales; the code book is the one saved
        // with the state (bitsandbytes' differs from ours). Anything but our own layout is
        // read back to fp32 here and re-quantized below if this optimizer keeps 8-bit state.
        const at::Tensor& absmax = a->to_tensor();
        int64_t block = 0;
        for (int64_t b : {kQuantBlock, int64_t{4096}, int64_t{1024}, int64_t{512}, int64_t{256},
                          int64_t{128}, int64_t{64}})
          if (block == 0 && (p.numel() + b - 1) / b == absmax.numel()) block = b;
        TT_CHECK(block > 0, where, "8-bit optimizer state of ", pname, " has ", absmax.numel(),
                 " block scales, which fit no block size for ", p.numel(), " elements");
        const char* qmap_name = is_signed ? "qmap1" : "qmap2";
        const at::Tensor ours = dynamic_quant_map(is_signed, at::kCPU);
        const at::Tensor map =
            entry.find(qmap_name) ? entry.at(qmap_name).to_tensor().to(at::kFloat) : ours;
        if (block == kQuantBlock && map.sizes() == ours.sizes() && at::equal(map, ours))
          return {codes, absmax};
        return {dequantize_blockwise(codes, absmax.to(at::kFloat), map, p.sizes(), block),
                at::Tensor()};
      };
      auto [m_t, m_absmax] = moment("exp_avg", "state1", "absmax1", true);
      auto [v_t, v_absmax] = moment("exp_avg_sq", "state2", "absmax2", false);
      const at::Device cpu(at::kCPU);
      auto to_fp32 = [&](const at::Tensor& t, const at::Tensor& absmax, bool is_signed) {
        return absmax.defined()
                   ? dequantize_blockwise(t, absmax, dynamic_quant_map(is_signed, cpu), p.sizes())
                   : t;
      };
      if (quantize_state(p)) {
        auto put = [&](const at::Tensor& t, const at::Tensor& absmax, bool is_signed,
                       at::Tensor& codes_out, at::Tensor& absmax_out) {
          BlockwiseQuantized qz = absmax.defined()
                                      ? BlockwiseQuantized{t.reshape(-1), absmax}
                                      : quantize_blockwise(t, dynamic_quant_map(is_signed, cpu));
          codes_out = host_state_tensor({p.numel()}, p.is_cuda(), at::kByte).copy_(qz.codes);
          absmax_out = host_state_tensor({qz.absmax.numel()}, p.is_cuda()).copy_(qz.absmax);
        };
        put(m_t, m_absmax, true, ps.exp_avg, ps.exp_avg_absmax);
        put(v_t, v_absmax, false, ps.exp_avg_sq, ps.exp_avg_sq_absmax);
      } else if (o.state_on_host) {
        ps.exp_avg = host_state_tensor(p.sizes(), p.is_cuda()).copy_(to_fp32(m_t, m_absmax, true));
        ps.exp_avg_sq =
            host_state_tensor(p.sizes(), p.is_cuda()).copy_(to_fp32(v_t, v_absmax, false));
      } else {
        ps.exp_avg =
            to_fp32(m_t, m_absmax, true).to(p.device(), p.scalar_type(), false, /*copy=*/true);
        ps.exp_avg_sq =
            to_fp32(v_t, v_absmax, false).to(p.device(), p.scalar_type(), false, /*copy=*/true);
      }
    }
    state[pos->second] = std::move(ps);
  }
  options_ = o;
  state_ = std::move(state);
}

namespace {

// lr, betas, eps and weight_decay of an Adam-family component.
OptimizerOptions adam_options(const config::Kwargs& kw, OptimizerKind kind) {
  std::vector<double> betas = kw.get_number_list("betas");
  TT_CHECK(betas.size() == 2, kw.where("betas"), "betas needs two values, e.g. [0.9, 0.999]");
  OptimizerOptions o;
  o.kind = kind;
  o.lr = kw.get_double("lr");
  o.beta1 = betas[0];
  o.beta2 = betas[1];
  o.eps = kw.get_double("eps");
  o.weight_decay = kw.get_double("weight_decay");
  return o;
}

}  // namespace

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
  // torch.optim's (and bitsandbytes') value checks, with their messages.
  auto lr_arg = [] {
    return arg("lr", ArgType::kFloat, "0.001", "", at_least(0, "Invalid learning rate"));
  };
  auto betas_arg = [] {
    Constraint c = in_half_open(0, 1, "Invalid beta parameter");
    c.custom = [](const Node& v) -> std::optional<std::string> {
      if (v.items.size() == 2) return std::nullopt;
      return "betas needs two values, e.g. [0.9, 0.999]";
    };
    return arg("betas", ArgType::kNumberList, "[0.9, 0.999]", "", c);
  };
  auto eps_arg = [] {
    return arg("eps", ArgType::kFloat, "1e-08", "", at_least(0, "Invalid epsilon value"));
  };
  auto weight_decay_arg = [](const char* wd) {
    return arg("weight_decay", ArgType::kFloat, wd, "", at_least(0, "Invalid weight_decay value"));
  };
  auto adam_args = [&](const char* wd) {
    return common_tail({lr_arg(), betas_arg(), eps_arg(), weight_decay_arg(wd),
                        arg("amsgrad", ArgType::kBool, "False", "only False is supported")});
  };
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kAdamW}) {
    register_component<OptimizerPtr, NamedParameters>(
        ComponentSpec{kind_name(kind),
                      "optimizer",
                      "torch.optim's Adam family",
                      {"params"},
                      adam_args(kind == OptimizerKind::kAdamW ? "0.01" : "0")},
        [kind, refuse_unsupported](const Kwargs& kw, NamedParameters params) {
          refuse_unsupported(kw);
          OptimizerOptions o = adam_options(kw, kind);
          if (kw.has("foreach")) o.foreach = kw.get_bool("foreach");
          if (kw.has("fused")) o.fused = kw.get_bool("fused");
          return std::make_shared<Optimizer>(std::move(params), o);
        });
  }
  // bitsandbytes' paged AdamW, 32-bit and 8-bit block-wise state.
  for (int bits : {32, 8}) {
    const std::string name =
        bits == 32 ? "bitsandbytes.optim.PagedAdamW" : "bitsandbytes.optim.PagedAdamW8bit";
    register_component<OptimizerPtr, NamedParameters>(
        ComponentSpec{
            name,
            "optimizer",
            bits == 32
                ? "AdamW with fp32 moments in page-locked host memory, streamed per parameter"
                : "AdamW with 8-bit block-wise moments in page-locked host memory, streamed "
                  "per parameter",
            {"params"},
            {lr_arg(), betas_arg(), eps_arg(), weight_decay_arg("0.01"),
             arg("amsgrad", ArgType::kBool, "False", "only False is supported"),
             arg("optim_bits", ArgType::kInt, std::to_string(bits), "state bits"),
             arg("min_8bit_size", ArgType::kInt, "4096", "smaller parameters keep fp32 state"),
             arg("percentile_clipping", ArgType::kInt, "100", "only 100 (off) is supported"),
             arg("block_wise", ArgType::kBool, "True", "only True is supported")}},
        [name, bits](const Kwargs& kw, NamedParameters params) {
          TT_CHECK(!kw.get_bool("amsgrad"), kw.where("amsgrad"),
                   "amsgrad=True is not supported; remove it");
          TT_CHECK(kw.get_int("optim_bits") == bits, kw.where("optim_bits"), name, " keeps ", bits,
                   "-bit state; use ", bits == 32 ? "PagedAdamW8bit" : "PagedAdamW",
                   " for the other width, and remove optim_bits");
          TT_CHECK(kw.get_int("percentile_clipping") == 100, kw.where("percentile_clipping"),
                   "percentile clipping is not supported; use clip_grad_norm instead");
          TT_CHECK(kw.get_bool("block_wise"), kw.where("block_wise"),
                   "only block-wise quantization is supported");
          OptimizerOptions o = adam_options(kw, OptimizerKind::kAdamW);
          o.name = name;
          o.state_on_host = true;
          o.state_bits = bits;
          o.min_8bit_size = kw.get_int("min_8bit_size");
          return std::make_shared<Optimizer>(std::move(params), o);
        });
  }
  ComponentSpec sgd{
      "torch.optim.SGD",
      "optimizer",
      "torch.optim's SGD",
      {"params"},
      common_tail({lr_arg(),
                   arg("momentum", ArgType::kFloat, "0", "", at_least(0, "Invalid momentum value")),
                   arg("dampening", ArgType::kFloat, "0", ""), weight_decay_arg("0"),
                   arg("nesterov", ArgType::kBool, "False", "")})};
  sgd.cross_check = [](const Kwargs& kw) {
    std::vector<Problem> problems;
    if (kw.get_bool("nesterov") &&
        (kw.get_double("momentum") <= 0 || kw.get_double("dampening") != 0))
      problems.push_back(Problem{kw.where("nesterov"),
                                 "Nesterov momentum requires a momentum and zero dampening"});
    return problems;
  };
  register_component<OptimizerPtr, NamedParameters>(
      std::move(sgd), [refuse_unsupported](const Kwargs& kw, NamedParameters params) {
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

}  // namespace tt::training
