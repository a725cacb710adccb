// full_finetune_single_device: full fine-tuning of a Llama2-family model on one device (cpu,
// cuda or cuda:N), the counterpart of torchtune's recipes/full_finetune_single_device.py,
// reading the same config. The recipe is full_finetune.cpp; on one process its seam is the
// identity (processes.cpp).
//
//   tune run full_finetune_single_device --config llama2/tiny_full [key=value ...]
#include "full_finetune.h"

int main(int argc, char** argv) {
  return tt::recipes::run_full_finetune("full_finetune_single_device", tt::recipes::one_process,
                                        argc, argv);
}
