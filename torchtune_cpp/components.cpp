// The component table: each library folder's register function, plus torchtune's
// components that have no counterpart here.
#include "torchtune_cpp/components.h"

#include <mutex>
#include <string>
#include <vector>

#include "torchtune_cpp/checkpointing/checkpointer.h"
#include "torchtune_cpp/config/registry.h"
#include "torchtune_cpp/data/builders.h"
#include "torchtune_cpp/models/llama2/model_builders.h"
#include "torchtune_cpp/models/llama2/tokenizer.h"
#include "torchtune_cpp/modules/loss.h"
#include "torchtune_cpp/training/lr_schedulers.h"
#include "torchtune_cpp/training/metric_logging.h"
#include "torchtune_cpp/training/optimizer.h"
#include "torchtune_cpp/training/profiler.h"
#include "torchtune_cpp/utils/check.h"

namespace tt {

namespace {

// torchtune 0.6.1's model builders and tokenizers by family (torchtune.models.<family>.*).
struct Family {
  const char* family;
  std::vector<const char*> builders;
  std::vector<const char*> tokenizers;
};

std::vector<Family> torchtune_model_families() {
  return {
      {"llama2",
       {"llama2_reward_7b", "lora_llama2_reward_7b", "qlora_llama2_reward_7b", "llama2_classifier",
        "lora_llama2_classifier"},
       {}},
      {"code_llama2",
       {"code_llama2_7b", "code_llama2_13b", "code_llama2_70b", "lora_code_llama2_7b",
        "lora_code_llama2_13b", "lora_code_llama2_70b", "qlora_code_llama2_7b",
        "qlora_code_llama2_13b", "qlora_code_llama2_70b"},
       {}},
      {"llama3",
       {"llama3", "llama3_8b", "llama3_70b", "lora_llama3", "lora_llama3_8b", "lora_llama3_70b",
        "qlora_llama3_8b", "qlora_llama3_70b"},
       {"llama3_tokenizer"}},
      {"llama3_1",
       {"llama3_1", "llama3_1_8b", "llama3_1_70b", "llama3_1_405b", "lora_llama3_1",
        "lora_llama3_1_8b", "lora_llama3_1_70b", "lora_llama3_1_405b", "qlora_llama3_1_8b",
        "qlora_llama3_1_70b", "qlora_llama3_1_405b"},
       {}},
      {"llama3_2",
       {"llama3_2", "llama3_2_1b", "llama3_2_3b", "lora_llama3_2", "lora_llama3_2_1b",
        "lora_llama3_2_3b", "qlora_llama3_2_1b", "qlora_llama3_2_3b"},
       {}},
      {"llama3_3", {"llama3_3_70b", "lora_llama3_3_70b", "qlora_llama3_3_70b"}, {}},
      {"llama3_2_vision",
       {"llama3_2_vision_11b", "llama3_2_vision_90b", "lora_llama3_2_vision_11b",
        "lora_llama3_2_vision_90b", "qlora_llama3_2_vision_11b", "qlora_llama3_2_vision_90b"},
       {"llama3_2_vision_transform"}},
      {"mistral",
       {"mistral", "mistral_7b", "lora_mistral", "lora_mistral_7b", "qlora_mistral_7b",
        "mistral_reward_7b", "lora_mistral_reward_7b", "qlora_mistral_reward_7b",
        "mistral_classifier", "lora_mistral_classifier"},
       {"mistral_tokenizer"}},
      {"gemma",
       {"gemma", "gemma_2b", "gemma_7b", "lora_gemma", "lora_gemma_2b", "lora_gemma_7b",
        "qlora_gemma_2b", "qlora_gemma_7b"},
       {"gemma_tokenizer"}},
      {"gemma2",
       {"gemma2", "gemma2_2b", "gemma2_9b", "gemma2_27b", "lora_gemma2", "lora_gemma2_2b",
        "lora_gemma2_9b", "lora_gemma2_27b", "qlora_gemma2_2b", "qlora_gemma2_9b",
        "qlora_gemma2_27b"},
       {}},
      {"phi3",
       {"phi3", "phi3_mini", "lora_phi3", "lora_phi3_mini", "qlora_phi3_mini"},
       {"phi3_mini_tokenizer"}},
      {"phi4", {"phi4_14b", "lora_phi4_14b", "qlora_phi4_14b"}, {"phi4_tokenizer"}},
      {"qwen2",
       {"qwen2", "qwen2_0_5b", "qwen2_1_5b", "qwen2_7b", "lora_qwen2", "lora_qwen2_0_5b",
        "lora_qwen2_1_5b", "lora_qwen2_7b"},
       {"qwen2_tokenizer"}},
      {"qwen2_5",
       {"qwen2_5_0_5b",
        "qwen2_5_1_5b_base",
        "qwen2_5_1_5b_instruct",
        "qwen2_5_3b",
        "qwen2_5_7b_base",
        "qwen2_5_7b_instruct",
        "qwen2_5_14b_base",
        "qwen2_5_14b_instruct",
        "qwen2_5_32b_base",
        "qwen2_5_32b_instruct",
        "qwen2_5_72b_base",
        "qwen2_5_72b_instruct",
        "lora_qwen2_5_0_5b",
        "lora_qwen2_5_1_5b_base",
        "lora_qwen2_5_1_5b_instruct",
        "lora_qwen2_5_3b",
        "lora_qwen2_5_7b_base",
        "lora_qwen2_5_7b_instruct",
        "lora_qwen2_5_14b_base",
        "lora_qwen2_5_14b_instruct",
        "lora_qwen2_5_32b_base",
        "lora_qwen2_5_32b_instruct",
        "lora_qwen2_5_72b_base",
        "lora_qwen2_5_72b_instruct"},
       {"qwen2_5_tokenizer"}},
  };
}

// torchtune's components with no counterpart here, by kind, with what to use instead; the
// message also lists the registered components of that kind.
void register_unsupported_torchtune_components() {
  using config::register_unsupported;
  const char* kLogRoute =
      "Use torchtune.training.metric_logging.TensorBoardLogger (or DiskLogger) and upload with "
      "checkpointer.post_save_command, which runs after every save.";
  for (const char* name : {"torchtune.training.metric_logging.WandBLogger",
                           "torchtune.training.metric_logging.CometLogger",
                           "torchtune.training.metric_logging.MLFlowLogger",
                           "torchtune.utils.metric_logging.WandBLogger"})
    register_unsupported(name, kLogRoute, "metric_logger");
  const char* kLora =
      "torchtune_cpp runs full fine-tuning only; use the full model builder (e.g. "
      "torchtune.models.llama2.llama2_7b) with the full_finetune recipes.";
  for (const char* name :
       {"torchtune.models.llama2.lora_llama2", "torchtune.models.llama2.lora_llama2_7b",
        "torchtune.models.llama2.lora_llama2_13b", "torchtune.models.llama2.lora_llama2_70b",
        "torchtune.models.llama2.qlora_llama2_7b", "torchtune.models.llama2.qlora_llama2_13b",
        "torchtune.models.llama2.qlora_llama2_70b"})
    register_unsupported(name, kLora, "model");
  const char* kFamily =
      "torchtune_cpp builds Llama2-family decoders (torchtune.models.llama2.llama2 takes any size) "
      "and "
      "converts LLAMA2 checkpoints.";
  for (const Family& f : torchtune_model_families()) {
    for (const char* b : f.builders) {
      const std::string name = str("torchtune.models.", f.family, ".", b);
      const bool adapter = std::string(b).find("lora_") != std::string::npos;
      register_unsupported(name, adapter ? kLora : kFamily, "model");
    }
    for (const char* t : f.tokenizers)
      register_unsupported(str("torchtune.models.", f.family, ".", t),
                           "torchtune_cpp tokenizes with Llama2's SentencePiece tokenizer.",
                           "tokenizer");
  }
  register_unsupported("torchtune.training.FullModelDCPCheckpointer",
                       "Use torchtune.training.FullModelHFCheckpointer, FullModelMetaCheckpointer "
                       "or FullModelTorchTuneCheckpointer.",
                       "checkpointer");
  register_unsupported(
      "torchtune.training.DistributedCheckpointer",
      "Checkpoints are written synchronously (sharded_checkpoints: True writes per-rank shards).",
      "checkpointer");
  const char* kData =
      "Save the data as JSON, JSON Lines or CSV and read it with one of the datasets below "
      "(source: json, "
      "data_files: <file>).";
  for (const char* name :
       {"grammar_dataset", "samsum_dataset", "slimorca_dataset", "stack_exchange_paired_dataset",
        "cnn_dailymail_articles_dataset", "hh_rlhf_helpful_dataset", "wikitext_dataset",
        "preference_dataset", "multimodal.llava_instruct_dataset",
        "multimodal.multimodal_chat_dataset", "multimodal.vqa_dataset"})
    register_unsupported(str("torchtune.datasets.", name), kData, "dataset");
  register_unsupported("torchtune.datasets.multimodal.the_cauldron_dataset",
                       "torchtune_cpp trains text-only Llama2 models; use a text dataset such as "
                       "torchtune.datasets.alpaca_dataset or instruct_dataset.",
                       "dataset");
  for (const char* name : {"torch.optim.Adadelta",
                           "torch.optim.Adafactor",
                           "torch.optim.Adagrad",
                           "torch.optim.Adamax",
                           "torch.optim.ASGD",
                           "torch.optim.LBFGS",
                           "torch.optim.NAdam",
                           "torch.optim.RAdam",
                           "torch.optim.RMSprop",
                           "torch.optim.Rprop",
                           "torch.optim.SparseAdam",
                           "bitsandbytes.optim.Adam",
                           "bitsandbytes.optim.AdamW",
                           "bitsandbytes.optim.Adam8bit",
                           "bitsandbytes.optim.AdamW8bit",
                           "bitsandbytes.optim.PagedAdam",
                           "bitsandbytes.optim.PagedAdam8bit",
                           "bitsandbytes.optim.Lion",
                           "bitsandbytes.optim.Lion8bit",
                           "bitsandbytes.optim.PagedLion",
                           "bitsandbytes.optim.PagedLion8bit",
                           "torchao.prototype.low_bit_optim.AdamW8bit",
                           "torchao.prototype.low_bit_optim.AdamW4bit",
                           "torchao.prototype.low_bit_optim.AdamWFp8",
                           "torchao.prototype.low_bit_optim.CPUOffloadOptimizer"})
    register_unsupported(name, "", "optimizer");
  for (const char* name :
       {"LambdaLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
        "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "OneCycleLR", "PolynomialLR",
        "ReduceLROnPlateau", "SequentialLR", "ChainedScheduler"})
    register_unsupported(str("torch.optim.lr_scheduler.", name),
                         "Or leave lr_scheduler out for a constant rate.", "lr_scheduler");
  const char* kOtherRecipes =
      "It belongs to torchtune recipes torchtune_cpp does not provide (distillation, DPO, PPO).";
  for (const char* name : {"torchtune.modules.loss.ForwardKLLoss",
                           "torchtune.modules.loss.ForwardKLWithChunkedOutputLoss",
                           "torchtune.modules.loss.ReverseKLLoss",
                           "torchtune.modules.loss.ReverseKLWithChunkedOutputLoss",
                           "torchtune.modules.loss.SymmetricKLLoss",
                           "torchtune.modules.loss.SymmetricKLWithChunkedOutputLoss",
                           "torchtune.rlhf.loss.DPOLoss", "torchtune.rlhf.loss.RSOLoss",
                           "torchtune.rlhf.loss.SimPOLoss", "torchtune.rlhf.loss.PPOLoss"})
    register_unsupported(name, kOtherRecipes, "loss");
}

}  // namespace

void register_builtin_components() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_unsupported_torchtune_components();
    llama2::register_llama2_models();
    llama2::register_llama2_tokenizer();
    training::register_optimizers();
    training::register_lr_schedulers();
    training::register_metric_loggers();
    data::register_datasets();
    modules::register_losses();
    training::register_profiler();
    checkpointing::register_checkpointers();
  });
}

}  // namespace tt
