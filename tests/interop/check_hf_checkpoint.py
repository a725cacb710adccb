#!/usr/bin/env python3
"""Loads a checkpoint folder written by torchtune_cpp with transformers and checks its logits
against ours.

usage: check_hf_checkpoint.py <hf folder> <ours.safetensors with "tokens" and "logits">
Exit 0 when transformers' logits equal ours within 1e-5.
"""
import sys

import torch
from safetensors.torch import load_file
from transformers import LlamaForCausalLM


def main() -> int:
    folder, ours_path = sys.argv[1], sys.argv[2]
    ours = load_file(ours_path)
    model = LlamaForCausalLM.from_pretrained(folder, torch_dtype=torch.float32, attn_implementation="eager")
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=ours["tokens"]).logits.float()
    diff = (logits - ours["logits"]).abs().max().item()
    print(f"max |transformers - ours| = {diff:.3g}")
    return 0 if diff <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
