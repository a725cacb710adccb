#!/usr/bin/env python3
"""Golden runs of torchtune 0.6.1's own full_finetune_single_device recipe on the embedded
tiny model (assets/tiny_llama2/), for checking the C++ recipe's per-step losses and its
resuming from a torchtune-written intermediate checkpoint. Writes, under
tests/assets/golden/recipe/:

  checkpoints/meta/consolidated.00.pth   the weights of assets/tiny_llama2/model.safetensors
                                         as torchtune's tune_to_meta(hf_to_tune(...)), saved
                                         with torch.save of a plain dict
  checkpoints/torchtune/model.pt         the same weights with torchtune keys (hf_to_tune)
  configs/{hf,meta,torchtune}.yaml       derived from configs/llama2/tiny_full.yaml: cpu, fp32,
                                         seed 1234, shuffle, batch_size 4, 2 epochs of at most
                                         3 steps, max_seq_len 256, AdamW(lr 1e-3,
                                         weight_decay 0.01, fused False), no lr scheduler, no
                                         grad clipping, CEWithChunkedOutputLoss, DiskLogger;
                                         one per checkpointer (FullModelHFCheckpointer on
                                         assets/tiny_llama2, FullModelMetaCheckpointer and
                                         FullModelTorchTuneCheckpointer on checkpoints/*).
                                         checkpoint_dir paths are relative to the repository
                                         root; output_dir (default /tmp/torchtune_cpp/
                                         golden_recipe/<format>) is meant to be overridden
                                         on the command line.
  losses.json                            per case: config, key=value overrides, and the steps
                                         torchtune's DiskLogger wrote (step, loss, lr and, with
                                         clip_grad_norm, grad_norm; floats exactly as printed,
                                         i.e. Python's repr of the value), plus a summary (sum,
                                         sum of squares, in float64) of every tensor of the
                                         final (epoch 1) checkpoint and the param_groups of its
                                         epoch-0 recipe_state.pt; the keys of hf_accum1's
                                         recipe_state.pt and its structure (optimizer state
                                         keyed by parameter index, with the torchtune parameter
                                         names in that order, param_groups, dataloader state);
                                         versions.
  torchtune_output/                      the hf_accum1 run's intermediate checkpoint, as
                                         torchtune laid it out in output_dir: epoch_0/ (model-
                                         00001-of-00001.safetensors, model.safetensors.index.json
                                         and the side files copied from checkpoint_dir) and
                                         recipe_state/recipe_state.pt. A resume test copies this
                                         folder, points output_dir at the copy and runs epoch 1;
                                         the case "hf_resume" is torchtune itself doing that
                                         (its steps 4-6 equal hf_accum1's, checked here).

Cases (config + overrides): {hf,meta,torchtune}_accum{1,2} (gradient_accumulation_steps 1
or 2), hf_clip_cosine (clip_grad_norm=1.0 and get_cosine_schedule_with_warmup with
num_warmup_steps 2), hf_resume (resume_from_checkpoint=True, see above). Every run is

  tune run full_finetune_single_device --config <yaml> output_dir=<tmp> <overrides...>

with the repository root as working directory. Note that torchtune 0.6.1, when resuming a
full fine-tune, reads the model weights from output_dir joined with each of
checkpointer.checkpoint_files (not from checkpoint_dir, and not from the newest epoch_N by
itself), hence the override checkpointer.checkpoint_files=[epoch_0/model-00001-of-00001.safetensors];
config.json is still read from checkpoint_dir. The recipe also never loads the saved dataloader
state: epoch 1's order comes from sampler.set_epoch(1) alone.

Run with the torchtune 0.6.1 environment (takes a few minutes on a CPU, mostly start-up):
  $HOME/.cache/torchtune_cpp/venv-torchtune/bin/python tests/scripts/make_recipe_fixtures.py
"""

import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import datasets
import torch
import torchdata
import torchtune
from omegaconf import OmegaConf
from safetensors.torch import load_file
from torchtune.models import convert_weights
from torchtune.models.llama2 import llama2

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/assets/golden/recipe"
REL = OUT.relative_to(ROOT)
HF_DIR = "assets/tiny_llama2"
TUNE = str(Path(sys.executable).with_name("tune"))

CHECKPOINTERS = {
    "hf": dict(_component_="torchtune.training.FullModelHFCheckpointer",
               checkpoint_dir=HF_DIR, checkpoint_files=["model.safetensors"]),
    "meta": dict(_component_="torchtune.training.FullModelMetaCheckpointer",
                 checkpoint_dir=str(REL / "checkpoints/meta"),
                 checkpoint_files=["consolidated.00.pth"]),
    "torchtune": dict(_component_="torchtune.training.FullModelTorchTuneCheckpointer",
                      checkpoint_dir=str(REL / "checkpoints/torchtune"),
                      checkpoint_files=["model.pt"]),
}

COSINE = ["clip_grad_norm=1.0",
          "lr_scheduler._component_=torchtune.training.lr_schedulers.get_cosine_schedule_with_warmup",
          "lr_scheduler.num_warmup_steps=2"]
RESUME = ["resume_from_checkpoint=True",
          "checkpointer.checkpoint_files=[epoch_0/model-00001-of-00001.safetensors]"]

CASES = [(f"{fmt}_accum{n}", fmt, [f"gradient_accumulation_steps={n}"])
         for fmt in CHECKPOINTERS for n in (1, 2)]
CASES.append(("hf_clip_cosine", "hf", ["gradient_accumulation_steps=1"] + COSINE))
RESUME_FROM = "hf_accum1"

LINE = re.compile(r"^Step (\d+) \| (.*)$")


def make_checkpoints():
    cfg = json.loads((ROOT / HF_DIR / "config.json").read_text())
    hf = load_file(str(ROOT / HF_DIR / "model.safetensors"))
    tune = convert_weights.hf_to_tune(hf, num_heads=cfg["num_attention_heads"],
                                      num_kv_heads=cfg["num_key_value_heads"],
                                      dim=cfg["hidden_size"], head_dim=cfg.get("head_dim"))
    meta = convert_weights.tune_to_meta(tune)
    for name, fname, sd in (("torchtune", "model.pt", tune),
                            ("meta", "consolidated.00.pth", meta)):
        d = OUT / "checkpoints" / name
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
        torch.save({k: v.clone().contiguous() for k, v in sd.items()}, d / fname)


def make_configs():
    base = OmegaConf.load(ROOT / "configs/llama2/tiny_full.yaml")
    base.tokenizer.max_seq_len = 256
    base.seed = 1234
    base.shuffle = True
    base.batch_size = 4
    base.epochs = 2
    base.max_steps_per_epoch = 3
    base.gradient_accumulation_steps = 1
    base.optimizer = {"_component_": "torch.optim.AdamW", "lr": 1e-3, "weight_decay": 0.01,
                      "fused": False}
    del base["lr_scheduler"]  # constant lr; the cosine case adds one by overrides
    base.clip_grad_norm = None
    base.optimizer_in_bwd = False
    base.loss = {"_component_": "torchtune.modules.loss.CEWithChunkedOutputLoss"}
    base.compile = False
    base.device = "cpu"
    base.dtype = "fp32"
    base.enable_activation_checkpointing = False
    base.enable_activation_offloading = False
    base.resume_from_checkpoint = False
    base.metric_logger = {"_component_": "torchtune.training.metric_logging.DiskLogger",
                          "log_dir": "${output_dir}/logs"}
    base.log_every_n_steps = 1
    base.log_peak_memory_stats = False
    base.profiler = {"_component_": "torchtune.training.setup_torch_profiler", "enabled": False}
    d = OUT / "configs"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    for fmt, ck in CHECKPOINTERS.items():
        cfg = base.copy()
        cfg.output_dir = f"/tmp/torchtune_cpp/golden_recipe/{fmt}"  # overridden by every run
        cfg.checkpointer = dict(ck, recipe_checkpoint=None, output_dir="${output_dir}",
                                model_type="LLAMA2")
        header = (f"# Written by tests/scripts/make_recipe_fixtures.py from configs/llama2/tiny_full.yaml:\n"
                  f"# the golden runs of torchtune 0.6.1's full_finetune_single_device with the\n"
                  f"# {ck['_component_'].rsplit('.', 1)[1]}. Run from the repository root with\n"
                  f"# output_dir=... on the command line (overrides: see ../losses.json).\n")
        (d / f"{fmt}.yaml").write_text(header + OmegaConf.to_yaml(cfg))


def run_tune(config, output_dir, overrides, log_path):
    cmd = [TUNE, "run", "full_finetune_single_device", "--config", str(config),
           f"output_dir={output_dir}"] + overrides
    t0 = time.perf_counter()
    with open(log_path, "w") as f:
        rc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT).returncode
    dt = time.perf_counter() - t0
    if rc != 0:
        sys.stderr.write(Path(log_path).read_text()[-6000:])
        raise SystemExit(f"tune run failed ({rc}): {' '.join(cmd)}")
    return dt


def parse_disk_log(output_dir):
    logs = glob.glob(os.path.join(output_dir, "logs", "log_*.txt"))
    assert len(logs) == 1, logs
    steps = []
    for line in Path(logs[0]).read_text().splitlines():
        m = LINE.match(line)
        assert m, line
        fields = dict(kv.split(":", 1) for kv in m.group(2).split())
        step = {"step": int(m.group(1)), "loss": float(fields["loss"]), "lr": float(fields["lr"])}
        if "grad_norm" in fields:
            step["grad_norm"] = float(fields["grad_norm"])
        steps.append(step)
    return steps


def weight_summary(epoch_dir):
    files = sorted(glob.glob(os.path.join(epoch_dir, "*.safetensors")) +
                   glob.glob(os.path.join(epoch_dir, "*.bin")))
    assert len(files) == 1, files
    f = files[0]
    sd = load_file(f) if f.endswith(".safetensors") else torch.load(f, weights_only=True)
    return {"file": os.path.basename(f),
            "tensors": {k: {"shape": list(v.shape), "sum": v.double().sum().item(),
                            "sum_sq": v.double().square().sum().item()}
                        for k, v in sorted(sd.items())}}


def describe(x):
    """JSON structure of a recipe_state value: tensors as dtype/shape/value, scalars as is."""
    if isinstance(x, torch.Tensor):
        d = {"tensor": str(x.dtype).replace("torch.", ""), "shape": list(x.shape)}
        if x.numel() == 1:
            d["value"] = x.item()
        return d
    if isinstance(x, dict):
        return {str(k): describe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [describe(v) for v in x]
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    return repr(x)


def param_names():
    """The model's parameter names in model.parameters() order, i.e. the optimizer's indices."""
    m = OmegaConf.load(OUT / "configs/hf.yaml").model
    kwargs = {k: v for k, v in m.items() if k != "_component_"}
    return [n for n, _ in llama2(**kwargs).named_parameters()]


def param_groups(path):
    opt = torch.load(path, weights_only=False)["optimizer"]
    return [{k: describe(v) for k, v in g.items() if k != "params"} for g in opt["param_groups"]]


def recipe_state_structure(path):
    rs = torch.load(path, weights_only=False)
    opt = rs["optimizer"]
    state = opt["state"]
    first = state[min(state)]
    return {
        "keys": list(rs.keys()),
        "scalars": {k: describe(v) for k, v in rs.items() if not isinstance(v, dict)},
        "optimizer": {
            "keys": list(opt.keys()),
            "state_keys": list(state.keys()),
            "param_names": param_names(),
            "state_fields": {k: describe(v) if not isinstance(v, torch.Tensor) or v.numel() == 1
                             else {"tensor": str(v.dtype).replace("torch.", "")}
                             for k, v in first.items()},
            "state_shapes": {str(i): list(s["exp_avg"].shape) for i, s in state.items()},
            "param_groups": [{k: describe(v) if k != "params" else v for k, v in g.items()}
                             for g in opt["param_groups"]],
        },
        "dataloader": describe(rs["dataloader"]),
    }


def main():
    make_checkpoints()
    make_configs()
    out = {"versions": {"torchtune": torchtune.__version__, "torch": torch.__version__,
                        "torchdata": torchdata.__version__, "datasets": datasets.__version__,
                        "python": platform.python_version()},
           "command": "tune run full_finetune_single_device --config <config> "
                      "output_dir=<dir> <overrides...>  (cwd: repository root)",
           "cases": []}
    total = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ttcpp_recipe_") as tmp:
        for name, fmt, overrides in CASES:
            cfg = REL / "configs" / f"{fmt}.yaml"
            odir = os.path.join(tmp, name)
            dt = run_tune(cfg, odir, overrides, os.path.join(tmp, f"{name}.stdout"))
            steps = parse_disk_log(odir)
            print(f"{name}: {len(steps)} steps in {dt:.1f}s, losses "
                  f"{[s['loss'] for s in steps]}", flush=True)
            out["cases"].append({"name": name, "config": str(cfg), "overrides": overrides,
                                 "steps": steps,
                                 "final_weights": weight_summary(os.path.join(odir, "epoch_1")),
                                 "recipe_state_param_groups": param_groups(
                                     os.path.join(odir, "recipe_state", "recipe_state.pt"))})
            if name == RESUME_FROM:
                dst = OUT / "torchtune_output"
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(os.path.join(odir, "epoch_0"), dst / "epoch_0")
                (dst / "recipe_state").mkdir(parents=True)
                shutil.copy(os.path.join(odir, "recipe_state", "recipe_state.pt"),
                            dst / "recipe_state" / "recipe_state.pt")
                out["recipe_state"] = recipe_state_structure(
                    dst / "recipe_state" / "recipe_state.pt")
                out["torchtune_output"] = {
                    "from_case": name,
                    "files": sorted(str(p.relative_to(dst)) for p in dst.rglob("*") if p.is_file())}

        # torchtune resuming from (a copy of) the committed intermediate checkpoint
        odir = os.path.join(tmp, "hf_resume")
        shutil.copytree(OUT / "torchtune_output", odir)
        cfg = REL / "configs" / "hf.yaml"
        overrides = ["gradient_accumulation_steps=1"] + RESUME
        dt = run_tune(cfg, odir, overrides, os.path.join(tmp, "hf_resume.stdout"))
        steps = parse_disk_log(odir)
        print(f"hf_resume: {len(steps)} steps in {dt:.1f}s, losses "
              f"{[s['loss'] for s in steps]}", flush=True)
        ref = next(c for c in out["cases"] if c["name"] == RESUME_FROM)
        assert steps == ref["steps"][len(ref["steps"]) - len(steps):], (steps, ref["steps"])
        fw = weight_summary(os.path.join(odir, "epoch_1"))
        assert fw == ref["final_weights"], "resumed final weights differ"
        out["cases"].append({"name": "hf_resume", "config": str(cfg), "overrides": overrides,
                             "output_dir": f"a copy of {REL / 'torchtune_output'}",
                             "steps": steps, "final_weights": fw})

    with open(OUT / "losses.json", "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT} in {time.perf_counter() - total:.0f}s")


if __name__ == "__main__":
    main()
