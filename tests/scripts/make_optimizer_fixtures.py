#!/usr/bin/env python3
"""Golden fixtures for torchtune_cpp's optimizers, made by torch.optim, and for gradient
clipping, made by torch.nn.utils.clip_grad_norm_.

For each case, three fp32 parameters take three steps of torch.optim (CPU) with seeded
gradients; the initial parameters, the gradients, the final parameters and the optimizer
state are written to tests/assets/golden/optim/optim.safetensors, the cases' options to
tests/assets/golden/optim/cases.json. (The LR schedule's fixture comes from torchtune
itself: make_lr_schedule_fixtures.py.)

    ~/.cache/torchtune_cpp/venv/bin/python tests/scripts/make_optimizer_fixtures.py

The golden test also runs it at test time with `--out <temporary folder>`: the same machine
and the same ATen kernels as the C++ side, so the comparison can stay bit for bit on any CPU
(elementwise kernels differ in the last bit between CPUs and vector widths).
"""

import argparse
import json
import platform
from pathlib import Path

import torch
from safetensors.torch import save_file

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/assets/golden/optim"
SHAPES = [(4, 3), (5,), (2, 2, 2)]
STEPS = 3

CASES = [
    ("adamw_single", "AdamW", dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, foreach=False)),
    ("adamw_foreach", "AdamW", dict(lr=1e-2, betas=(0.9, 0.95), eps=1e-6, weight_decay=0.1, foreach=True)),
    ("adamw_fused", "AdamW", dict(lr=2e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, fused=True)),
    ("adam_single", "Adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.05, foreach=False)),
    ("adam_foreach", "Adam", dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, foreach=True)),
    ("adam_fused", "Adam", dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.02, fused=True)),
    ("sgd_momentum", "SGD", dict(lr=1e-1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("sgd_nesterov", "SGD", dict(lr=1e-1, momentum=0.9, nesterov=True, weight_decay=0.0)),
    ("sgd_plain", "SGD", dict(lr=1e-1)),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write into (default: %(default)s)")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    tensors, cases = {}, []
    for index, (name, cls, opts) in enumerate(CASES):
        gen = torch.Generator().manual_seed(100 + index)
        params = [torch.randn(s, generator=gen).requires_grad_(True) for s in SHAPES]
        for i, p in enumerate(params):
            tensors[f"{name}.init.{i}"] = p.detach().clone()
        opt = getattr(torch.optim, cls)(params, **opts)
        for step in range(STEPS):
            for i, p in enumerate(params):
                g = torch.randn(p.shape, generator=gen)
                tensors[f"{name}.grad.{step}.{i}"] = g.clone()
                p.grad = g
            opt.step()
            opt.zero_grad(set_to_none=True)
        for i, p in enumerate(params):
            tensors[f"{name}.final.{i}"] = p.detach().clone()
            for key, value in opt.state[p].items():
                tensors[f"{name}.state.{i}.{key}"] = value.detach().clone().reshape(value.shape)
        cases.append({"name": name, "optimizer": f"torch.optim.{cls}",
                      "options": {k: list(v) if isinstance(v, tuple) else v for k, v in opts.items()}})
    # torch.nn.utils.clip_grad_norm_ on three gradients, clipping (max 1.0) and not (max 100).
    gen = torch.Generator().manual_seed(7)
    for label, max_norm in [("clip", 1.0), ("noclip", 100.0)]:
        params = [torch.zeros(s, requires_grad=True) for s in SHAPES]
        for i, p in enumerate(params):
            p.grad = torch.randn(p.shape, generator=gen)
            tensors[f"{label}.grad.{i}"] = p.grad.clone()
        total = torch.nn.utils.clip_grad_norm_(params, max_norm)
        tensors[f"{label}.total_norm"] = total.reshape(())
        for i, p in enumerate(params):
            tensors[f"{label}.clipped.{i}"] = p.grad.clone()
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / "optim.safetensors"),
              metadata={"format": "pt"})
    (out / "cases.json").write_text(json.dumps({
        "generated_by": "tests/scripts/make_optimizer_fixtures.py",
        "versions": {"torch": torch.__version__, "python": platform.python_version()},
        "steps": STEPS, "num_params": len(SHAPES), "cases": cases}, indent=1))
    print(f"{len(cases)} optimizer cases -> {out}")


if __name__ == "__main__":
    main()
