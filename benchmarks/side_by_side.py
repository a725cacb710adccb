"""Ours against Python torchtune 0.6.1 on one GPU, in one invocation: the same random-weight
Llama2-7B checkpoint, data and config (`llama2/7B_full`, batch 2 x 4096, bf16), run by
`build/tune` and by torchtune eager and with `compile=True`, one after the other.

    python3 benchmarks/side_by_side.py --wheels WHEELS --workdir /data/sbs [--steps 10]
        [--rows ac,no_ac] [--sides ours,eager,compile] [--extra "k=v ..."]

WHEELS is a folder of torchtune 0.6.1's wheels and the dependencies the GPU machine lacks,
installed here into <workdir>/torchtune-site (`pip install --no-deps --no-index --target`),
so the machine's own torch runs both sides. Without --wheels, torchtune must be importable
by --torchtune-python.

Each run is one row of device time: loading, `steps` optimizer steps and the final save,
bounded by --row-timeout (480 s). Figures: the median tokens_per_second_per_gpu over steps
2..N of each DiskLogger file, the largest peak_memory_alloc and peak_memory_reserved (GiB),
the ratios ours / eager and ours / compile, and the largest per-step loss difference between
each pair of sides. The last line compares each side's fastest run whose peak reserved
memory fits --fit-gib (80).

--tiny runs the same programs on the CPU with the embedded tiny model (the golden recipe
config tests/assets/golden/recipe/configs/hf.yaml): a check of this script, not a benchmark.
"""
import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

ROWS = {
    "ac": ("activation checkpointing (7B_full as shipped)", ["enable_activation_checkpointing=True"]),
    "no_ac": ("no activation checkpointing", ["enable_activation_checkpointing=False"]),
}
SIDES = ("ours", "eager", "compile")


def install_torchtune(wheels, site):
    """torchtune's wheels into their own folder, put on PYTHONPATH for torchtune's runs only."""
    if os.path.isdir(os.path.join(site, "torchtune")):
        return
    files = sorted(glob.glob(os.path.join(wheels, "*.whl")))
    if not files:
        sys.exit(f"side_by_side: no wheels in {wheels}")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", site,
                    *files], check=True)


def read_disk_logs(out_dir):
    steps = {}
    for path in glob.glob(os.path.join(out_dir, "logs", "*.txt")):
        for line in open(path):
            m = re.match(r"Step (\d+) \| (.*)", line)
            if m:
                steps[int(m.group(1))] = {k: float(v) for k, v in re.findall(r"(\w+):(\S+)", m.group(2))}
    return [steps[k] for k in sorted(steps)]


def summarize(steps):
    later = steps[1:] or steps
    tps = [s["tokens_per_second_per_gpu"] for s in later if "tokens_per_second_per_gpu" in s]
    peak = lambda key: max((s[key] for s in steps if key in s), default=None)
    return {"steps": len(steps), "tokens_per_s": statistics.median(tps) if tps else None,
            "peak_alloc_gib": peak("peak_memory_alloc"), "peak_reserved_gib": peak("peak_memory_reserved"),
            "losses": [s.get("loss") for s in steps]}


def run_one(cmd, env, out_dir, timeout):
    shutil.rmtree(out_dir, ignore_errors=True)
    t0 = time.perf_counter()
    try:
        res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over {timeout} s"}
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        tail = (res.stdout + res.stderr).strip().splitlines()[-5:]
        return {"error": f"exit {res.returncode}: " + " | ".join(tail)}
    out = summarize(read_disk_logs(out_dir))
    out["wall_s"] = round(wall, 1)
    return out


def ratio(a, b):
    return f"{a / b:.2f}x" if a and b else "-"


def fmt(r):
    if "error" in r:
        return "failed"
    mem = f" ({r['peak_alloc_gib']:.1f} / {r['peak_reserved_gib']:.1f} GiB)" if r["peak_reserved_gib"] else ""
    return f"{r['tokens_per_s']:,.0f}{mem}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wheels", help="folder of torchtune 0.6.1's wheels (installed into the workdir)")
    ap.add_argument("--torchtune-python", default=sys.executable,
                    help="the Python that runs torchtune (default: this one)")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--checkpoint-dir", help="a Llama-2-7b-hf-shaped checkpoint (made in the workdir if absent)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rows", default="ac,no_ac")
    ap.add_argument("--sides", default=",".join(SIDES))
    ap.add_argument("--extra", default="", help="more key=value overrides, for every run")
    ap.add_argument("--row-timeout", type=int, default=480)
    ap.add_argument("--fit-gib", type=float, default=80.0)
    ap.add_argument("--tiny", action="store_true", help="CPU check of this script on the tiny model")
    args = ap.parse_args()
    work = os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)

    env_tt = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    if args.wheels:
        site = os.path.join(work, "torchtune-site")
        install_torchtune(os.path.abspath(args.wheels), site)
        env_tt["PYTHONPATH"] = site + os.pathsep + env_tt.get("PYTHONPATH", "")

    if args.tiny:
        config = "tests/assets/golden/recipe/configs/hf.yaml"
        common = ["epochs=1", f"max_steps_per_epoch={args.steps}", "device=cpu"]
    else:
        from checkpoint_io import make_checkpoint
        from recipe_7b import make_dataset
        ckpt = args.checkpoint_dir or os.path.join(work, "llama2_7b_hf")
        make_checkpoint(ckpt)
        data = os.path.join(work, "long_alpaca.json")
        make_dataset(data, args.steps * 2, 4096)
        files = sorted(f for f in os.listdir(ckpt) if f.endswith(".safetensors"))
        config = "llama2/7B_full"
        common = [f"checkpointer.checkpoint_dir={ckpt}", "checkpointer.checkpoint_files=[" + ",".join(files) + "]",
                  "tokenizer.path=assets/tiny_llama2/tokenizer.model", "tokenizer.max_seq_len=4096",
                  "dataset.source=json", f"dataset.data_files={data}", "dataset.packed=False", "batch_size=2",
                  "epochs=1", f"max_steps_per_epoch={args.steps}", "log_peak_memory_stats=True", "device=cuda"]
    common += args.extra.split()

    results = {}
    for row in args.rows.split(","):
        title, overrides = ROWS[row]
        for side in args.sides.split(","):
            out_dir = os.path.join(work, f"out_{row}_{side}")
            keys = [f"output_dir={out_dir}", *common, *overrides]
            if side == "ours":
                cmd = [os.path.join(ROOT, "build", "tune"), "run", "full_finetune_single_device", "--config", config,
                       *keys]
                env = dict(os.environ)
            else:
                cmd = [args.torchtune_python, "-m", "torchtune._cli.tune", "run", "full_finetune_single_device",
                       "--config", config, *keys, f"compile={side == 'compile'}"]
                env = env_tt
            print(f"side_by_side: {row} / {side} ...", file=sys.stderr, flush=True)
            results[(row, side)] = run_one(cmd, env, out_dir, args.row_timeout)
            print(f"side_by_side: {row} / {side}: {json.dumps(results[(row, side)])}", file=sys.stderr, flush=True)

    sides = args.sides.split(",")
    print(f"\n| setting | {' | '.join(sides)} | ours / eager | ours / compile |")
    print("|---" * (len(sides) + 3) + "|")
    for row in args.rows.split(","):
        r = {s: results[(row, s)] for s in sides}
        tps = {s: r[s].get("tokens_per_s") for s in sides}
        print(f"| {ROWS[row][0]} | " + " | ".join(fmt(r[s]) for s in sides) +
              f" | {ratio(tps.get('ours'), tps.get('eager'))} | {ratio(tps.get('ours'), tps.get('compile'))} |")

    # How far the sides' per-step losses are apart (the same data and weights on each side).
    for row in args.rows.split(","):
        losses = {s: results[(row, s)].get("losses") for s in sides}
        pairs = [(a, b) for i, a in enumerate(sides) for b in sides[i + 1:] if losses[a] and losses[b]]
        diffs = [f"{a}-{b} {max(abs(x - y) for x, y in zip(losses[a], losses[b])):.2e}" for a, b in pairs]
        print(f"{row}: largest per-step loss difference: " + (", ".join(diffs) or "-"))

    # Each side's fastest run that fits the memory of a smaller GPU.
    def fastest(side):
        fits = [v for (row, s), v in results.items() if s == side and v.get("tokens_per_s")
                and (v.get("peak_reserved_gib") or 0) <= args.fit_gib]
        return max(fits, key=lambda v: v["tokens_per_s"], default={})
    best = {s: fastest(s) for s in sides}
    theirs = max((best[s].get("tokens_per_s") or 0 for s in sides if s != "ours"), default=0)
    print(f"\nfastest within {args.fit_gib:g} GiB reserved: " +
          ", ".join(f"{s} {best[s].get('tokens_per_s') or 0:,.0f}" for s in sides) +
          f"; ours / torchtune's best: {ratio(best.get('ours', {}).get('tokens_per_s'), theirs)}")
    print(json.dumps({f"{row}/{side}": v for (row, side), v in results.items()}))
    if any("error" in v for v in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
