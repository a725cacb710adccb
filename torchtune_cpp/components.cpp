// The component table: each library folder's register function, plus torchtune's
// components that have no counterpart here.
#include "torchtune_cpp/components.h"

#include <mutex>

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

namespace tt {

namespace {

void register_unsupported_torchtune_components() {
  using config::register_unsupported;
  const char* kLogRoute =
      "Use torchtune.training.metric_logging.TensorBoardLogger (or DiskLogger) and upload with "
      "checkpointer.post_save_command, which runs after every save.";
  for (const char* name : {"torchtune.training.metric_logging.WandBLogger",
                           "torchtune.training.metric_logging.CometLogger",
                           "torchtune.training.metric_logging.MLFlowLogger",
                           "torchtune.utils.metric_logging.WandBLogger"})
    register_unsupported(name, kLogRoute);
  const char* kLora =
      "torchtune_cpp runs full fine-tuning only; use the full model builder (e.g. "
      "torchtune.models.llama2.llama2_7b) with the full_finetune recipes.";
  for (const char* name : {"torchtune.models.llama2.lora_llama2", "torchtune.models.llama2.lora_llama2_7b",
                           "torchtune.models.llama2.lora_llama2_13b", "torchtune.models.llama2.lora_llama2_70b",
                           "torchtune.models.llama2.qlora_llama2_7b", "torchtune.models.llama2.qlora_llama2_13b",
                           "torchtune.models.llama2.qlora_llama2_70b"})
    register_unsupported(name, kLora);
  register_unsupported("torchtune.training.FullModelDCPCheckpointer",
                       "Use torchtune.training.FullModelHFCheckpointer, FullModelMetaCheckpointer "
                       "or FullModelTorchTuneCheckpointer.");
  register_unsupported("torchtune.datasets.multimodal.the_cauldron_dataset",
                       "torchtune_cpp trains text-only Llama2 models; use a text dataset such as "
                       "torchtune.datasets.alpaca_dataset or instruct_dataset.");
}

}  // namespace

void register_builtin_components() {
  static std::once_flag once;
  std::call_once(once, [] {
    register_unsupported_torchtune_components();
    llama2::register_llama2_models();
    llama2::register_llama2_tokenizer();
    register_optimizers();
    register_lr_schedulers();
    register_metric_loggers();
    data::register_datasets();
    register_losses();
    register_profiler();
    register_checkpointers();
  });
}

}  // namespace tt
