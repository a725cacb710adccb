#!/usr/bin/env python3
"""Golden learning rates of torchtune's get_cosine_schedule_with_warmup, from torchtune
0.6.1 itself, written to tests/assets/golden/optim/lr_schedules.json.

    PY=$(scripts/torchtune_env.sh | tail -n 1); "$PY" tests/scripts/make_lr_schedule_fixtures.py
"""

import json
import platform
from pathlib import Path

import torch
import torchtune
from torchtune.training.lr_schedulers import get_cosine_schedule_with_warmup

OUT = Path(__file__).resolve().parents[2] / "tests/assets/golden/optim/lr_schedules.json"


def lrs(warmup, total, base, cycles, last_epoch, steps):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
    if last_epoch != -1:
        for group in opt.param_groups:
            group["initial_lr"] = base  # what a resumed LambdaLR reads
    sched = get_cosine_schedule_with_warmup(opt, warmup, total, cycles, last_epoch)
    out = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append(opt.param_groups[0]["lr"])
    return out


def main():
    cases = []
    for warmup, total, base, cycles, last_epoch in [(3, 10, 2e-5, 0.5, -1), (0, 5, 1e-3, 0.5, -1),
                                                    (4, 4, 1e-4, 0.5, -1), (100, 1000, 1e-5, 0.5, -1),
                                                    (3, 10, 2e-5, 0.5, 4), (2, 12, 3e-4, 1.0, -1)]:
        cases.append({"num_warmup_steps": warmup, "num_training_steps": total, "base_lr": base,
                      "num_cycles": cycles, "last_epoch": last_epoch,
                      "lrs": lrs(warmup, total, base, cycles, last_epoch, min(total, 20) + 2)})
    OUT.write_text(json.dumps({"generated_by": "tests/scripts/make_lr_schedule_fixtures.py",
                               "versions": {"torchtune": torchtune.__version__, "torch": torch.__version__,
                                            "python": platform.python_version()},
                               "cases": cases}, indent=1))
    print(f"{len(cases)} schedules -> {OUT}")


if __name__ == "__main__":
    main()
