// full_finetune_distributed: full fine-tuning of a Llama2-family model on several processes
// (GPUs, or CPU processes with Gloo), the counterpart of torchtune's
// recipes/full_finetune_distributed.py, reading the same config. Started by `tune run
// --nproc_per_node G [--nnodes N ...]`, torchrun, mpirun or srun (distributed/environment.h).
// The recipe is full_finetune.cpp; its seam shards the model over the processes and sums
// across them (processes.cpp).
//
//   tune run --nproc_per_node 8 full_finetune_distributed --config llama2/7B_full [key=value ...]
#include "full_finetune.h"

int main(int argc, char** argv) {
  return tt::recipes::run_full_finetune("full_finetune_distributed", tt::recipes::sharded_processes,
                                        argc, argv);
}
