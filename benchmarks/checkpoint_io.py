"""Checkpoint load/save benchmark: a Llama2-7B-shaped Hugging Face checkpoint of random bf16
weights in two safetensors shards (the split of meta-llama/Llama-2-7b-hf), read by
`cat files > /dev/null` (the baseline, measured in the same run) and loaded by
build/benchmarks/bench_checkpoint_io (checkpointer + materialisation, as the recipe does).

    python3 benchmarks/checkpoint_io.py --workdir /data/ckpt_bench [--device cpu] [--repeats 3]

Reports load throughput as a ratio to cat's (target >= 0.70), peak resident memory against
model bytes + largest shard + 1 GiB, and save throughput. Both sides read the same files
with the same page-cache state: each measurement is repeated and the best is kept, after a
first cat that brings the files into the page cache (if the machine lets us drop caches,
a cold pair is measured too).
"""
import argparse
import json
import os
import subprocess
import sys
import time

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def make_checkpoint(folder):
    """Random weights with Llama-2-7b-hf's keys, shapes and two-shard split."""
    if os.path.exists(os.path.join(folder, "model.safetensors.index.json")):
        return
    os.makedirs(folder, exist_ok=True)
    dim, hidden, layers, vocab = 4096, 11008, 32, 32000
    shapes = {"model.embed_tokens.weight": (vocab, dim)}
    for i in range(layers):
        p = f"model.layers.{i}."
        for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
            shapes[p + f"self_attn.{n}.weight"] = (dim, dim)
        shapes[p + "mlp.gate_proj.weight"] = (hidden, dim)
        shapes[p + "mlp.up_proj.weight"] = (hidden, dim)
        shapes[p + "mlp.down_proj.weight"] = (dim, hidden)
        shapes[p + "input_layernorm.weight"] = (dim,)
        shapes[p + "post_attention_layernorm.weight"] = (dim,)
    shapes["model.norm.weight"] = (dim,)
    shapes["lm_head.weight"] = (vocab, dim)
    # Layers 0-23 in the first shard, the rest in the second, as the hub repo splits them.
    first = [k for k in shapes if k == "model.embed_tokens.weight" or
             (k.startswith("model.layers.") and int(k.split(".")[2]) < 24)]
    shards = [first, [k for k in shapes if k not in first]]
    gen = torch.Generator().manual_seed(0)
    weight_map, total = {}, 0
    for i, keys in enumerate(shards):
        name = f"model-{i + 1:05}-of-{len(shards):05}.safetensors"
        tensors = {k: (torch.randn(shapes[k], generator=gen) * 0.02).to(torch.bfloat16) for k in keys}
        total += sum(t.numel() * 2 for t in tensors.values())
        save_file(tensors, os.path.join(folder, name), metadata={"format": "pt"})
        weight_map.update({k: name for k in keys})
        del tensors
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"architectures": ["LlamaForCausalLM"], "hidden_size": dim, "intermediate_size": hidden,
                   "num_attention_heads": 32, "num_key_value_heads": 32, "num_hidden_layers": layers,
                   "vocab_size": vocab, "rms_norm_eps": 1e-5, "torch_dtype": "bfloat16"}, f)


def drop_caches():
    try:
        subprocess.run(["sync"], check=True)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def time_cat(files):
    t0 = time.perf_counter()
    subprocess.run("cat " + " ".join(files) + " > /dev/null", shell=True, check=True)
    return time.perf_counter() - t0


def run_ours(binary, folder, out, device):
    res = subprocess.run([binary, "--checkpoint-dir", folder, "--output-dir", out, "--device", device,
                          "--dtype", "bf16"], capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"bench_checkpoint_io failed:\n{res.stdout}\n{res.stderr}")
    subprocess.run(["rm", "-rf", out], check=True)
    return json.loads([l for l in res.stdout.splitlines() if l.startswith("{")][-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--binary", default=os.path.join(HERE, "..", "build-bench", "benchmarks", "bench_checkpoint_io"))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    folder = os.path.join(args.workdir, "llama2_7b_hf")
    t0 = time.perf_counter()
    make_checkpoint(folder)
    print(f"checkpoint ready in {time.perf_counter() - t0:.1f} s", flush=True)
    files = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".safetensors"))
    size = sum(os.path.getsize(f) for f in files)
    out = os.path.join(args.workdir, "out")
    rows = []
    if drop_caches():
        cold_cat = time_cat(files)
        drop_caches()
        cold = run_ours(args.binary, folder, out, args.device)
        rows.append(("cold", cold_cat, cold))
    time_cat(files)  # warm the page cache
    cats = [time_cat(files) for _ in range(args.repeats)]
    ours = [run_ours(args.binary, folder, out, args.device) for _ in range(args.repeats)]
    best = min(ours, key=lambda r: r["load_s"])
    rows.append(("warm", min(cats), best))
    for label, cat_s, r in rows:
        cat_gbps = size / cat_s / 1e9
        print(json.dumps({
            "bench": "checkpoint_io", "cache": label, "device": args.device, "file_bytes": size,
            "cat_s": cat_s, "cat_gb_per_s": cat_gbps, "ours_load_s": r["load_s"],
            "ours_load_gb_per_s": r["load_gb_per_s"], "load_ratio_vs_cat": r["load_gb_per_s"] / cat_gbps,
            "ours_save_s": r["save_s"], "ours_save_gb_per_s": r["save_gb_per_s"],
            "vm_hwm_after_load_gib": r["vm_hwm_after_load_bytes"] / 2**30,
            "vm_hwm_bound_gib": r["vm_hwm_bound_bytes"] / 2**30,
            "vm_hwm_within_bound": r["vm_hwm_within_bound"]}))


if __name__ == "__main__":
    main()
