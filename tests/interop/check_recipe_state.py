"""Loads a checkpoint folder's recipe_state.pt written by torchtune_cpp the way Python
torchtune would (torch.load with weights_only=True), checks torchtune's keys come first in
its order and the `dataloader` entry has torchdata's StatefulDataLoader keys, and that
torch.optim.AdamW accepts the optimizer state for the folder's weights and can step with it.

usage: check_recipe_state.py <checkpoint folder with recipe_state.pt and HF safetensors> [--named]
  --named: the optimizer state must be in torchtune's distributed layout, keyed by the
           parameters' torchtune names ("layers.0.attn.q_proj.weight").
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
# torchdata's StatefulDataLoader.state_dict() with num_workers=0 (what torchtune 0.6.1 saves),
# positioned within the epoch (tests/interop/check_dataloader_state.py loads it in torchdata).
loader_keys = ["_index_sampler_state", "_sampler_iter_state", "_sampler_iter_yielded", "_num_yielded",
               "_IterableDataset_len_called", "_shared_seed", "fetcher_state", "dataset_state",
               "_iterator_finished"]
assert list(state["dataloader"]) == loader_keys, state["dataloader"]
assert state["dataloader"]["_iterator_finished"] is False, state["dataloader"]
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
ids = opt["param_groups"][0]["params"]
if "--named" in sys.argv[2:]:
    assert ids[0] == "tok_embeddings.weight" and ids[-1] == "output.weight", ids
    assert all(isinstance(i, str) for i in ids) and list(opt["state"]) == ids, list(opt["state"])[:3]
params = [torch.nn.Parameter(torch.zeros(opt["state"][i]["exp_avg"].shape)) for i in ids]
adamw = torch.optim.AdamW(params)
adamw.load_state_dict(opt)
for p in params:
    p.grad = torch.ones_like(p)
adamw.step()
print("ok:", keys, "steps", float(next(iter(opt["state"].values()))["step"]))
