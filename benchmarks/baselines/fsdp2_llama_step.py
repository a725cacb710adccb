"""PyTorch FSDP2 baseline for benchmarks/bench_fsdp_step.cpp: what Python torchtune's
full_finetune_distributed runs per step, on transformers' LlamaForCausalLM (eager, SDPA):
fully_shard on every decoder layer, then on the decoder and on the output projection
(reshard_after_forward as given), no
mixed-precision policy (pure bf16), non-reentrant activation checkpointing per layer, the loss
in 8 chunks of bf16 logits upcast per chunk (CEWithChunkedOutputLoss), summed over ranks by
token count, fused AdamW (lr 2e-5, torchtune's 7B_full / 13B_full). Random weights; synthetic
full packs. Start it with torchrun; rank 0 prints the JSON line.

    torchrun --nproc_per_node 2 benchmarks/baselines/fsdp2_llama_step.py --device cuda --dtype bf16 --model 7b
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper
from torch.distributed.fsdp import fully_shard
from transformers import LlamaConfig, LlamaForCausalLM

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402  (benchmarks/harness.py)

SHAPES = {  # layers, dim, heads, kv heads, hidden
    "7b": (32, 4096, 32, 32, 11008),
    "13b": (40, 5120, 40, 40, 13824),
    "70b": (80, 8192, 64, 8, 28672),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="7b", choices=sorted(SHAPES))
    parser.add_argument("--layers", type=int, default=0)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=4096)
    parser.add_argument("--ac", type=int, default=1)
    parser.add_argument("--reshard", type=int, default=1)
    parser.add_argument("--cpu-offload", type=int, default=0, help="accepted for symmetry; must be 0")
    parser.add_argument("--seed", type=int, default=0)
    harness.add_common_args(parser)
    args = parser.parse_args()
    config = harness.config_from_args(args, "fsdp_step", "pytorch_fsdp2_transformers")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if config.device.type == "cuda":
        config.device = torch.device("cuda", local_rank)
        torch.cuda.set_device(config.device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if config.device.type == "cuda" else "gloo", timeout=timedelta(minutes=5))
    rank, world = dist.get_rank(), dist.get_world_size()

    layers, dim, heads, kv_heads, hidden = SHAPES[args.model]
    layers = args.layers or layers
    vocab = 32000
    hf_config = LlamaConfig(
        vocab_size=vocab, hidden_size=dim, intermediate_size=hidden, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=max(4096, args.seq),
        rms_norm_eps=1e-5, tie_word_embeddings=False, attn_implementation="sdpa", use_cache=False)
    holder: dict[str, object] = {}

    def setup():
        torch.manual_seed(args.seed)
        with torch.device("meta"):
            model = LlamaForCausalLM(hf_config).to(config.dtype)
        for i, layer in enumerate(model.model.layers):
            if args.ac:
                layer = checkpoint_wrapper(layer)
                model.model.layers[i] = layer
            fully_shard(layer, reshard_after_forward=bool(args.reshard))
        # The decoder (embedding, layers, norm) and the output projection, which the chunked
        # loss calls itself, are the two roots.
        fully_shard(model.model, reshard_after_forward=bool(args.reshard))
        fully_shard(model.lm_head, reshard_after_forward=bool(args.reshard))
        model.to_empty(device=config.device)
        with torch.no_grad():
            for p in model.parameters():
                if p.dim() > 1:
                    p.normal_(0.0, 0.02)
                else:
                    p.fill_(1.0)
        # RoPE's inverse frequencies are a non-persistent buffer: rebuilt off the meta device.
        model.model.rotary_emb = type(model.model.rotary_emb)(config=hf_config).to(config.device)
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5, fused=True)
        torch.manual_seed(args.seed + rank)
        tokens = torch.randint(0, vocab, (args.batch, args.seq + 1), device=config.device)
        inputs, labels = tokens[:, :-1], tokens[:, 1:]

        def step():
            hidden_states = model.model(input_ids=inputs).last_hidden_state
            total = torch.zeros((), device=config.device)
            for h, y in zip(hidden_states.chunk(8, dim=1), labels.chunk(8, dim=1)):
                logits = model.lm_head(h).float()
                total = total + F.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1), reduction="sum")
            n = torch.tensor(float(labels.numel()), device=config.device)
            total.backward()
            dist.all_reduce(n)
            for p in model.parameters():  # FSDP2 averaged over ranks; torchtune scales by world / tokens
                p.grad.mul_(world / n)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if "first_loss" not in holder:
                holder["first_loss"] = (total / labels.numel()).item()

        return step

    num_params = (vocab * dim * 2 + layers * (
        dim * dim * 2 + 2 * dim * (dim // heads) * kv_heads + 3 * dim * hidden + 2 * dim) + dim)
    workload = harness.Workload(
        batch=args.batch, seq_len=args.seq, tokens_per_step=args.batch * args.seq,
        flops_per_token=harness.flops_per_token(num_params - vocab * dim, layers, heads, dim // heads, args.seq),
        extra={"num_params": num_params, "world_size": world, "activation_checkpointing": args.ac,
               "reshard_after_forward": args.reshard, "model": "llama2_" + args.model})
    result = harness.run_benchmark(config, workload, setup)
    peak = torch.tensor([result.get("peak_mem_bytes") or -1], device=config.device)
    dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    if rank == 0:
        if result.get("status") == "ok":
            if peak.item() >= 0:
                result["peak_mem_bytes"] = int(peak.item())
            result["first_loss"] = holder.get("first_loss")
        harness.emit(result)
    dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
