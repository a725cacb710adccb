"""transformers baseline for benchmarks/bench_llama_step.cpp.

Forward + backward of LlamaForCausalLM (eager PyTorch with SDPA attention, random weights,
no optimizer step), the way a Python user fine-tunes with transformers: gradient
checkpointing for --ac 1, the model's own loss (full fp32 logits).

    python benchmarks/baselines/hf_llama_step.py --device cuda --dtype bf16 --batch 1 --seq 4096 --ac 1
"""

from __future__ import annotations

import argparse
import os
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402  (benchmarks/harness.py)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--layers", type=int, default=32)
    parser.add_argument("--dim", type=int, default=4096)
    parser.add_argument("--heads", type=int, default=32)
    parser.add_argument("--kv-heads", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=11008)
    parser.add_argument("--vocab", type=int, default=32000)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seq", type=int, default=4096)
    parser.add_argument("--ac", type=int, default=1)
    parser.add_argument("--loss", default="plain", help="accepted for symmetry; transformers' own loss")
    parser.add_argument("--seed", type=int, default=0)
    harness.add_common_args(parser)
    args = parser.parse_args()
    config = harness.config_from_args(args, "llama_step", "transformers_eager_sdpa")

    hf_config = LlamaConfig(
        vocab_size=args.vocab, hidden_size=args.dim, intermediate_size=args.hidden,
        num_hidden_layers=args.layers, num_attention_heads=args.heads,
        num_key_value_heads=args.kv_heads, max_position_embeddings=max(4096, args.seq),
        rms_norm_eps=1e-5, tie_word_embeddings=False, attn_implementation="sdpa", use_cache=False)
    holder: dict[str, object] = {}

    def setup():
        torch.manual_seed(args.seed)
        previous = torch.get_default_dtype()
        torch.set_default_dtype(config.dtype)
        with torch.device(config.device):  # built directly on the device, in the training dtype
            model = LlamaForCausalLM(hf_config)
        torch.set_default_dtype(previous)
        model.train()
        if args.ac:
            enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
            enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        tokens = torch.randint(0, args.vocab, (args.batch, args.seq), device=config.device)
        holder["params"] = sum(p.numel() for p in model.parameters())

        def step():
            model.zero_grad(set_to_none=True)
            out = model(input_ids=tokens, labels=tokens)  # shifts labels internally
            out.loss.backward()
            if "first_loss" not in holder:
                holder["first_loss"] = out.loss.item()

        return step

    num_params = (args.vocab * args.dim * 2 + args.layers * (
        args.dim * args.dim * 2 + 2 * args.dim * (args.dim // args.heads) * args.kv_heads
        + 3 * args.dim * args.hidden + 2 * args.dim) + args.dim)
    workload = harness.Workload(
        batch=args.batch, seq_len=args.seq, tokens_per_step=args.batch * args.seq,
        flops_per_token=harness.flops_per_token(num_params - args.vocab * args.dim, args.layers,
                                                args.heads, args.dim // args.heads, args.seq),
        extra={"num_params": num_params, "layers": args.layers, "activation_checkpointing": args.ac,
               "loss": "transformers", "weight_bytes": num_params * torch.finfo(config.dtype).bits // 8})
    result = harness.run_benchmark(config, workload, setup)
    if result.get("status") == "ok" and "first_loss" in holder:
        result["first_loss"] = holder["first_loss"]
        if config.device.type == "cuda":
            result["activation_bytes"] = result["peak_mem_bytes"] - 2 * workload.extra["weight_bytes"]
    harness.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
