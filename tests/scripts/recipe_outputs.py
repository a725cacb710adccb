"""Runs the recipe programs through a fixed set of CPU scenarios and compares what two builds
wrote, file by file: a check that a change to the recipes' code changed none of their results.

    python tests/scripts/recipe_outputs.py run --bin <dir with the recipe programs> --out <dir>
    python tests/scripts/recipe_outputs.py compare <out A> <out B>

`run` starts full_finetune_single_device and full_finetune_distributed (two processes, Gloo,
in torchrun's environment) from the source root on the embedded tiny model: every checkpoint
format, gradient accumulation, clipping, the LR schedule, mid-epoch saves, optimizer_in_bwd,
resumes (full and sharded checkpoints, another rank count). Each scenario writes
<out>/<name>/ (the output_dir) and <out>/<name>.log (the metric lines the program printed).

`compare` requires every file to be byte-identical, except:
  - DiskLogger logs and printed step lines: compared without the timing and memory values
    (tokens_per_second_per_gpu, data_wait_s, mfu, peak memory), which no two runs share;
  - recipe_state.pt: loaded with torch and compared value by value (tensors bit for bit), all
    but torchtune_cpp_saved_at_ns, the time of the save.
Runs into the same --out path so the paths written into configs match.
"""

import argparse
import filecmp
import os
import re
import shutil
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIG = "configs/llama2/tiny_full.yaml"
COMMON = ["epochs=2", "max_steps_per_epoch=4", "seed=7",
          "metric_logger._component_=torchtune.training.metric_logging.DiskLogger"]
CHECKPOINTS = "tests/assets/golden/recipe/checkpoints"
META = ["checkpointer._component_=torchtune.training.FullModelMetaCheckpointer",
        f"checkpointer.checkpoint_dir={CHECKPOINTS}/meta", "checkpointer.checkpoint_files=[consolidated.00.pth]"]
TORCHTUNE = ["checkpointer._component_=torchtune.training.FullModelTorchTuneCheckpointer",
             f"checkpointer.checkpoint_dir={CHECKPOINTS}/torchtune", "checkpointer.checkpoint_files=[model.pt]"]

# name -> (program, processes, overrides, (scenario it continues, folders removed first) or None)
SCENARIOS = [
    ("single_hf", "full_finetune_single_device", 1,
     ["gradient_accumulation_steps=2", "save_every_n_steps=1"], None),
    ("single_hf_resume", "full_finetune_single_device", 1,
     ["gradient_accumulation_steps=2", "save_every_n_steps=1", "resume_from_checkpoint=True"],
     ("single_hf", ["epoch_1", "step_7", "step_6"])),
    ("single_meta_noclip", "full_finetune_single_device", 1,
     META + ["clip_grad_norm=null", "batch_size=4"], None),
    ("single_torchtune", "full_finetune_single_device", 1, TORCHTUNE + ["save_every_n_steps=2"], None),
    ("single_in_bwd", "full_finetune_single_device", 1,
     ["optimizer_in_bwd=True", "clip_grad_norm=null", "save_every_n_steps=3"], None),
    ("dist_full", "full_finetune_distributed", 2,
     ["device=cpu", "save_every_n_steps=3"], None),
    ("dist_sharded", "full_finetune_distributed", 2,
     ["device=cpu", "save_every_n_steps=2", "sharded_checkpoints=True"], None),
    ("dist_sharded_resume_1", "full_finetune_distributed", 1,
     ["device=cpu", "save_every_n_steps=2", "sharded_checkpoints=True",
      "resume_from_checkpoint=True"], ("dist_sharded", ["epoch_1"])),
]

TIMING = re.compile(r"\s*(tokens_per_second_per_gpu|data_wait_s|mfu|peak_memory_\w+):[^ ]*")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args):
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    for name, program, nproc, overrides, continues in SCENARIOS:
        folder = os.path.join(out, name)
        shutil.rmtree(folder, ignore_errors=True)
        if continues:
            shutil.copytree(os.path.join(out, continues[0]), folder)
            for drop in continues[1]:
                shutil.rmtree(os.path.join(folder, drop))
        cmd = [os.path.join(args.bin, program), "--config", CONFIG, f"output_dir={folder}"]
        cmd += COMMON + overrides
        env = dict(os.environ, OMP_NUM_THREADS="1")
        env.pop("TTCPP_ASSETS_DIR", None)
        port = str(free_port())
        procs = []
        for rank in range(nproc):
            if program.endswith("distributed"):
                env = dict(env, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(nproc),
                           LOCAL_WORLD_SIZE=str(nproc), MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
            procs.append(subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True))
        outputs = [p.communicate()[0] for p in procs]
        for p, text in zip(procs, outputs):
            if p.returncode != 0:
                sys.exit(f"{name}: {' '.join(cmd)} failed ({p.returncode}):\n{text}")
        steps = [line for line in outputs[0].splitlines() if re.match(r"^\d+\|\d+\|Loss: ", line)]
        with open(os.path.join(out, name + ".log"), "w") as f:
            f.write("\n".join(steps) + "\n")
        print(f"{name}: {len(steps)} steps")


def normalized_log(path):
    with open(path) as f:
        return [TIMING.sub("", line) for line in f]


def same_recipe_state(a, b):
    import torch

    def equal(x, y):
        if isinstance(x, torch.Tensor):
            bits = (lambda t: t.reshape(-1).view(torch.uint8)) if x.numel() else (lambda t: t)
            return isinstance(y, torch.Tensor) and x.dtype == y.dtype and x.shape == y.shape and \
                torch.equal(bits(x), bits(y))
        if isinstance(x, dict):
            keys = set(x) - {"torchtune_cpp_saved_at_ns"}
            return isinstance(y, dict) and keys == set(y) - {"torchtune_cpp_saved_at_ns"} and \
                all(equal(x[k], y[k]) for k in keys)
        if isinstance(x, (list, tuple)):
            return type(x) is type(y) and len(x) == len(y) and all(map(equal, x, y))
        return type(x) is type(y) and (x == y or (x != x and y != y))

    return equal(torch.load(a, weights_only=True), torch.load(b, weights_only=True))


def compare(args):
    problems, files = [], 0
    for base, dirs, names in os.walk(args.a):
        dirs.sort()
        rel = os.path.relpath(base, args.a)
        other = os.path.join(args.b, rel)
        if not os.path.isdir(other):
            problems.append(f"{rel}/: only in {args.a}")
            continue
        if os.path.basename(base) == "logs":
            # DiskLogger names its files by the time of the run: paired in order.
            names_b = sorted(os.listdir(other))
            if len(names_b) != len(names):
                problems.append(f"{rel}/: {len(names)} log files against {len(names_b)}")
            for na, nb in zip(sorted(names), names_b):
                files += 1
                if normalized_log(os.path.join(base, na)) != normalized_log(os.path.join(other, nb)):
                    problems.append(f"{os.path.join(rel, na)}: log lines differ")
            continue
        only_b = set(os.listdir(other)) - set(os.listdir(base))
        problems += [f"{os.path.join(rel, n)}: only in {args.b}" for n in sorted(only_b)]
        for n in sorted(names):
            pa, pb = os.path.join(base, n), os.path.join(other, n)
            files += 1
            if not os.path.exists(pb):
                problems.append(f"{os.path.join(rel, n)}: only in {args.a}")
            elif n.endswith(".log") or n.endswith(".txt"):
                if normalized_log(pa) != normalized_log(pb):
                    problems.append(f"{os.path.join(rel, n)}: log lines differ")
            elif n == "recipe_state.pt":
                if not same_recipe_state(pa, pb):
                    problems.append(f"{os.path.join(rel, n)}: recipe state differs")
            elif not filecmp.cmp(pa, pb, shallow=False):
                problems.append(f"{os.path.join(rel, n)}: bytes differ")
    print("\n".join(problems) if problems else f"{files} files compared: identical")
    return 1 if problems else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("--bin", required=True)
    r.add_argument("--out", required=True)
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    args = parser.parse_args()
    if args.command == "run":
        run(args)
        return 0
    return compare(args)


if __name__ == "__main__":
    sys.exit(main())
