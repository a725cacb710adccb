"""The single-device recipe on a Llama2-7B-shaped model, as a user runs it: `tune run
full_finetune_single_device --config llama2/7B_full` (bf16, activation checkpointing, fused
AdamW, chunked loss, batch 2) over a random-weight Hugging Face checkpoint
(benchmarks/checkpoint_io.py makes one) and a synthetic Alpaca-format dataset whose samples
fill max_seq_len, so every step trains on batch_size x max_seq_len tokens.

    python3 benchmarks/recipe_7b.py --checkpoint-dir /data/llama2_7b_hf --workdir /data/run \
        [--config llama2/7B_full_low_memory]

Prints the recipe's own log lines and a JSON summary: median step time and
tokens_per_second_per_gpu over the steps after the first, peak memory, MFU (6N' + 12 L H Q T
per token against 989 TFLOP/s, as benchmarks/harness.h), load and total wall time.
"""
import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")


def make_dataset(path, n, words_per_field):
    rng = random.Random(0)
    vocab = ["model", "token", "weight", "layer", "train", "data", "step", "loss", "batch", "value",
             "sample", "output", "input", "answer", "question", "reason", "check", "write", "read", "learn"]
    records = [{"instruction": " ".join(rng.choice(vocab) for _ in range(words_per_field)), "input": "",
                "output": " ".join(rng.choice(vocab) for _ in range(words_per_field))} for _ in range(n)]
    with open(path, "w") as f:
        json.dump(records, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint-dir", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--seq", type=int, default=4096)
    ap.add_argument("--config", default="llama2/7B_full",
                    help="llama2/7B_full (AdamW fused) or llama2/7B_full_low_memory (paged AdamW in backward, "
                         "activation offloading)")
    ap.add_argument("--extra", default="", help="more key=value overrides")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    data = os.path.join(args.workdir, "long_alpaca.json")
    make_dataset(data, args.steps * args.batch_size, args.seq)  # every sample longer than seq
    files = sorted(f for f in os.listdir(args.checkpoint_dir) if f.endswith(".safetensors"))
    out = os.path.join(args.workdir, "out")
    cmd = [os.path.join(ROOT, "build", "tune"), "run", "full_finetune_single_device", "--config", args.config,
           f"output_dir={out}", f"checkpointer.checkpoint_dir={args.checkpoint_dir}",
           "checkpointer.checkpoint_files=[" + ",".join(files) + "]",
           "tokenizer.path=assets/tiny_llama2/tokenizer.model", f"tokenizer.max_seq_len={args.seq}",
           "dataset.source=json", f"dataset.data_files={data}", "dataset.packed=False",
           f"batch_size={args.batch_size}", "epochs=1", "log_peak_memory_stats=True", "device=cuda"]
    cmd += args.extra.split()
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    print(res.stdout[-3000:])
    print(res.stderr[-3000:], file=sys.stderr)
    if res.returncode != 0:
        sys.exit(f"recipe failed ({res.returncode})")
    logs = os.path.join(out, "logs")
    steps = []
    for name in os.listdir(logs):
        for line in open(os.path.join(logs, name)):
            m = re.match(r"Step (\d+) \| (.*)", line)
            if m:
                steps.append({k: float(v) for k, v in re.findall(r"(\w+):(\S+)", m.group(2))})
    later = steps[1:]
    tps = statistics.median(s["tokens_per_second_per_gpu"] for s in later)
    tokens_per_step = args.batch_size * args.seq
    n_params, n_embed, layers, heads, head_dim = 6738415616, 32000 * 4096, 32, 32, 128
    flops_per_token = 6 * (n_params - n_embed) + 12 * layers * heads * head_dim * args.seq
    load_save = [l for l in (res.stdout + res.stderr).splitlines() if "saved to" in l or "Resolved" in l]
    print(json.dumps({
        "bench": "recipe_7b", "config": args.config, "steps_logged": len(steps), "tokens_per_step": tokens_per_step,
        "median_tokens_per_s": tps, "median_step_s": tokens_per_step / tps,
        "mfu": tps * flops_per_token / 989e12,
        "peak_memory_active_gib": max(s.get("peak_memory_active", 0) for s in steps),
        "peak_memory_alloc_gib": max(s.get("peak_memory_alloc", 0) for s in steps),
        "peak_memory_reserved_gib": max(s.get("peak_memory_reserved", 0) for s in steps),
        "losses": [s["loss"] for s in steps], "data_wait_s": [s.get("data_wait_s") for s in steps],
        "logged_mfu": [s.get("mfu") for s in steps], "wall_s": wall, "overrides": args.extra}))


if __name__ == "__main__":
    main()
