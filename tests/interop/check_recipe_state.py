"""Loads a checkpoint folder's recipe_state.pt written by torchtune_cpp the way Python
torchtune would (torch.load with weights_only=True), checks torchtune's keys come first in
its order, and that torch.optim.AdamW accepts the optimizer state for the folder's weights
and can step with it.

usage: check_recipe_state.py <checkpoint folder with recipe_state.pt and HF safetensors>
"""
import glob
import os
import sys

import torch
from safetensors.torch import load_file

folder = sys.argv[1]
state = torch.load(os.path.join(folder, "recipe_state.pt"), weights_only=True)
keys = list(state.keys())
expected = ["seed", "epochs_run", "total_epochs", "max_steps_per_epoch", "dataloader", "optimizer"]
assert keys[:6] == expected, keys
opt = state["optimizer"]
assert set(opt) == {"state", "param_groups"}, opt.keys()
weights = {}
for f in sorted(glob.glob(os.path.join(folder, "*.safetensors"))):
    weights.update(load_file(f))
n = len(opt["param_groups"][0]["params"])
assert n == len(weights), (n, len(weights))
# One state per weight, with the weights' shapes (the HF <-> torchtune conversion keeps
# shapes, so the multisets must agree).
state_shapes = sorted(tuple(s["exp_avg"].shape) for s in opt["state"].values())
weight_shapes = sorted(tuple(w.shape) for w in weights.values())
assert state_shapes == weight_shapes, (state_shapes, weight_shapes)
params = [torch.nn.Parameter(torch.zeros(s["exp_avg"].shape)) for _, s in sorted(opt["state"].items())]
adamw = torch.optim.AdamW(params)
adamw.load_state_dict(opt)
for p in params:
    p.grad = torch.ones_like(p)
adamw.step()
print("ok:", keys, "steps", float(next(iter(opt["state"].values()))["step"]))
