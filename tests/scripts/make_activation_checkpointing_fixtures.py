#!/usr/bin/env python3
"""Generate the golden fixture for which layers activation checkpointing wraps.

Runs torchtune v0.6.1's own code for each combination of keys, as its distributed recipe
(recipes/full_finetune_distributed.py, _setup_model) runs it on a model of 6 layers:

    if (not enable_activation_checkpointing) and (ac_mode is not None):
        apply_selective_activation_checkpointing(model, ac_mode, ac_option)
    if enable_activation_checkpointing and ac_mode is None:
        training.set_activation_checkpointing(model, auto_wrap_policy={TransformerSelfAttentionLayer})

and records, per case, the 0-based indices of the layers that ended up wrapped for
checkpointing, or the exception torchtune raised. Each case starts as a fresh recipe
process would: apply_selective_activation_checkpointing counts layers on a function
attribute that lives as long as the process, reset here before every case.

Usage (writes tests/assets/golden/activation_checkpointing/cases.json):

    PY=$(scripts/torchtune_env.sh | tail -n 1)
    "$PY" tests/scripts/make_activation_checkpointing_fixtures.py
"""

import json
import platform
from pathlib import Path

import torch
import torchtune
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import CheckpointWrapper
from torchtune import modules, training
from torchtune.models.llama2 import llama2
from torchtune.training import activations
from torchtune.training.activations import apply_selective_activation_checkpointing

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/assets/golden/activation_checkpointing/cases.json"
NUM_LAYERS = 6

# (enable_activation_checkpointing, ac_mode, ac_option); None is YAML null / absent.
CASES = [
    (False, None, None),
    (True, None, None),
    (True, None, 2),
    (False, "full", None),
    (False, "full", 3),
    (False, "none", None),
    (False, "selective", 1),
    (False, "selective", 2),
    (False, "selective", 3),
    (False, "selective", 4),
    (False, "selective", 6),
    (False, "selective", 7),
    (False, "selective", 0),
    (False, "selective", "2"),
    (False, "selective", -1),
    (False, "selective", None),
    (False, "selective", "op"),
    (True, "selective", 2),
    (True, "full", None),
    (False, "Full", None),
    (False, "selective", 2.5),
]


def run(enable, mode, option):
    if hasattr(activations.checkpoint_wrapper, "_count"):
        del activations.checkpoint_wrapper._count
    with torch.device("meta"):
        model = llama2(vocab_size=64, num_layers=NUM_LAYERS, num_heads=2, num_kv_heads=2,
                       embed_dim=16, max_seq_len=32)
    if (not enable) and (mode is not None):
        apply_selective_activation_checkpointing(model, mode, option)
    if enable and mode is None:
        training.set_activation_checkpointing(
            model, auto_wrap_policy={modules.TransformerSelfAttentionLayer})
    return [i for i, layer in enumerate(model.layers) if isinstance(layer, CheckpointWrapper)]


def main():
    cases = []
    for enable, mode, option in CASES:
        case = {"enable_activation_checkpointing": enable, "ac_mode": mode, "ac_option": option}
        try:
            case["layers"] = run(enable, mode, option)
        except Exception as e:  # torchtune's own failure is the expected output
            case["error_type"] = type(e).__name__
            case["error"] = str(e)
        cases.append(case)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "generator": "tests/scripts/make_activation_checkpointing_fixtures.py",
        "versions": {"torchtune": torchtune.__version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "num_layers": NUM_LAYERS,
        "cases": cases,
    }, indent=1) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases)")


if __name__ == "__main__":
    main()
