// full_finetune_single_device: full fine-tuning of a Llama2-family model on one device, the
// counterpart of torchtune's recipes/full_finetune_single_device.py, reading the same config.
//
// Features:
//   - device cpu or cuda; dtype fp32 or bf16 (pure: parameters in that dtype, no master copy);
//     fp16 is refused, as torchtune refuses it
//   - torchtune's training maths: loss weighted by non-ignored tokens over the accumulation
//     window (gradient_accumulation_steps), gradients scaled by 1/tokens, optional
//     clip_grad_norm, optimizer step, optional LR schedule
//   - activation checkpointing (enable_activation_checkpointing)
//   - checkpoints through the configured checkpointer at every epoch end, in the input's
//     format family; intermediate ones carry the recipe state
//   - metric logging every log_every_n_steps optimizer steps: loss, lr,
//     tokens_per_second_per_gpu, grad_norm (with clipping), peak memory on CUDA
// Refused (not available yet): resume_from_checkpoint: True, optimizer_in_bwd: True,
// enable_activation_offloading: True. compile is accepted and has no effect.
//
//   tune run full_finetune_single_device --config llama2/tiny_full [key=value ...]
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <chrono>
#include <iostream>
#include <random>

#if defined(TT_WITH_CUDA)
#include <c10/cuda/CUDACachingAllocator.h>
#endif

// ---- configuration and components
#include "torchtune_cpp/cli/recipe_registry.h"
#include "torchtune_cpp/components.h"
#include "torchtune_cpp/config/config.h"
#include "torchtune_cpp/config/parse.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/config/validate.h"
// ---- model, data, training
#include "torchtune_cpp/checkpointing/checkpointer.h"
#include "torchtune_cpp/data/collate.h"
#include "torchtune_cpp/data/sampler.h"
#include "torchtune_cpp/data/sft.h"
#include "torchtune_cpp/models/llama2/model_builders.h"
#include "torchtune_cpp/models/llama2/tokenizer.h"
#include "torchtune_cpp/modules/loss.h"
#include "torchtune_cpp/modules/transformer.h"
#include "torchtune_cpp/training/clip_grad.h"
#include "torchtune_cpp/training/lr_schedulers.h"
#include "torchtune_cpp/training/metric_logging.h"
#include "torchtune_cpp/training/optimizer.h"
#include "torchtune_cpp/training/precision.h"
#include "torchtune_cpp/training/profiler.h"
#include "torchtune_cpp/utils/check.h"

namespace {

using tt::config::Config;
using tt::config::Node;
using tt::config::instantiate;

constexpr const char* kRecipe = "full_finetune_single_device";

// Everything besides the model and optimizer that the run's position consists of.
struct RecipeState {
  int64_t seed = 0;
  int64_t epochs_run = 0;
  int64_t total_epochs = 1;
  std::optional<int64_t> max_steps_per_epoch;
  int64_t global_step = 0;
};

Node call_kwargs(std::initializer_list<std::pair<const char*, std::string>> kv) {
  Node n = Node::map();
  for (const auto& [k, v] : kv) n.set(k, Node::scalar(v));
  return n;
}

class FullFinetuneRecipeSingleDevice {
 public:
  explicit FullFinetuneRecipeSingleDevice(const Config& cfg) : cfg_(cfg), device_(at::kCPU) {
    std::string device = cfg.get_string("device");
    TT_CHECK(device == "cpu" || device.rfind("cuda", 0) == 0, cfg.where("device"),
             "use cpu or cuda (cuda:N)");
    device_ = at::Device(device);
    dtype_ = tt::training_dtype(cfg.has("dtype") ? std::optional<std::string>(cfg.get_string("dtype"))
                                                 : std::nullopt,
                                device_, cfg.where("dtype"));
    TT_CHECK(!cfg.get_bool("resume_from_checkpoint"), cfg.where("resume_from_checkpoint"),
             "resuming is not available in this recipe yet; set resume_from_checkpoint=False");
    TT_CHECK(!cfg.get_bool("optimizer_in_bwd"), cfg.where("optimizer_in_bwd"),
             "optimizer_in_bwd is not available in this recipe yet; set optimizer_in_bwd=False");
    TT_CHECK(!cfg.get_bool_or("enable_activation_offloading", false),
             cfg.where("enable_activation_offloading"),
             "activation offloading is not available yet; set enable_activation_offloading=False");
    if (cfg.get_bool("compile")) std::cout << "compile: True has no effect in torchtune_cpp\n";
    grad_accum_ = cfg.get_int("gradient_accumulation_steps");
    TT_CHECK(grad_accum_ >= 1, cfg.where("gradient_accumulation_steps"), "must be >= 1");
    batch_size_ = cfg.get_int("batch_size");
    TT_CHECK(batch_size_ >= 1, cfg.where("batch_size"), "must be >= 1");
    log_every_ = cfg.get_int_or("log_every_n_steps", 1);
    log_peak_memory_ = cfg.get_bool_or("log_peak_memory_stats", false);
    clip_grad_norm_ = cfg.get_optional_double("clip_grad_norm");
    state_.total_epochs = cfg.get_int("epochs");
    state_.max_steps_per_epoch = cfg.get_optional_int("max_steps_per_epoch");
    // A null seed is drawn at random, as torchtune does, and recorded.
    state_.seed = cfg.has("seed") ? cfg.get_int("seed") : static_cast<int64_t>(std::random_device{}() >> 1);
  }

  void setup() {
    at::manual_seed(static_cast<uint64_t>(state_.seed));
    logger_ = instantiate<tt::MetricLoggerPtr>(cfg_, "metric_logger", Node::map());
    logger_->log_config(cfg_);
    checkpointer_ = instantiate<tt::CheckpointerPtr>(
        cfg_, "checkpointer", call_kwargs({{"should_load_recipe_state", "False"}}));
    setup_model(checkpointer_->load_checkpoint().model);
    tokenizer_ = instantiate<tt::llama2::TokenizerPtr>(cfg_, "tokenizer", Node::map());
    optimizer_ = instantiate<tt::OptimizerPtr, tt::StateDict>(cfg_, "optimizer", Node::map(),
                                                              tt::named_parameters(*model_));
    loss_ = instantiate<tt::LossSpec>(cfg_, "loss", Node::map());
    dataset_ = instantiate<tt::data::DatasetPtr, tt::llama2::TokenizerPtr>(cfg_, "dataset", Node::map(),
                                                                           tokenizer_);
    const int64_t batches = static_cast<int64_t>(dataset_->size()) / batch_size_;
    steps_per_epoch_ = batches / grad_accum_;
    if (state_.max_steps_per_epoch && *state_.max_steps_per_epoch < steps_per_epoch_)
      steps_per_epoch_ = *state_.max_steps_per_epoch;
    TT_CHECK(steps_per_epoch_ > 0, cfg_.where("batch_size"), "the dataset's ", dataset_->size(),
             " samples make no full optimizer step with batch_size ", batch_size_,
             " and gradient_accumulation_steps ", grad_accum_, "; lower them");
    if (cfg_.has("lr_scheduler")) {
      scheduler_ = instantiate<tt::LRSchedulerPtr, tt::OptimizerPtr>(
          cfg_, "lr_scheduler",
          call_kwargs({{"num_training_steps", std::to_string(state_.total_epochs * steps_per_epoch_)},
                       {"last_epoch", std::to_string(state_.global_step - 1)}}),
          optimizer_);
    }
    if (cfg_.has("profiler")) instantiate<tt::ProfilerPtr>(cfg_, "profiler", Node::map());
    std::cout << "Model has " << tt::num_parameters(*model_) << " parameters; " << dataset_->size()
              << " samples, " << steps_per_epoch_ << " optimizer steps per epoch\n";
  }

  void train() {
    at::Tensor running_loss = at::zeros({}, at::TensorOptions().device(device_).dtype(at::kFloat));
    int64_t num_tokens = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t epoch = state_.epochs_run; epoch < state_.total_epochs; ++epoch) {
      // torchtune's DistributedSampler: seed 0, reshuffled by epoch.
      auto order = tt::data::distributed_sampler_indices(
          dataset_->size(), epoch, {1, 0, cfg_.get_bool("shuffle"), 0, false});
      auto batches = tt::data::batch_indices(order, batch_size_);
      for (size_t idx = 0; idx < batches.size(); ++idx) {
        if (state_.max_steps_per_epoch &&
            static_cast<int64_t>(idx) / grad_accum_ == *state_.max_steps_per_epoch)
          break;
        std::vector<tt::data::Sample> samples;
        for (int64_t i : batches[idx]) samples.push_back(dataset_->get(i));
        auto [tokens, labels, input_pos, mask] = collate(samples);
        // Tokens counted on the unshifted labels, as torchtune counts them.
        const int64_t n = (labels != tt::kIgnoreIndex).sum().item<int64_t>();
        num_tokens += n;
        at::Tensor shifted = at::cat({labels.slice(1, 1), at::full({labels.size(0), 1}, tt::kIgnoreIndex,
                                                                   labels.options())}, 1);
        at::Tensor loss = loss_step({tokens, mask, input_pos}, shifted);
        at::Tensor current = loss * n;
        running_loss += current.detach();
        current.backward();
        if ((static_cast<int64_t>(idx) + 1) % grad_accum_ != 0) continue;

        scale_grads(1.0 / static_cast<double>(num_tokens));
        std::optional<double> grad_norm;
        if (clip_grad_norm_) grad_norm = tt::clip_grad_norm(optimizer_->params(), *clip_grad_norm_).item<double>();
        optimizer_->step();
        optimizer_->zero_grad();
        if (scheduler_) scheduler_->step();
        ++state_.global_step;
        if (state_.global_step % log_every_ == 0) {
          double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          // Values pass through fp32 as torchtune's tensors do, so logs print the same digits.
          tt::MetricValues values = {
              {"loss", static_cast<double>(static_cast<float>(running_loss.item<float>() / num_tokens))},
              {"lr", optimizer_->lr()},
              {"tokens_per_second_per_gpu", static_cast<double>(static_cast<float>(num_tokens / seconds))}};
          if (grad_norm) values.emplace_back("grad_norm", *grad_norm);
          append_memory_stats(values);
          logger_->log_dict(values, state_.global_step);
          std::cout << epoch + 1 << "|" << state_.global_step << "|Loss: " << values[0].second << "\n";
        }
        running_loss.zero_();
        num_tokens = 0;
        t0 = std::chrono::steady_clock::now();
      }
      state_.epochs_run += 1;
      save_checkpoint(epoch);
    }
  }

  void cleanup() { logger_->close(); }

 private:
  void setup_model(const tt::StateDict& checkpoint) {
    model_ = instantiate<tt::llama2::ModelPtr>(cfg_, "model", Node::map());
    tt::materialize(*model_, device_, dtype_, &checkpoint, {});
    tt::load_state_dict(*model_, checkpoint, /*strict=*/true);  // also refuses extra keys
    model_->wrapper.activation_checkpointing = cfg_.get_bool_or("enable_activation_checkpointing", false);
  }

  struct Batch {
    at::Tensor tokens, labels;
    std::optional<at::Tensor> input_pos, mask;
  };
  Batch collate(const std::vector<tt::data::Sample>& samples) const {
    if (dataset_->packed()) {
      tt::data::PackedBatch b = tt::data::padded_collate_packed(samples);
      return {b.tokens.to(device_), b.labels.to(device_), b.input_pos.to(device_), b.mask.to(device_)};
    }
    tt::data::SftBatch b = tt::data::padded_collate_sft(samples, tokenizer_->pad_id(), tt::kIgnoreIndex);
    return {b.tokens.to(device_), b.labels.to(device_), std::nullopt, std::nullopt};
  }

  // Mean loss over the batch's kept next-token labels, as configured.
  at::Tensor loss_step(const tt::ForwardInputs& in, const at::Tensor& labels) {
    switch (loss_.kind) {
      case tt::LossSpec::Kind::kChunked:
        return tt::chunked_cross_entropy(tt::forward_chunked(*model_, in, loss_.num_output_chunks),
                                         labels, loss_.ignore_index);
      case tt::LossSpec::Kind::kFusedChunked:
        return tt::fused_chunked_cross_entropy(tt::hidden_states(*model_, in), model_->output, labels,
                                               loss_.num_output_chunks, loss_.ignore_index);
      case tt::LossSpec::Kind::kPlain:
        break;
    }
    return tt::cross_entropy(tt::forward(*model_, in), labels, loss_.ignore_index);
  }

  void scale_grads(double factor) {
    at::NoGradGuard no_grad;
    for (auto& [name, p] : tt::named_parameters(*model_))
      if (p.grad().defined()) p.mutable_grad().mul_(factor);
  }

  void append_memory_stats(tt::MetricValues& values) const {
#if defined(TT_WITH_CUDA)
    if (log_peak_memory_ && device_.is_cuda()) {
      auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device_.index() < 0 ? 0 : device_.index());
      constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
      values.emplace_back("peak_memory_active", stats.active_bytes[0].peak / kGiB);
      values.emplace_back("peak_memory_alloc", stats.allocated_bytes[0].peak / kGiB);
      values.emplace_back("peak_memory_reserved", stats.reserved_bytes[0].peak / kGiB);
      c10::cuda::CUDACachingAllocator::resetPeakStats(device_.index() < 0 ? 0 : device_.index());
    }
#endif
  }

  void save_checkpoint(int64_t epoch) {
    const bool intermediate = epoch + 1 < state_.total_epochs;
    tt::StateDict weights;
    for (auto& [key, p] : tt::named_parameters(*model_)) weights.emplace_back(key, p.detach());
    std::optional<tt::PickleValue> recipe_state;
    if (intermediate) recipe_state = recipe_state_value();
    checkpointer_->save_checkpoint(weights, static_cast<int>(epoch), intermediate,
                                   recipe_state ? &*recipe_state : nullptr);
  }

  // torchtune's recipe_state.pt keys, with the optimizer in torch.optim's layout.
  tt::PickleValue recipe_state_value() const {
    using PV = tt::PickleValue;
    PV::DictItems state;
    for (const auto& [i, s] : optimizer_->state()) {
      PV::DictItems entry;
      if (s.step.defined()) entry.emplace_back(PV("step"), PV(s.step.cpu()));
      if (s.exp_avg.defined()) entry.emplace_back(PV("exp_avg"), PV(s.exp_avg.cpu()));
      if (s.exp_avg_sq.defined()) entry.emplace_back(PV("exp_avg_sq"), PV(s.exp_avg_sq.cpu()));
      if (s.momentum_buffer.defined()) entry.emplace_back(PV("momentum_buffer"), PV(s.momentum_buffer.cpu()));
      state.emplace_back(PV(static_cast<int64_t>(i)), PV::dict(std::move(entry)));
    }
    const tt::OptimizerOptions& o = optimizer_->options();
    PV::Items param_ids;
    for (size_t i = 0; i < optimizer_->params().size(); ++i) param_ids.emplace_back(static_cast<int64_t>(i));
    PV::DictItems group = {{PV("lr"), PV(o.lr)},
                           {PV("betas"), PV::tuple({PV(o.beta1), PV(o.beta2)})},
                           {PV("eps"), PV(o.eps)},
                           {PV("weight_decay"), PV(o.weight_decay)},
                           {PV("params"), PV::list(std::move(param_ids))}};
    PV::DictItems top = {{PV("seed"), PV(state_.seed)},
                         {PV("epochs_run"), PV(state_.epochs_run)},
                         {PV("total_epochs"), PV(state_.total_epochs)},
                         {PV("max_steps_per_epoch"),
                          state_.max_steps_per_epoch ? PV(*state_.max_steps_per_epoch) : PV::none()},
                         {PV("optimizer"), PV::dict({{PV("state"), PV::dict(std::move(state))},
                                                     {PV("param_groups"), PV::list({PV::dict(std::move(group))})}})}};
    return PV::dict(std::move(top));
  }

  const Config& cfg_;
  at::Device device_;
  at::ScalarType dtype_ = at::kFloat;
  int64_t grad_accum_ = 1, batch_size_ = 1, log_every_ = 1, steps_per_epoch_ = 0;
  bool log_peak_memory_ = false;
  std::optional<double> clip_grad_norm_;
  RecipeState state_;
  tt::MetricLoggerPtr logger_;
  tt::CheckpointerPtr checkpointer_;
  tt::llama2::ModelPtr model_;
  tt::llama2::TokenizerPtr tokenizer_;
  tt::OptimizerPtr optimizer_;
  tt::LRSchedulerPtr scheduler_;
  tt::LossSpec loss_;
  tt::data::DatasetPtr dataset_;
};

int recipe_main(int argc, char** argv) {
  tt::config::RecipeArgs args = tt::config::parse_recipe_args(argc, argv);
  if (args.help) {
    std::cout << tt::config::recipe_usage(kRecipe);
    return 0;
  }
  tt::register_builtin_components();
  Config cfg = Config::load(args.config_path, args.overrides);
  tt::config::enforce(tt::config::validate_config(cfg.raw(), tt::cli::find_recipe(kRecipe)->keys));
  std::cout << tt::config::describe_resolved(cfg, kRecipe);
  FullFinetuneRecipeSingleDevice recipe(cfg);
  recipe.setup();
  recipe.train();
  recipe.cleanup();
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return tt::run_main(kRecipe, recipe_main, argc, argv); }
