// full_finetune_distributed: full fine-tuning of a Llama2-family model on several processes
// (GPUs, or CPU processes with Gloo), the counterpart of torchtune's
// recipes/full_finetune_distributed.py, reading the same config. Started by `tune run
// --nproc_per_node G [--nnodes N ...]`, torchrun, mpirun or srun (distributed/environment.h).
//
// What differs from full_finetune_single_device:
//   - one process per device (cuda:LOCAL_RANK, or the CPU), joined in a c10d process group
//     (NCCL / Gloo); process_group_timeout_seconds bounds every collective, so a dead rank
//     stops the others instead of hanging them
//   - the model is built on the meta device and fully sharded (distributed/fully_shard.h):
//     parameters, gradients and optimizer state are 1/W per rank; fsdp_reshard_after_forward
//     and fsdp_cpu_offload as in torchtune
//   - each rank reads its slice of every batch (DistributedSampler), token counts and losses
//     are summed over ranks: the run computes what one process would with W times the batch
//   - every rank loads the checkpoint and keeps its slices; rank 0 writes the checkpoints,
//     gathered unit by unit, in the input's format, with the optimizer state in torchtune's
//     distributed layout (keyed by parameter name); resuming works from any rank count
//   - SIGTERM / SIGINT on any rank: all ranks agree at the next step boundary, save, stop
//   - an error on one rank (a full disk, a busy output_dir, a NaN loss, a lost peer) stops
//     every rank together, each with one line; rank 0 holds the output_dir lock
//   - the seed of rank r is seed + r, as torchtune; rank 0 logs
//
//   tune run --nproc_per_node 8 full_finetune_distributed --config llama2/7B_full [key=value ...]
#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <random>


// ---- configuration and components
#include "torchtune_cpp/cli/recipe_registry.h"
#include "torchtune_cpp/components.h"
#include "torchtune_cpp/config/config.h"
#include "torchtune_cpp/config/parse.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/config/validate.h"
// ---- model, data, training
#include "torchtune_cpp/checkpointing/checkpointer.h"
#include "torchtune_cpp/checkpointing/optimizer_state.h"
#include "torchtune_cpp/data/batch.h"
#include "torchtune_cpp/data/builders.h"
#include "torchtune_cpp/data/sampler.h"
#include "torchtune_cpp/data/sft.h"
#include "torchtune_cpp/distributed/environment.h"
#include "torchtune_cpp/distributed/fully_shard.h"
#include "torchtune_cpp/distributed/process_group.h"
#include "torchtune_cpp/distributed/sharded_checkpoint.h"
#include "torchtune_cpp/models/llama2/model_builders.h"
#include "torchtune_cpp/models/llama2/tokenizer.h"
#include "torchtune_cpp/modules/loss.h"
#include "torchtune_cpp/modules/transformer.h"
#include "torchtune_cpp/training/device.h"
#include "torchtune_cpp/training/lr_schedulers.h"
#include "torchtune_cpp/training/metric_logging.h"
#include "torchtune_cpp/training/nonfinite.h"
#include "torchtune_cpp/training/optimizer.h"
#include "torchtune_cpp/training/memory_stats.h"
#include "torchtune_cpp/training/precision.h"
#include "torchtune_cpp/training/recipe_state.h"
#include "torchtune_cpp/training/progress_bar.h"
#include "torchtune_cpp/training/profiler.h"
#include "torchtune_cpp/utils/check.h"
#include "torchtune_cpp/utils/file_lock.h"

namespace {

using tt::config::Config;
using tt::config::Node;
using tt::config::instantiate;

constexpr const char* kRecipe = "full_finetune_distributed";
// The MFU denominator: H100 SXM dense bf16 tensor-core peak (as benchmarks/harness.h).
constexpr double kPeakFlops = 989e12;

// Set by SIGTERM/SIGINT; the loop saves and stops at the next optimizer step.
std::atomic<int> g_stop_signal{0};
void on_stop_signal(int sig) {
  if (g_stop_signal.exchange(sig) != 0) {  // a second signal: stop now
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
}

Node call_kwargs(std::initializer_list<std::pair<const char*, std::string>> kv) {
  Node n = Node::map();
  for (const auto& [k, v] : kv) n.set(k, Node::scalar(v));
  return n;
}

class FullFinetuneRecipeDistributed {
 public:
  // Reads the config; every value was checked by enforce_recipe_config (the declarations in
  // cli/recipe_registry.cpp, shared with `tune validate`) before this runs.
  explicit FullFinetuneRecipeDistributed(const Config& cfg)
      : cfg_(cfg), env_(tt::distributed::read_distributed_env()), device_(at::kCPU) {
    const std::string device = cfg.get_string("device");
    // One GPU per process, as torchtune's set_device.
    device_ = device == "cuda" ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(env_.local_rank))
                               : at::Device(at::kCPU);
    const int64_t gpus = tt::visible_cuda_devices();
    TT_CHECK(device == "cpu" || env_.local_rank < gpus, cfg.where("device"), "process ", env_.rank,
             " (LOCAL_RANK ", env_.local_rank, ") needs cuda:", env_.local_rank, " but ", gpus,
             " CUDA device(s) are visible; start at most one process per GPU (--nproc_per_node), or use device=cpu");
    dtype_ = tt::training_dtype(cfg.has("dtype") ? std::optional<std::string>(cfg.get_string("dtype"))
                                                 : std::nullopt,
                                device_, cfg.where("dtype"));
    resume_ = cfg.get_bool("resume_from_checkpoint");
    if (cfg.get_bool_or("enable_async_checkpointing", false))
      std::cerr << "WARNING: enable_async_checkpointing has no effect in torchtune_cpp; checkpoints are written "
                   "synchronously by rank 0\n";
    shard_options_.reshard_after_forward = cfg.get_bool_or("fsdp_reshard_after_forward", true);
    shard_options_.cpu_offload = cfg.get_bool_or("fsdp_cpu_offload", false);
    pg_options_.timeout = std::chrono::seconds(cfg.get_int_or("process_group_timeout_seconds", 600));
    sharded_checkpoints_ = cfg.get_bool_or("sharded_checkpoints", false);
    activation_checkpointing_ = cfg.get_bool_or("enable_activation_checkpointing", false);
    activation_offloading_ = cfg.get_bool_or("enable_activation_offloading", false);
    if (cfg.get_bool_or("compile", false)) std::cout << "compile: True has no effect in torchtune_cpp\n";
    grad_accum_ = cfg.get_int("gradient_accumulation_steps");
    batch_size_ = cfg.get_int("batch_size");
    log_every_ = cfg.get_int_or("log_every_n_steps", 1);
    log_peak_memory_ = cfg.get_bool_or("log_peak_memory_stats", false);
    clip_grad_norm_ = cfg.get_optional_double("clip_grad_norm");
    save_every_ = cfg.get_optional_int("save_every_n_steps");
    state_.total_epochs = cfg.get_int("epochs");
    state_.max_steps_per_epoch = cfg.get_optional_int("max_steps_per_epoch");
    // A null seed is drawn at random, as torchtune does (rank 0's, below), and recorded.
    state_.seed = cfg.has("seed") ? cfg.get_int("seed") : static_cast<int64_t>(std::random_device{}() >> 1);
  }

  // Joins the process group; before setup so that every later step can agree across ranks.
  bool is_rank_zero() const { return rank0_; }
  int64_t rank() const { return env_.rank; }

  void init_distributed() {
    pg_ = std::make_shared<tt::distributed::ProcessGroup>(env_, device_, pg_options_);
    rank0_ = pg_->rank() == 0;
    if (!cfg_.has("seed")) state_.seed = static_cast<int64_t>(pg_->sum(rank0_ ? static_cast<double>(state_.seed) : 0.0));
    if (rank0_)
      std::cout << "Distributed: " << pg_->world_size() << " processes (" << pg_->backend_name() << ", launched by "
                << env_.launcher << "), " << device_.str() << " on rank 0\n";
  }

  void setup() {
    // torchtune's per-rank seed: seed + rank.
    at::manual_seed(static_cast<uint64_t>(state_.seed + pg_->rank()));
    // Nothing is written to output_dir until every piece below is loaded and checked
    // (start_writing()): a run that fails to start leaves the folder as it was.
    tokenizer_ = instantiate<tt::llama2::TokenizerPtr>(cfg_, "tokenizer", Node::map());
    dataset_ = tt::data::instantiate_dataset(cfg_, tokenizer_);
    // Rank 0 first: resuming, its checkpointer puts back what an interrupted save left.
    auto make_checkpointer = [&] {
      checkpointer_ = instantiate<tt::CheckpointerPtr>(
          cfg_, "checkpointer", call_kwargs({{"should_load_recipe_state", resume_ ? "True" : "False"}}));
    };
    pg_->all_succeed([&] { rank0_ ? make_checkpointer() : void(); }, "setting up the checkpointer");
    if (!rank0_) make_checkpointer();
    // A sharded checkpoint (sharded_checkpoints) is read shard by shard, whatever rank count
    // wrote it; a full one is read by every rank (memory-mapped where the format allows),
    // each keeping its slices.
    const std::optional<std::string>& folder = checkpointer_->resume_folder();
    const bool sharded_resume = resume_ && folder && tt::is_sharded_checkpoint(*folder);
    tt::CheckpointDict ckpt;
    if (sharded_resume)
      ckpt.recipe_state = tt::load_torch_file(*checkpointer_->recipe_checkpoint_path());
    else
      ckpt = checkpointer_->load_checkpoint();
    if (!sharded_resume) tt::check_weights(ckpt.model, resume_ && folder ? *folder : checkpointer_->checkpoint_dir());
    if (resume_) update_recipe_state(*ckpt.recipe_state);
    setup_model(sharded_resume ? nullptr : &ckpt.model);
    // Every sample's token ids against the model's vocabulary, as it is read (data/builders.h).
    dataset_ = tt::data::check_token_ids(
        dataset_, model_->args.vocab_size,
        cfg_.where(cfg_.has("model.vocab_size") ? "model.vocab_size" : "model"));
    optimizer_ = instantiate<tt::OptimizerPtr, tt::StateDict>(cfg_, "optimizer", Node::map(),
                                                              sharded_->sharded_parameters());
    TT_CHECK(optimizer_->options().state_bits == 32, cfg_.where("optimizer"),
             "8-bit optimizer state is not supported by the distributed recipe; use torch.optim.AdamW or "
             "bitsandbytes.optim.PagedAdamW");
    if (resume_) {
      // Any of torchtune's layouts (single device, distributed, in-backward) is accepted.
      const std::string where = *checkpointer_->recipe_checkpoint_path();
      tt::NamedOptimizerState full =
          tt::to_named_optimizer_state(ckpt.recipe_state->at("optimizer"), param_names(), where);
      tt::NamedOptimizerState mine;
      if (sharded_resume) {
        tt::distributed::ShardedCheckpoint read = tt::distributed::read_sharded_checkpoint(*sharded_, *folder, full.group);
        checkpointer_->set_output_layout(read.layout);
        mine = std::move(read.optimizer);
      } else {
        mine = sharded_->shard_optimizer_state(full, where);
      }
      optimizer_->load_state_dict(
          tt::from_named_optimizer_state(mine, tt::OptimizerLayout::kIndexed, sharded_->unit_names()), where);
    }
    ckpt.recipe_state.reset();
    loss_ = instantiate<tt::LossSpec>(cfg_, "loss", Node::map());
    // Each rank's share of the samples (DistributedSampler pads to a multiple of the ranks).
    const int64_t per_rank = (static_cast<int64_t>(dataset_->size()) + pg_->world_size() - 1) / pg_->world_size();
    const int64_t batches = per_rank / batch_size_;
    steps_per_epoch_ = batches / grad_accum_;
    if (state_.max_steps_per_epoch && *state_.max_steps_per_epoch < steps_per_epoch_)
      steps_per_epoch_ = *state_.max_steps_per_epoch;
    if (resume_) tt::check_resume_position(state_, batches, grad_accum_, *checkpointer_->recipe_checkpoint_path());
    // torchtune's recipe_state.pt has no step count: it is implied by whole epochs.
    if (resume_ && !state_.has_global_step) state_.global_step = state_.epochs_run * steps_per_epoch_;
    if (resume_ && rank0_)
      std::cout << "Resuming from " << *checkpointer_->resume_folder() << " at epoch " << state_.epochs_run + 1
                << ", global step " << state_.global_step << ", micro-batch " << state_.batches_in_epoch << "\n";
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
    // Rank 0 profiles (its trace stands for every rank: they run the same steps).
    profiler_ = cfg_.has("profiler") && rank0_ ? instantiate<tt::ProfilerPtr>(cfg_, "profiler", Node::map())
                                               : std::make_shared<tt::Profiler>(tt::ProfilerOptions{});
    nonfinite_ = std::make_unique<tt::NonfiniteGuard>(cfg_.get_bool_or("stop_on_nonfinite_loss", true), device_);
    nonfinite_->set_rank(pg_->rank());
    if (resume_) nonfinite_->set_last_checkpoint(*checkpointer_->resume_folder());
    if (rank0_)
      std::cout << "Model has " << tt::num_parameters(*model_) << " parameters, sharded over " << pg_->world_size()
                << " ranks; " << dataset_->size() << " samples, " << steps_per_epoch_ << " optimizer steps per epoch\n";
    // The others wait for rank 0, and stop with it if output_dir is taken.
    pg_->all_succeed([&] { rank0_ ? start_writing() : void(); }, "taking the output_dir lock");
  }

  // The run starts (rank 0): one run per output_dir (a lock that says who holds it), then
  // what killed saves left is cleared, the config saved and the metric logger opened.
  void start_writing() {
    std::vector<std::pair<std::string, std::string>> dirs = {{checkpointer_->output_dir(), "output_dir"}};
    if (cfg_.has("output_dir")) dirs.emplace_back(cfg_.get_string("output_dir"), "output_dir");
    locks_ = tt::lock_directories(dirs);
    checkpointer_->clear_interrupted_saves();
    logger_ = instantiate<tt::MetricLoggerPtr>(cfg_, "metric_logger", Node::map());
    logger_->log_config(cfg_);
  }

  void train() {
    at::Tensor running_loss = at::zeros({}, at::TensorOptions().device(device_).dtype(at::kFloat));
    int64_t num_tokens = 0;
    auto t0 = std::chrono::steady_clock::now();
    std::signal(SIGTERM, on_stop_signal);
    std::signal(SIGINT, on_stop_signal);
    double data_wait = 0.0;
    int64_t processed_tokens = 0;
    tt::ProgressBar bar(rank0_ ? state_.total_epochs * steps_per_epoch_ : 0, state_.global_step);
    for (int64_t epoch = state_.epochs_run; epoch < state_.total_epochs; ++epoch) {
      // torchtune's DistributedSampler: seed 0, reshuffled by epoch, every W-th sample from this rank.
      auto order = tt::data::distributed_sampler_indices(
          dataset_->size(), epoch, {pg_->world_size(), pg_->rank(), cfg_.get_bool("shuffle"), 0, false});
      auto batches = tt::data::batch_indices(order, batch_size_);
      // The epoch's micro-batches, up to max_steps_per_epoch optimizer steps; a resumed run
      // starts where the checkpoint was taken, without touching earlier samples. The next
      // one is read, tokenized and collated on a worker thread while the current one trains.
      size_t end = batches.size();
      if (state_.max_steps_per_epoch)
        end = std::min(end, static_cast<size_t>(*state_.max_steps_per_epoch * grad_accum_));
      const size_t first = static_cast<size_t>(state_.batches_in_epoch);
      tt::data::BatchPrefetcher loader(*dataset_, std::move(batches), first, end, tokenizer_->pad_id(),
                                       tt::kIgnoreIndex);
      for (size_t idx = first; idx < end; ++idx) {
        auto data_start = std::chrono::steady_clock::now();
        tt::data::Batch cpu_batch = loader.next();
        auto [tokens, labels, input_pos, mask] = tt::data::to_device(std::move(cpu_batch), device_);
        data_wait += std::chrono::duration<double>(std::chrono::steady_clock::now() - data_start).count();
        seq_len_ = tokens.size(1);
        processed_tokens += tokens.numel();
        // Tokens counted on the unshifted labels, as torchtune counts them.
        const int64_t n = (labels != tt::kIgnoreIndex).sum().item<int64_t>();
        num_tokens += n;
        at::Tensor loss = tt::compute_loss(*model_, loss_, {tokens, mask, input_pos},
                                           tt::data::shift_labels(labels, tt::kIgnoreIndex));
        at::Tensor current = loss * n;
        running_loss += current.detach();
        current.backward();
        // The profiler steps after every micro-batch, as in torchtune's single-device recipe.
        if ((static_cast<int64_t>(idx) + 1) % grad_accum_ != 0) {
          profiler_->step();
          continue;
        }

        // Gradients are summed over ranks by the reduce-scatters; the loss and token count
        // are summed here, with whether any rank was asked to stop, in one collective.
        sharded_->finish_backward();
        at::Tensor totals = at::stack({running_loss.to(at::kDouble).reshape({}),
                                       at::scalar_tensor(static_cast<double>(num_tokens), at::kDouble).to(device_),
                                       at::scalar_tensor(g_stop_signal.load() != 0 ? 1.0 : 0.0, at::kDouble).to(device_)});
        pg_->all_reduce(totals);
        totals = totals.cpu();
        const double global_loss = totals[0].item<double>();
        num_tokens = static_cast<int64_t>(totals[1].item<double>());
        const bool stop = totals[2].item<double>() > 0;
        // The summed loss is NaN or Inf when any rank's is: every rank stops here together,
        // before the step would write it into the weights.
        nonfinite_->check_value(global_loss, "loss", state_.global_step + 1);
        std::optional<double> grad_norm;
        scale_grads(1.0 / static_cast<double>(num_tokens));
        if (clip_grad_norm_) grad_norm = sharded_->clip_grad_norm(*clip_grad_norm_);
        if (grad_norm) nonfinite_->check_value(*grad_norm, "gradient norm", state_.global_step + 1);
        optimizer_->step();
        optimizer_->zero_grad();
        if (scheduler_) scheduler_->step();
        ++state_.global_step;
        if (rank0_ && state_.global_step % log_every_ == 0) {
          double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          // Values pass through fp32 as torchtune's tensors do, so logs print the same digits.
          tt::MetricValues values = {
              {"loss", static_cast<double>(static_cast<float>(global_loss / num_tokens))},
              {"lr", optimizer_->lr()},
              {"tokens_per_second_per_gpu",
               static_cast<double>(static_cast<float>(num_tokens / seconds / pg_->world_size()))}};
          if (grad_norm) values.emplace_back("grad_norm", *grad_norm);
          if (log_peak_memory_) tt::append_peak_memory_stats(values, device_);
          // Beyond torchtune: model FLOPs utilisation against the H100's dense bf16 peak, and
          // the time the step waited for its data.
          // MFU counts every token the model processed (padding and masked prompts included).
          if (device_.is_cuda())
            values.emplace_back("mfu", processed_tokens / seconds * tt::flops_per_token(model_->args, seq_len_) /
                                           kPeakFlops);
          values.emplace_back("data_wait_s", data_wait);
          bar.clear();  // the logger may print to the terminal the bar is drawn on
          logger_->log_dict(values, state_.global_step);
          if (!bar.enabled())
            std::cout << epoch + 1 << "|" << state_.global_step << "|Loss: " << values[0].second << "\n";
        }
        if (bar.enabled())
          bar.update(state_.global_step, tt::str(epoch + 1, "|", state_.global_step, "|Loss: ",
                                                  global_loss / num_tokens));
        data_wait = 0.0;
        processed_tokens = 0;
        running_loss.zero_();
        num_tokens = 0;
        profiler_->step();
        state_.batches_in_epoch = static_cast<int64_t>(idx) + 1;
        const bool epoch_done = (static_cast<int64_t>(idx) + 1) / grad_accum_ == steps_per_epoch_;
        if (stop) {
          bar.close();
          if (rank0_) std::cout << "Received a stop signal: saving a checkpoint and stopping\n";
          save_checkpoint(tt::str("step_", state_.global_step), /*intermediate=*/true);
          if (rank0_)
            std::cout << "Stopped at step " << state_.global_step
                      << "; run again with resume_from_checkpoint=True to continue\n";
          return;
        }
        if (save_every_ && state_.global_step % *save_every_ == 0 && !epoch_done) {
          save_checkpoint(tt::str("step_", state_.global_step), /*intermediate=*/true);
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
        std::cerr << "WARNING: the epoch's last micro-batches do not fill gradient_accumulation_steps ("
                  << grad_accum_ << "); as in torchtune they count towards the next epoch's first step, "
                  << "so a run resumed from this epoch's checkpoint will not reproduce that step exactly. "
                  << "Choose batch_size and gradient_accumulation_steps that divide the dataset, or set "
                  << "max_steps_per_epoch.\n";
        warned_carry_ = true;
      }
      save_checkpoint(tt::str("epoch_", epoch), intermediate);
      if (intermediate && stop_after_save(bar)) return;
    }
  }

  // After an intermediate save: true (stop now) when SIGTERM/SIGINT arrived meanwhile.
  bool stop_after_save(tt::ProgressBar& bar) {
    if (pg_->max(g_stop_signal.load() != 0 ? 1 : 0) == 0) return false;
    bar.close();
    if (rank0_)
      std::cout << "Received a stop signal during the save; stopped at step " << state_.global_step
                << "; run again with resume_from_checkpoint=True to continue\n";
    return true;
  }

  void cleanup() {
    profiler_->stop();
    checkpointer_->wait_post_save();
    if (logger_) logger_->close();
    pg_->finish();
  }

 private:
  // The model is built on the meta device and sharded: no rank ever holds it whole.
  // `checkpoint`: a full state dict, or null when the weights come from a sharded checkpoint.
  void setup_model(tt::StateDict* checkpoint) {
    model_ = instantiate<tt::llama2::ModelPtr>(cfg_, "model", Node::map());
    sharded_ = tt::distributed::fully_shard(*model_, pg_, device_, dtype_, shard_options_);
    // Strict (torchtune's load_state_dict); checkpoint tensors are released as they are copied.
    if (checkpoint) sharded_->load_full_state_dict(std::move(*checkpoint), checkpointer_->checkpoint_dir());
    model_->wrapper.activation_checkpointing = activation_checkpointing_;
    model_->wrapper.offload_activations = activation_offloading_;
  }

  void scale_grads(double factor) {
    at::NoGradGuard no_grad;
    for (auto& [name, p] : sharded_->sharded_parameters())
      if (p.grad().defined()) p.mutable_grad().mul_(factor);
  }

  // torchtune's checks and warnings when taking over a checkpoint's recipe state.
  // Random state is per rank (seed + rank) and nothing in training draws from it, so a
  // single-device file's rng_state is not restored here.
  void update_recipe_state(const tt::PickleValue& st) {
    tt::restore_recipe_state(state_, st, *checkpointer_->recipe_checkpoint_path());
  }

  std::vector<std::string> param_names() const {
    std::vector<std::string> names;
    for (const auto& [key, p] : tt::named_parameters(*model_)) names.push_back(key);
    return names;
  }

  // Every rank gathers (collectives), rank 0 writes; the others wait for the folder to be in
  // place, so a save is complete everywhere before training goes on.
  // With sharded_checkpoints, intermediate checkpoints are written by every rank at once,
  // its own shard, into the folder rank 0's checkpointer is assembling (the final one stays
  // full, in the input's format).
  // A failure on any rank (a full disk, non-finite weights) stops every rank, each with one
  // line, and leaves no part of the folder behind.
  void save_checkpoint(const std::string& folder, bool intermediate) {
    std::vector<at::Tensor> shards;
    for (auto& [name, p] : sharded_->sharded_parameters()) shards.push_back(p.detach());
    pg_->all_succeed([&] { nonfinite_->check_tensors(shards, state_.global_step); },
                     "checking its weights before saving " + folder);
    if (intermediate && sharded_checkpoints_) {
      const tt::NamedOptimizerState mine =
          tt::to_named_optimizer_state(optimizer_->state_dict(), sharded_->unit_names(), "optimizer");
      // What every rank writes, about: its shard of the weights and of the optimizer state.
      uint64_t shard_bytes = 0;
      for (const at::Tensor& t : shards) shard_bytes += static_cast<uint64_t>(t.numel()) * t.element_size();
      for (const auto& [name, state] : mine.state) shard_bytes += tt::tensor_bytes(state);
      std::string staging;
      auto begin = [&] {
        if (!rank0_) return;
        tt::NamedOptimizerState group_only;
        group_only.group = mine.group;
        tt::PickleValue recipe_state = recipe_state_value(
            tt::from_named_optimizer_state(group_only, tt::OptimizerLayout::kNamed, param_names()));
        staging = checkpointer_->begin_save(folder, &recipe_state, shard_bytes * pg_->world_size());
      };
      pg_->all_succeed(begin, "preparing " + folder);
      const std::string dir = pg_->broadcast_string(staging, 0);
      auto write = [&] { tt::distributed::write_sharded_checkpoint(*sharded_, mine, checkpointer_->output_layout(), dir); };
      auto finish = [&] {
        if (rank0_) checkpointer_->finish_save();
      };
      try {
        // Every shard is on disk before rank 0 completes the folder.
        pg_->all_succeed(write, "writing its shard of " + folder);
        pg_->all_succeed(finish, "saving " + folder);
      } catch (...) {
        if (rank0_) checkpointer_->abandon_save();
        throw;
      }
    } else {
      tt::StateDict weights = sharded_->gather_full_state_dict();
      std::optional<tt::PickleValue> recipe_state;
      if (intermediate) recipe_state = recipe_state_value(full_optimizer_state());
      auto save = [&] {
        if (rank0_) checkpointer_->save_folder(weights, folder, recipe_state ? &*recipe_state : nullptr);
      };
      pg_->all_succeed(save, "saving " + folder);
    }
    nonfinite_->set_last_checkpoint(checkpointer_->output_dir() + "/" + folder);
  }

  // The full optimizer state in torchtune's distributed layout on rank 0 (every rank gathers).
  tt::PickleValue full_optimizer_state() {
    tt::NamedOptimizerState sharded =
        tt::to_named_optimizer_state(optimizer_->state_dict(), sharded_->unit_names(), "optimizer");
    tt::NamedOptimizerState full = sharded_->gather_optimizer_state(sharded);
    if (!rank0_) return tt::PickleValue::none();
    return tt::from_named_optimizer_state(full, tt::OptimizerLayout::kNamed, param_names());
  }

  // torchtune's recipe_state.pt keys, with the optimizer in torchtune's distributed layout
  // (full tensors keyed by parameter name), then what an exact resume needs beyond them.
  tt::PickleValue recipe_state_value(tt::PickleValue optimizer) const {
    return rank0_ ? tt::recipe_state_dict(state_, batch_size_, std::move(optimizer)) : tt::PickleValue::none();
  }

  const Config& cfg_;
  tt::distributed::DistributedEnv env_;
  tt::distributed::ProcessGroupOptions pg_options_;
  tt::distributed::FullyShardOptions shard_options_;
  tt::distributed::ProcessGroupPtr pg_;
  tt::distributed::FullyShardedDecoderPtr sharded_;
  bool rank0_ = true;
  at::Device device_;
  at::ScalarType dtype_ = at::kFloat;
  int64_t grad_accum_ = 1, batch_size_ = 1, log_every_ = 1, steps_per_epoch_ = 0;
  bool log_peak_memory_ = false;
  std::optional<double> clip_grad_norm_;
  std::optional<int64_t> save_every_;
  bool activation_checkpointing_ = false, activation_offloading_ = false, sharded_checkpoints_ = false;
  bool warned_carry_ = false;
  int64_t seq_len_ = 0;
  bool resume_ = false;
  tt::RecipeState state_;
  std::vector<std::unique_ptr<tt::DirectoryLock>> locks_;
  std::unique_ptr<tt::NonfiniteGuard> nonfinite_;
  tt::MetricLoggerPtr logger_;
  tt::CheckpointerPtr checkpointer_;
  tt::llama2::ModelPtr model_;
  tt::llama2::TokenizerPtr tokenizer_;
  tt::OptimizerPtr optimizer_;
  tt::LRSchedulerPtr scheduler_;
  tt::ProfilerPtr profiler_;
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
  // Every start-up check, as `tune validate` makes them, before anything is built or written.
  tt::cli::enforce_recipe_config(cfg, kRecipe);
  FullFinetuneRecipeDistributed recipe(cfg);
  try {
    recipe.init_distributed();
    if (recipe.is_rank_zero()) std::cout << tt::config::describe_resolved(cfg, kRecipe);
    recipe.setup();
    recipe.train();
    recipe.cleanup();
  } catch (const std::exception& e) {
    // A peer that died surfaces as Gloo's or NCCL's own exception: one clear line instead.
    if (std::optional<tt::Error> clear = tt::distributed::collective_failure(e, recipe.rank())) throw *clear;
    throw;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return tt::run_main(kRecipe, recipe_main, argc, argv); }
