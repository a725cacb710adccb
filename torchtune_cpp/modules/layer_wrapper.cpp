// Activation checkpointing and layer hooks through custom autograd functions.
#include "torchtune_cpp/modules/layer_wrapper.h"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <map>
#include <mutex>

#if defined(TT_WITH_CUDA)
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace tt::modules {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

enum class Phase { kBeforeForward, kAfterForward, kBeforeBackward, kAfterBackward };

void fire(const LayerWrapper& w, int64_t index, Phase phase) {
  for (const auto& h : w.hooks) {
    switch (phase) {
      case Phase::kBeforeForward:
        h->before_forward(index);
        break;
      case Phase::kAfterForward:
        h->after_forward(index);
        break;
      case Phase::kBeforeBackward:
        h->before_backward(index);
        break;
      case Phase::kAfterBackward:
        h->after_backward(index);
        break;
    }
  }
}

#if defined(TT_WITH_CUDA)
// One copy stream per device for offloading, kept for the process.
c10::cuda::CUDAStream side_stream(const at::Device& device) {
  static std::mutex mu;
  static std::map<int, c10::cuda::CUDAStream> streams;
  std::lock_guard<std::mutex> lock(mu);
  auto it = streams.find(device.index());
  if (it == streams.end())
    it = streams.emplace(device.index(), c10::cuda::getStreamFromPool(false, device.index())).first;
  return it->second;
}
#endif

// The layer input a checkpointed layer keeps, [B, T, D]: on the device, or offloaded to
// pinned host memory by a copy on a side stream that waits for the input to be computed.
// The caching allocator is told the side stream uses the device tensor, so its memory is not
// reused before the copy is done.
at::Tensor offload(const at::Tensor& x) {
#if defined(TT_WITH_CUDA)
  if (x.is_cuda()) {
    at::Tensor host = at::empty(x.sizes(), x.options().device(at::kCPU).pinned_memory(true));
    c10::cuda::CUDAGuard guard(x.device());
    c10::cuda::CUDAStream compute = c10::cuda::getCurrentCUDAStream();
    c10::cuda::CUDAStream side = side_stream(x.device());
    at::cuda::CUDAEvent ready;
    ready.record(compute);
    ready.block(side);
    {
      c10::cuda::CUDAStreamGuard on_side(side);
      host.copy_(x, /*non_blocking=*/true);
    }
    c10::cuda::CUDACachingAllocator::recordStream(x.storage().data_ptr(), side);
    return host;
  }
#endif
  return x;
}

at::Tensor reload(const at::Tensor& saved, const at::Device& device) {
  if (saved.device() == device) return saved;
#if defined(TT_WITH_CUDA)
  if (device.is_cuda()) {
    // Everything the side streams were given (the offloading copies) completes before the
    // compute stream reads the host buffer; by backward time this rarely waits at all.
    c10::cuda::CUDAGuard guard(device);
    c10::cuda::CUDAStream compute = c10::cuda::getCurrentCUDAStream();
    at::cuda::CUDAEvent done;
    done.record(side_stream(device));
    done.block(compute);
  }
#endif
  return saved.to(device, /*non_blocking=*/true);
}

// Keeps the layer's function alive until its recomputation in backward.
struct FnHolder : torch::CustomClassHolder {
  explicit FnHolder(LayerFn f) : fn(std::move(f)) {}
  LayerFn fn;
};

// Forward without keeping activations; backward recomputes the layer from its saved input
// with the same weights and returns the gradients for the input and every weight. The
// recomputation repeats exactly the same ops, so gradients are bitwise those of the plain
// layer on CPU.
struct CheckpointedLayer : torch::autograd::Function<CheckpointedLayer> {
  static at::Tensor forward(AutogradContext* ctx, at::Tensor x, at::TensorList weights,
                            const LayerWrapper* wrapper, int64_t index, LayerFn fn) {
    const bool off = wrapper->offload_activations && x.is_cuda();
    variable_list saved{off ? offload(x) : x};
    saved.insert(saved.end(), weights.begin(), weights.end());
    ctx->save_for_backward(saved);
    ctx->saved_data["device"] = x.device().str();
    ctx->saved_data["wrapper"] = reinterpret_cast<int64_t>(wrapper);
    ctx->saved_data["index"] = index;
    ctx->saved_data["fn"] = c10::IValue::make_capsule(c10::make_intrusive<FnHolder>(fn));
    // The weights are inputs only so that gradients reach them; the layer reads them itself.
    at::NoGradGuard no_grad;
    return fn(x);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const auto* wrapper = reinterpret_cast<const LayerWrapper*>(ctx->saved_data["wrapper"].toInt());
    int64_t index = ctx->saved_data["index"].toInt();
    const LayerFn& fn = static_cast<FnHolder*>(ctx->saved_data["fn"].toCapsule().get())->fn;
    variable_list saved = ctx->get_saved_variables();
    const size_t num_weights = saved.size() - 1;
    fire(*wrapper, index, Phase::kBeforeBackward);
    // One slot per forward argument: x, each weight, then wrapper, index and fn.
    variable_list result(1 + num_weights + 3);
    {
      at::AutoGradMode enable(true);
      at::Tensor x_in = reload(saved[0], at::Device(ctx->saved_data["device"].toStringRef()))
                            .detach()
                            .requires_grad_(ctx->needs_input_grad(0));
      at::Tensor y = fn(x_in);
      variable_list inputs;
      std::vector<size_t> slots;
      if (x_in.requires_grad()) {
        inputs.push_back(x_in);
        slots.push_back(0);
      }
      for (size_t i = 0; i < num_weights; ++i) {
        if (saved[1 + i].requires_grad()) {
          inputs.push_back(saved[1 + i]);
          slots.push_back(1 + i);
        }
      }
      if (!inputs.empty()) {
        variable_list grads = torch::autograd::grad({y}, inputs, {grad_out[0]},
                                                    /*retain_graph=*/false,
                                                    /*create_graph=*/false, /*allow_unused=*/true);
        for (size_t k = 0; k < slots.size(); ++k) result[slots[k]] = grads[k];
      }
    }
    fire(*wrapper, index, Phase::kAfterBackward);
    return result;
  }
};

// Identity in forward; in backward, fires one hook phase of one layer.
struct HookBoundary : torch::autograd::Function<HookBoundary> {
  static at::Tensor forward(AutogradContext* ctx, at::Tensor x, const LayerWrapper* wrapper,
                            int64_t index, int64_t phase) {
    ctx->saved_data["wrapper"] = reinterpret_cast<int64_t>(wrapper);
    ctx->saved_data["index"] = index;
    ctx->saved_data["phase"] = phase;
    return x.view_as(x);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad_out) {
    const auto* wrapper = reinterpret_cast<const LayerWrapper*>(ctx->saved_data["wrapper"].toInt());
    fire(*wrapper, ctx->saved_data["index"].toInt(),
         static_cast<Phase>(ctx->saved_data["phase"].toInt()));
    return {grad_out[0], at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

void begin_model_forward(const LayerWrapper& wrapper) {
  for (const auto& h : wrapper.hooks) h->before_model_forward();
}

at::Tensor run_layer(const LayerWrapper& wrapper, int64_t index, const at::Tensor& x,
                     const std::vector<at::Tensor>& weights, const LayerFn& fn) {
  const bool grad = at::GradMode::is_enabled();
  fire(wrapper, index, Phase::kBeforeForward);
  at::Tensor y;
  const bool last = index + 1 == wrapper.num_layers;
  const bool checkpointed =
      index < static_cast<int64_t>(wrapper.checkpointed.size()) && wrapper.checkpointed[index];
  if (checkpointed && grad && !last) {
    y = CheckpointedLayer::apply(x, at::TensorList(weights), &wrapper, index, fn);
  } else if (!wrapper.hooks.empty() && grad && x.requires_grad()) {
    at::Tensor x_in =
        HookBoundary::apply(x, &wrapper, index, static_cast<int64_t>(Phase::kAfterBackward));
    y = fn(x_in);
    y = HookBoundary::apply(y, &wrapper, index, static_cast<int64_t>(Phase::kBeforeBackward));
  } else {
    y = fn(x);
  }
  fire(wrapper, index, Phase::kAfterForward);
  return y;
}

}  // namespace tt::modules
