#!/usr/bin/env python3
"""The embedded default model: a small random Llama2-architecture model in Hugging Face
layout, with the project's tokenizer, written to assets/tiny_llama2/ (config.json,
model.safetensors, tokenizer.model). configs/llama2/tiny_full.yaml fine-tunes it on the
project's own dataset in about a minute on a CPU.

    ~/.cache/torchtune_cpp/venv/bin/python tests/scripts/make_tiny_llama.py
"""

import json
import shutil
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "assets/tiny_llama2"


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=512,
                         rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
                         bos_token_id=1, eos_token_id=2, pad_token_id=0, torch_dtype="float32")
    model = LlamaForCausalLM(config)
    model.save_pretrained(OUT, safe_serialization=True)
    (OUT / "generation_config.json").unlink(missing_ok=True)
    shutil.copy(ROOT / "tests/assets/tokenizer/tokenizer.model", OUT / "tokenizer.model")
    n = sum(p.numel() for p in model.parameters())
    (OUT / "README.md").write_text(
        "A small random Llama2-architecture model (vocab 512, 2 layers, dim 64, "
        f"{n:,} parameters) and the project's tokenizer: the embedded default that "
        "configs/llama2/tiny_full.yaml fine-tunes. Made by tests/scripts/make_tiny_llama.py "
        f"with torch {torch.__version__}.\n")
    print(f"{n} parameters -> {OUT}")


if __name__ == "__main__":
    main()
