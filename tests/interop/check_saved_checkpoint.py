#!/usr/bin/env python3
"""Reads checkpoints saved by torchtune_cpp's checkpointers with the reference tools.

usage: check_saved_checkpoint.py <reference.safetensors> <hf epoch folder> [more .bin/.pt files]

- the HF folder loads with transformers.LlamaForCausalLM.from_pretrained, and its logits on
  the reference's "tokens" match the reference's "logits" within 1e-5;
- every further file loads with torch.load(weights_only=True) as a dict of tensors (a
  recipe_state.pt as a non-empty dict); a folder
  given there (an HF .bin output) is loaded with from_pretrained too.
Prints one line per check; exit 0 when all pass.
"""
import os
import sys

import torch
from safetensors.torch import load_file
from transformers import LlamaForCausalLM


def check_logits(folder, ref):
    model = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=ref["tokens"]).logits.float()
    diff = (logits - ref["logits"]).abs().max().item()
    print(f"{folder}: max |logits - reference| = {diff:.3g}")
    return diff <= 1e-5


def main() -> int:
    ref = load_file(sys.argv[1])
    ok = check_logits(sys.argv[2], ref)
    for path in sys.argv[3:]:
        if os.path.isdir(path):
            ok = check_logits(path, ref) and ok
            continue
        sd = torch.load(path, map_location="cpu", weights_only=True)
        if os.path.basename(path) == "recipe_state.pt":  # a plain dict of training state
            good = isinstance(sd, dict) and len(sd) > 0
        else:
            good = isinstance(sd, dict) and len(sd) > 0 and all(isinstance(v, torch.Tensor) for v in sd.values())
        print(f"{path}: torch.load(weights_only=True) -> {type(sd).__name__} of {len(sd)} entries: "
              f"{'ok' if good else 'BAD'}")
        ok = ok and good
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
