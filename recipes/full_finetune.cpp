// Full fine-tuning of a Llama2-family model, the counterpart of torchtune's
// recipes/full_finetune_single_device.py and full_finetune_distributed.py, reading the same
// configs. One loop for both programs; what differs between one process and many is the
// `Processes` seam (full_finetune.h, processes.cpp).
//
// Features:
//   - device cpu or cuda; dtype fp32 or bf16 (pure: parameters in that dtype, no master copy);
//     fp16 is refused, as torchtune refuses it
//   - torchtune's training maths: loss weighted by non-ignored tokens over the accumulation
//     window (gradient_accumulation_steps) and over every rank, gradients scaled by 1/tokens,
//     optional clip_grad_norm, optimizer step, optional LR schedule
//   - activation checkpointing (enable_activation_checkpointing, or some layers: ac_mode)
//   - checkpoints through the configured checkpointer at every epoch end, in the input's
//     format family; intermediate ones carry the recipe state; beyond torchtune,
//     save_every_n_steps writes mid-epoch step_N/ checkpoints
//   - exact resume (resume_from_checkpoint: True): weights, optimizer state (any of
//     torchtune's layouts), LR-schedule position, RNG state (one process) and the data
//     position, also mid-epoch and from any rank count; the continued run computes what the
//     uninterrupted one would have
//   - SIGTERM / SIGINT (preemption, Ctrl-C) on any process: a checkpoint at the next step
//     boundary, then a clean exit; a second signal stops at once
//   - beyond torchtune, safety: nothing is written to output_dir until every input is loaded
//     and checked; one run per output_dir (a lock naming its holder, held by rank 0); the
//     free space is checked before each save; a NaN or Inf loss or gradient norm stops the
//     run at once and no checkpoint is written after it (stop_on_nonfinite_loss: False
//     trains on, as torchtune); an error on one rank stops every rank, each with one line
//   - metric logging (rank 0) every log_every_n_steps optimizer steps: loss, lr,
//     tokens_per_second_per_gpu, grad_norm (with clipping), peak memory on CUDA
//   - one process: optimizer_in_bwd (each parameter updated from its gradient hook, its
//     gradient freed at once; no accumulation or clipping, as torchtune);
//     bitsandbytes.optim.PagedAdamW keeps the fp32 optimizer state in pinned host memory;
//     enable_activation_offloading sends each checkpointed layer's input to host memory
//   - beyond torchtune's log keys: mfu (CUDA, against the GPU's own peak) and data_wait_s;
//     a progress bar on terminals
// compile is accepted and has no effect; the profiler (rank 0) writes Chrome traces on
// torchtune's schedule.
#include "full_finetune.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#if defined(TT_WITH_CUDA)
#include <ATen/cuda/CUDAGeneratorImpl.h>
#endif

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <random>

#include "torchtune_cpp/checkpointing/optimizer_state.h"
#include "torchtune_cpp/cli/recipe_registry.h"
#include "torchtune_cpp/components.h"
#include "torchtune_cpp/config/parse.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/data/batch.h"
#include "torchtune_cpp/data/builders.h"
#include "torchtune_cpp/data/sampler.h"
#include "torchtune_cpp/data/sft.h"
#include "torchtune_cpp/models/llama2/model_builders.h"
#include "torchtune_cpp/models/llama2/tokenizer.h"
#include "torchtune_cpp/modules/fused_kernels.h"
#include "torchtune_cpp/modules/loss.h"
#include "torchtune_cpp/modules/state_dict.h"
#include "torchtune_cpp/training/activation_checkpointing.h"
#include "torchtune_cpp/training/lr_schedulers.h"
#include "torchtune_cpp/training/memory_stats.h"
#include "torchtune_cpp/training/metric_logging.h"
#include "torchtune_cpp/training/nonfinite.h"
#include "torchtune_cpp/training/optimizer_in_backward.h"
#include "torchtune_cpp/training/peak_flops.h"
#include "torchtune_cpp/training/precision.h"
#include "torchtune_cpp/training/profiler.h"
#include "torchtune_cpp/training/progress_bar.h"
#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/file_lock.h"

namespace tt::recipes {

namespace {

using config::Config;
using config::instantiate;
using config::Node;

// Set by SIGTERM/SIGINT; the loop saves and stops at the next optimizer step.
std::atomic<int> g_stop_signal{0};
void on_stop_signal(int sig) {
  if (g_stop_signal.exchange(sig) != 0) {  // a second signal: stop now
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}
bool stop_requested() {
  return g_stop_signal.load() != 0;
}

Node call_kwargs(std::initializer_list<std::pair<const char*, std::string>> kv) {
  Node n = Node::map();
  for (const auto& [k, v] : kv) n.set(k, Node::scalar(v));
  return n;
}

class FullFinetuneRecipe {
 public:
  // Reads the config; every value was checked by enforce_recipe_config (the declarations in
  // cli/recipe_registry.cpp, shared with `tune validate`) before this runs.
  FullFinetuneRecipe(const char* recipe, const Config& cfg, Processes& procs)
      : recipe_(recipe), cfg_(cfg), procs_(procs), device_(procs.device()) {
    dtype_ = training::training_dtype(
        cfg.has("dtype") ? std::optional<std::string>(cfg.get_string("dtype")) : std::nullopt,
        device_, cfg.where("dtype"));
    resume_ = cfg.get_bool("resume_from_checkpoint");
    optimizer_in_bwd_ = cfg.get_bool_or("optimizer_in_bwd", false);  // one process only
    // enable_activation_checkpointing, or ac_mode / ac_option (checked by tune validate too).
    const training::CheckpointingChoice ac = training::activation_checkpointing(cfg.resolved());
    if (ac.problem) throw Error(ac.problem->where, ac.problem->message);
    checkpoint_interval_ = ac.interval;
    // The fused CUDA kernels (RMSNorm, SwiGLU, RoPE: modules/fused_kernels.h), CUDA only.
    modules::set_fused_kernels(cfg.get_bool_or("fused_kernels", false));
    activation_offloading_ = cfg.get_bool_or("enable_activation_offloading", false);
    if (cfg.get_bool_or("compile", false))
      std::cout << "compile: True has no effect in torchtune_cpp\n";
    // torchtune's collate choice (padded_collate_sft, or padded_collate_packed for a packed
    // dataset whatever collate_fn says) is the dataset's: nothing to read here.
    grad_accum_ = cfg.get_int("gradient_accumulation_steps");
    batch_size_ = cfg.get_int("batch_size");
    log_every_ = cfg.get_int_or("log_every_n_steps", 1);
    log_peak_memory_ = cfg.get_bool_or("log_peak_memory_stats", false);
    clip_grad_norm_ = cfg.get_optional_double("clip_grad_norm");
    save_every_ = cfg.get_optional_int("save_every_n_steps");
    state_.total_epochs = cfg.get_int("epochs");
    state_.max_steps_per_epoch = cfg.get_optional_int("max_steps_per_epoch");
    // A null seed is drawn at random, as torchtune does (rank 0's), and recorded.
    state_.seed =
        cfg.has("seed") ? cfg.get_int("seed") : static_cast<int64_t>(std::random_device{}() >> 1);
  }

  void setup() {
    procs_.start(state_);
    rank0_ = procs_.is_rank_zero();
    if (rank0_) std::cout << config::describe_resolved(cfg_, recipe_);
    // torchtune's per-rank seed: seed + rank.
    at::manual_seed(static_cast<uint64_t>(state_.seed + procs_.rank()));
    // Nothing is written to output_dir until every piece below is loaded and checked
    // (start_writing()): a run that fails to start leaves the folder as it was.
    tokenizer_ = instantiate<llama2::TokenizerPtr>(cfg_, "tokenizer", Node::map());
    dataset_ = data::instantiate_dataset(cfg_, tokenizer_);
    // Rank 0 first: resuming, its checkpointer puts back what an interrupted save left.
    auto make_checkpointer = [&] {
      checkpointer_ = instantiate<checkpointing::CheckpointerPtr>(
          cfg_, "checkpointer",
          call_kwargs({{"should_load_recipe_state", resume_ ? "True" : "False"}}));
    };
    procs_.on_rank_zero(make_checkpointer, "setting up the checkpointer");
    if (!rank0_) make_checkpointer();
    // A full checkpoint is read by every rank (memory-mapped where the format allows), each
    // keeping its slices; a sharded one is read shard by shard once the model is sharded,
    // whatever rank count wrote it.
    const std::optional<std::string>& folder = checkpointer_->resume_folder();
    checkpointing::CheckpointDict ckpt = checkpointer_->load_checkpoint();
    if (ckpt.sharded) {
      TT_CHECK(procs_.sharded(), *folder,
               "is a sharded checkpoint (full_finetune_distributed's sharded_checkpoints); resume "
               "it with full_finetune_distributed, on any number of processes (tune run "
               "--nproc_per_node 1 works too)");
      TT_CHECK(
          resume_, *folder,
          "is a sharded checkpoint, which only a resume reads; set resume_from_checkpoint=True");
    }
    if (!ckpt.sharded)
      modules::check_weights(ckpt.model,
                             resume_ && folder ? *folder : checkpointer_->checkpoint_dir());
    if (resume_) update_recipe_state(*ckpt.recipe_state);
    setup_model(ckpt.sharded ? nullptr : &ckpt.model);
    // Every sample's token ids against the model's vocabulary, as it is read (data/builders.h).
    dataset_ = data::check_token_ids(
        dataset_, model_->args.vocab_size,
        cfg_.where(cfg_.has("model.vocab_size") ? "model.vocab_size" : "model"));
    optimizer_ = instantiate<training::OptimizerPtr, StateDict>(cfg_, "optimizer", Node::map(),
                                                                procs_.parameters());
    TT_CHECK(!procs_.sharded() || optimizer_->options().state_bits == 32, cfg_.where("optimizer"),
             "8-bit optimizer state is not supported by the distributed recipe; use "
             "torch.optim.AdamW or bitsandbytes.optim.PagedAdamW");
    if (resume_) {
      // Any of torchtune's layouts (single device, distributed, in-backward) is accepted.
      const std::string where = *checkpointer_->recipe_checkpoint_path();
      optimizer_->load_state_dict(
          procs_.optimizer_state_to_load(ckpt.recipe_state->at("optimizer"), *checkpointer_,
                                         ckpt.sharded, where),
          where);
    }
    ckpt.recipe_state.reset();
    if (optimizer_in_bwd_)
      in_backward_ = std::make_unique<training::OptimizerInBackward>(optimizer_);
    loss_ = instantiate<modules::LossSpec>(cfg_, "loss", Node::map());
    // Each rank's share of the samples (DistributedSampler pads to a multiple of the ranks).
    const int64_t world = procs_.world_size();
    const int64_t batches =
        (static_cast<int64_t>(dataset_->size()) + world - 1) / world / batch_size_;
    steps_per_epoch_ = batches / grad_accum_;
    if (state_.max_steps_per_epoch && *state_.max_steps_per_epoch < steps_per_epoch_)
      steps_per_epoch_ = *state_.max_steps_per_epoch;
    if (resume_)
      training::check_resume_position(state_, batches, grad_accum_,
                                      *checkpointer_->recipe_checkpoint_path());
    // torchtune's recipe_state.pt has no step count: it is implied by whole epochs.
    if (resume_ && !state_.has_global_step)
      state_.global_step = state_.epochs_run * steps_per_epoch_;
    if (resume_ && rank0_)
      std::cout << "Resuming from " << *checkpointer_->resume_folder() << " at epoch "
                << state_.epochs_run + 1 << ", global step " << state_.global_step
                << ", micro-batch " << state_.batches_in_epoch << "\n";
    TT_CHECK(steps_per_epoch_ > 0, cfg_.where("batch_size"), "the dataset's ", dataset_->size(),
             " samples make no full optimizer step with batch_size ", batch_size_,
             " and gradient_accumulation_steps ", grad_accum_, "; lower them");
    if (cfg_.has("lr_scheduler")) {
      scheduler_ = instantiate<training::LRSchedulerPtr, training::OptimizerPtr>(
          cfg_, "lr_scheduler",
          call_kwargs(
              {{"num_training_steps", std::to_string(state_.total_epochs * steps_per_epoch_)},
               {"last_epoch", std::to_string(state_.global_step - 1)}}),
          optimizer_);
    }
    // Rank 0 profiles (its trace stands for every rank: they run the same steps).
    profiler_ = cfg_.has("profiler") && rank0_
                    ? instantiate<training::ProfilerPtr>(cfg_, "profiler", Node::map())
                    : std::make_shared<training::Profiler>(training::ProfilerOptions{});
    nonfinite_ = std::make_unique<training::NonfiniteGuard>(
        cfg_.get_bool_or("stop_on_nonfinite_loss", true), device_);
    nonfinite_->set_rank(procs_.rank());
    if (resume_) nonfinite_->set_last_checkpoint(*checkpointer_->resume_folder());
    if (rank0_)
      std::cout << "Model has " << modules::num_parameters(*model_) << " parameters"
                << (procs_.sharded() ? str(", sharded over ", world, " ranks") : std::string())
                << "; " << dataset_->size() << " samples, " << steps_per_epoch_
                << " optimizer steps per epoch\n";
    // The others wait for rank 0, and stop with it if output_dir is taken.
    procs_.on_rank_zero([&] { start_writing(); }, "taking the output_dir lock");
  }

  void train() {
    at::Tensor running_loss = at::zeros({}, at::TensorOptions().device(device_).dtype(at::kFloat));
    int64_t num_tokens = 0;
    auto t0 = std::chrono::steady_clock::now();
    std::signal(SIGTERM, on_stop_signal);
    std::signal(SIGINT, on_stop_signal);
    double data_wait = 0.0;
    int64_t processed_tokens = 0;
    training::ProgressBar bar(rank0_ ? state_.total_epochs * steps_per_epoch_ : 0,
                              state_.global_step);
    for (int64_t epoch = state_.epochs_run; epoch < state_.total_epochs; ++epoch) {
      // torchtune's DistributedSampler: seed 0, reshuffled by epoch, every W-th sample from
      // this rank.
      auto order = data::distributed_sampler_indices(
          dataset_->size(), epoch,
          {procs_.world_size(), procs_.rank(), cfg_.get_bool("shuffle"), 0, false});
      auto batches = data::batch_indices(order, batch_size_);
      // The epoch's micro-batches, up to max_steps_per_epoch optimizer steps; a resumed run
      // starts where the checkpoint was taken, without touching earlier samples. The next
      // one is read, tokenized and collated on a worker thread while the current one trains.
      size_t end = batches.size();
      if (state_.max_steps_per_epoch)
        end = std::min(end, static_cast<size_t>(*state_.max_steps_per_epoch * grad_accum_));
      const size_t first = static_cast<size_t>(state_.batches_in_epoch);
      data::BatchPrefetcher loader(*dataset_, std::move(batches), first, end, tokenizer_->pad_id(),
                                   modules::kIgnoreIndex);
      for (size_t idx = first; idx < end; ++idx) {
        auto data_start = std::chrono::steady_clock::now();
        data::Batch cpu_batch = loader.next();
        auto [tokens, labels, input_pos, mask] = data::to_device(std::move(cpu_batch), device_);
        data_wait += seconds_since(data_start);
        seq_len_ = tokens.size(1);
        processed_tokens += tokens.numel();
        // Tokens counted on the unshifted labels, as torchtune counts them.
        const int64_t n = (labels != modules::kIgnoreIndex).sum().item<int64_t>();
        num_tokens += n;
        at::Tensor loss = modules::compute_loss(*model_, loss_, {tokens, mask, input_pos},
                                                data::shift_labels(labels, modules::kIgnoreIndex));
        at::Tensor current = loss * n;
        running_loss += current.detach();
        // In-backward updates see each gradient once, complete: the 1/tokens scaling is
        // applied there (accumulation is refused, so the window is this micro-batch).
        if (in_backward_) in_backward_->set_grad_scale(1.0 / static_cast<double>(num_tokens));
        current.backward();
        // The profiler steps after every micro-batch, as in torchtune's single-device recipe.
        if ((static_cast<int64_t>(idx) + 1) % grad_accum_ != 0) {
          profiler_->step();
          continue;
        }

        const StepTotals totals = procs_.finish_step(running_loss, num_tokens, stop_requested());
        num_tokens = totals.tokens;
        // A loss summed over ranks is on the host already: every rank stops here together,
        // before the step would write it into the weights.
        if (procs_.sharded())
          nonfinite_->check_value(totals.loss_sum.item<double>(), "loss", state_.global_step + 1);
        std::optional<double> grad_norm;
        if (!in_backward_) {
          scale_grads(1.0 / static_cast<double>(num_tokens));
          if (clip_grad_norm_) grad_norm = procs_.clip_grad_norm(*optimizer_, *clip_grad_norm_);
          // Before the step: a non-finite norm would write NaN into every weight.
          if (grad_norm)
            nonfinite_->check_value(*grad_norm, "gradient norm", state_.global_step + 1);
          optimizer_->step();
          optimizer_->zero_grad();
        }
        if (scheduler_) scheduler_->step();
        ++state_.global_step;
        // On one process the loss stays on the device: it is read at log steps and saves.
        if (!procs_.sharded()) nonfinite_->observe_loss(running_loss, state_.global_step);
        if (rank0_ && state_.global_step % log_every_ == 0) {
          const double seconds = seconds_since(t0);
          // Values pass through fp32 as torchtune's tensors do, so logs print the same digits.
          training::MetricValues values = {
              {"loss", totals.loss_per_token()},
              {"lr", optimizer_->lr()},
              {"tokens_per_second_per_gpu", static_cast<double>(static_cast<float>(
                                                num_tokens / seconds / procs_.world_size()))}};
          if (grad_norm) values.emplace_back("grad_norm", *grad_norm);
          if (log_peak_memory_) training::append_peak_memory_stats(values, device_);
          // Beyond torchtune: model FLOPs utilisation against this GPU's own dense peak, and
          // the time the step waited for its data.
          // MFU counts every token the model processed (padding and masked prompts included).
          if (peak_flops_)
            values.emplace_back("mfu", processed_tokens / seconds *
                                           modules::flops_per_token(model_->args, seq_len_) /
                                           *peak_flops_);
          values.emplace_back("data_wait_s", data_wait);
          bar.clear();  // the logger may print to the terminal the bar is drawn on
          logger_->log_dict(values, state_.global_step);
          if (!bar.enabled())
            std::cout << epoch + 1 << "|" << state_.global_step << "|Loss: " << values[0].second
                      << "\n";
          if (!procs_.sharded()) nonfinite_->check();  // the loss is on the host already
        }
        if (bar.enabled())
          bar.update(state_.global_step,
                     str(epoch + 1, "|", state_.global_step, "|Loss: ", totals.loss_per_token()));
        data_wait = 0.0;
        processed_tokens = 0;
        running_loss.zero_();
        num_tokens = 0;
        profiler_->step();
        state_.batches_in_epoch = static_cast<int64_t>(idx) + 1;
        const bool epoch_done = (static_cast<int64_t>(idx) + 1) / grad_accum_ == steps_per_epoch_;
        if (totals.stop) {
          bar.close();
          if (rank0_)
            std::cout << "Received " << signal_name() << ": saving a checkpoint and stopping\n";
          save_checkpoint(str("step_", state_.global_step), /*intermediate=*/true);
          if (rank0_)
            std::cout << "Stopped at step " << state_.global_step
                      << "; run again with resume_from_checkpoint=True to continue\n";
          return;
        }
        if (save_every_ && state_.global_step % *save_every_ == 0 && !epoch_done) {
          save_checkpoint(str("step_", state_.global_step), /*intermediate=*/true);
          // A signal that arrived during the save: that checkpoint is the one to resume from.
          if (stop_after_save(bar)) return;
        }
        t0 = std::chrono::steady_clock::now();
      }
      bar.close();
      state_.epochs_run += 1;
      state_.batches_in_epoch = 0;
      const bool intermediate = epoch + 1 < state_.total_epochs;
      if (intermediate && num_tokens > 0 && !warned_carry_ && rank0_) {
        // torchtune carries a partial accumulation window into the next epoch; a checkpoint
        // cannot hold those gradients.
        std::cerr << "WARNING: the epoch's last micro-batches do not fill "
                     "gradient_accumulation_steps ("
                  << grad_accum_
                  << "); as in torchtune they count towards the next epoch's first step, so a run "
                     "resumed from this epoch's checkpoint will not reproduce that step exactly. "
                     "Choose batch_size and gradient_accumulation_steps that divide the dataset, "
                     "or set max_steps_per_epoch.\n";
        warned_carry_ = true;
      }
      save_checkpoint(str("epoch_", epoch), intermediate);
      if (intermediate && stop_after_save(bar)) return;
    }
  }

  void cleanup() {
    profiler_->stop();
    checkpointer_->wait_post_save();
    if (logger_) logger_->close();
    procs_.finish();
  }

 private:
  // The run starts (rank 0): one run per output_dir (a lock that says who holds it), then
  // what killed saves left is cleared, the config saved and the metric logger opened.
  void start_writing() {
    std::vector<std::pair<std::string, std::string>> dirs = {
        {checkpointer_->output_dir(), "output_dir"}};
    if (cfg_.has("output_dir")) dirs.emplace_back(cfg_.get_string("output_dir"), "output_dir");
    locks_ = lock_directories(dirs);
    checkpointer_->clear_interrupted_saves();
    logger_ = instantiate<training::MetricLoggerPtr>(cfg_, "metric_logger", Node::map());
    logger_->log_config(cfg_);
  }

  void setup_model(StateDict* checkpoint) {
    model_ = instantiate<llama2::ModelPtr>(cfg_, "model", Node::map());
    procs_.setup_model(*model_, dtype_, checkpoint, checkpointer_->checkpoint_dir());
    model_->wrapper.checkpointed =
        training::checkpointed_layers(checkpoint_interval_, model_->args.num_layers);
    if (device_.is_cuda()) {
      const std::string gpu = training::cuda_device_name(device_.has_index() ? device_.index() : 0);
      peak_flops_ = training::peak_flops(gpu, dtype_);
      if (!peak_flops_ && rank0_)
        std::cout << "mfu is not logged: no peak FLOP/s is known for " << gpu << " in "
                  << c10::toString(dtype_) << " (training/peak_flops.h)\n";
    }
    if (rank0_ && checkpoint_interval_ > 1)
      std::cout << "Activation checkpointing: "
                << training::describe_checkpointed_layers(model_->wrapper.checkpointed) << "\n";
    model_->wrapper.offload_activations = activation_offloading_;
  }

  void scale_grads(double factor) {
    at::NoGradGuard no_grad;
    for (auto& [name, p] : procs_.parameters())
      if (p.grad().defined()) p.mutable_grad().mul_(factor);
  }

  // torchtune's checks and warnings when taking over a checkpoint's recipe state. On several
  // processes random state is per rank (seed + rank) and nothing in training draws from it,
  // so a single-device file's rng_state is not restored there.
  void update_recipe_state(const PickleValue& st) {
    const std::string where = *checkpointer_->recipe_checkpoint_path();
    training::restore_recipe_state(state_, st, where);
    if (optimizer_in_bwd_ && st.find("global_step") == nullptr &&
        checkpointing::detect_optimizer_layout(st.at("optimizer"), where) ==
            checkpointing::OptimizerLayout::kPerParameter)
      std::cerr << "WARNING: this optimizer_in_bwd state was written by Python torchtune 0.6, "
                   "whose single-device recipe does not divide in-backward gradients by the "
                   "token count; torchtune_cpp does (as for the regular step), so the restored "
                   "moments are on a different scale and the first steps move less than they "
                   "should\n";
    if (procs_.sharded()) return;
    if (const PickleValue* rng = st.find("rng_state"); rng && rng->is_dict()) {
      if (const PickleValue* cpu = rng->find("cpu"))
        restore_rng(at::detail::getDefaultCPUGenerator(), *cpu);
#if defined(TT_WITH_CUDA)
      if (const PickleValue* cuda = rng->find("cuda"); cuda && device_.is_cuda())
        restore_rng(
            at::cuda::detail::getDefaultCUDAGenerator(device_.index() < 0 ? 0 : device_.index()),
            *cuda);
#endif
    }
  }
  static void restore_rng(at::Generator gen, const PickleValue& state) {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state.to_tensor().clone());
  }

  // Never a checkpoint of non-finite weights: the losses since the last check (one process),
  // and the weights themselves (a NaN gradient with a finite loss), are checked first.
  void save_checkpoint(const std::string& folder, bool intermediate) {
    if (!procs_.sharded()) nonfinite_->check();
    std::vector<at::Tensor> tensors;
    for (auto& [key, p] : procs_.parameters()) tensors.push_back(p.detach());
    procs_.everywhere([&] { nonfinite_->check_tensors(tensors, state_.global_step); },
                      "checking its weights before saving " + folder);
    const RecipeStateFn make_recipe_state = [&](PickleValue optimizer) {
      return recipe_state_value(std::move(optimizer));
    };
    procs_.save(*checkpointer_, folder, *optimizer_, intermediate ? &make_recipe_state : nullptr);
    nonfinite_->set_last_checkpoint(checkpointer_->output_dir() + "/" + folder);
  }

  // torchtune's recipe_state.pt keys, with the optimizer in torchtune's layout for this run
  // (torch.optim's own on one process, one state dict per parameter name with
  // optimizer_in_bwd, keyed by parameter name when sharded), then what an exact resume needs
  // beyond them (on one process, the random state).
  PickleValue recipe_state_value(PickleValue optimizer) const {
    using PV = PickleValue;
    if (procs_.sharded())
      return training::recipe_state_dict(state_, batch_size_, std::move(optimizer));
    if (in_backward_) {
      std::vector<std::string> names;
      for (const auto& [key, p] : modules::named_parameters(*model_)) names.push_back(key);
      optimizer = checkpointing::convert_optimizer_state(
          optimizer, checkpointing::OptimizerLayout::kPerParameter, names, "optimizer");
    }
    for (auto& [key, value] : optimizer.dict_items())
      if (key.to_string() == "state")
        for (auto& [i, entry] : value.dict_items())
          for (auto& [k, v] : entry.dict_items()) v = PV(v.to_tensor().cpu());
    PV rng = PV::dict({{"cpu", PV(at::detail::getDefaultCPUGenerator().get_state())}});
#if defined(TT_WITH_CUDA)
    if (device_.is_cuda())
      rng.set(
          "cuda",
          PV(at::cuda::detail::getDefaultCUDAGenerator(device_.index() < 0 ? 0 : device_.index())
                 .get_state()));
#endif
    return training::recipe_state_dict(state_, batch_size_, std::move(optimizer), std::move(rng));
  }

  // After an intermediate save: true (stop now) when SIGTERM/SIGINT arrived meanwhile.
  bool stop_after_save(training::ProgressBar& bar) {
    if (!procs_.any_stop(stop_requested())) return false;
    bar.close();
    if (rank0_)
      std::cout << "Received " << signal_name() << " during the save; stopped at step "
                << state_.global_step
                << "; run again with resume_from_checkpoint=True to continue\n";
    return true;
  }

  // The signal this process received, or that another process did.
  static std::string signal_name() {
    const int sig = g_stop_signal.load();
    return sig != 0 ? str("signal ", sig) : std::string("a stop signal");
  }
  static double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  const char* recipe_;
  const Config& cfg_;
  Processes& procs_;
  at::Device device_;
  bool rank0_ = true;
  at::ScalarType dtype_ = at::kFloat;
  int64_t grad_accum_ = 1, batch_size_ = 1, log_every_ = 1, steps_per_epoch_ = 0;
  bool log_peak_memory_ = false;
  std::optional<double> clip_grad_norm_;
  std::optional<int64_t> save_every_;
  bool optimizer_in_bwd_ = false, activation_offloading_ = false;
  int64_t checkpoint_interval_ = 0;   // training/activation_checkpointing.h
  std::optional<double> peak_flops_;  // MFU's denominator; none on the CPU or an unknown GPU
  bool warned_carry_ = false;
  std::unique_ptr<training::OptimizerInBackward> in_backward_;
  int64_t seq_len_ = 0;
  bool resume_ = false;
  training::RecipeState state_;
  std::vector<std::unique_ptr<DirectoryLock>> locks_;
  std::unique_ptr<training::NonfiniteGuard> nonfinite_;
  training::MetricLoggerPtr logger_;
  checkpointing::CheckpointerPtr checkpointer_;
  llama2::ModelPtr model_;
  llama2::TokenizerPtr tokenizer_;
  training::OptimizerPtr optimizer_;
  training::LRSchedulerPtr scheduler_;
  training::ProfilerPtr profiler_;
  modules::LossSpec loss_;
  data::DatasetPtr dataset_;
};

int run_recipe(const char* recipe, const ProcessesFactory& make_processes, int argc, char** argv) {
  config::RecipeArgs args = config::parse_recipe_args(argc, argv);
  if (args.help) {
    std::cout << config::recipe_usage(recipe);
    return 0;
  }
  register_builtin_components();
  Config cfg = Config::load(args.config_path, args.overrides);
  // Every start-up check, as `tune validate` makes them, before anything is built or written.
  cli::enforce_recipe_config(cfg, recipe);
  ProcessesPtr procs = make_processes(cfg);
  try {
    FullFinetuneRecipe run(recipe, cfg, *procs);
    run.setup();  // joins the other processes first
    run.train();
    run.cleanup();
  } catch (const std::exception& e) {
    // A peer that died surfaces as Gloo's or NCCL's own exception: one clear line instead.
    if (std::optional<Error> clear = procs->explain_failure(e)) throw *clear;
    throw;
  }
  return 0;
}

}  // namespace

int run_full_finetune(const char* recipe, const ProcessesFactory& make_processes, int argc,
                      char** argv) {
  return run_main(
      recipe, [&](int n, char** args) { return run_recipe(recipe, make_processes, n, args); }, argc,
      argv);
}

}  // namespace tt::recipes
