"""Checkpoint folders in every input format the checkpointers read, all holding the weights of
tests/assets/golden/llama/hf_mha/model.safetensors (a 2-layer transformers Llama):

  hf_bin_2shard/   pytorch_model-0000{1,2}-of-00002.bin + pytorch_model.bin.index.json, as old
                   HF repos ship them (torch.save of OrderedDicts; shard 1 also carries a
                   rotary_emb.inv_freq buffer, which loaders drop but the index keeps), plus
                   config.json, generation_config.json and original/params.json (side files)
  hf_st_2shard/    model-0000{1,2}-of-00002.safetensors + model.safetensors.index.json
  meta/            consolidated.00.pth (torchtune's tune_to_meta of the same weights)
  torchtune/       model.pt (torchtune keys, torchtune's hf_to_tune)

Run with the torchtune 0.6.1 environment so the conversions are torchtune's own:
  $HOME/.cache/torchtune_cpp/venv-torchtune/bin/python tests/scripts/make_checkpointing_fixtures.py
"""
import json
import os
import shutil
from collections import OrderedDict

import torch
from safetensors.torch import load_file, save_file
from torchtune.models import convert_weights

ROOT = os.path.join(os.path.dirname(__file__), "..", "assets", "golden")
SRC = os.path.join(ROOT, "llama", "hf_mha")
OUT = os.path.join(ROOT, "checkpointing")


def fresh(name):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def write_index(folder, fname, shards, ext):
    weight_map, total = {}, 0
    for i, shard in enumerate(shards):
        name = f"model-{i + 1:05}-of-{len(shards):05}{ext}" if ext == ".safetensors" else \
            f"pytorch_model-{i + 1:05}-of-{len(shards):05}{ext}"
        for k, t in shard.items():
            weight_map[k] = name
            total += t.numel() * t.element_size()
    with open(os.path.join(folder, fname), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def main():
    sd = load_file(os.path.join(SRC, "model.safetensors"))
    keys = sorted(sd)
    first = [k for k in keys if "embed_tokens" in k or ".layers.0." in k]
    shards = [OrderedDict((k, sd[k].clone()) for k in first),
              OrderedDict((k, sd[k].clone()) for k in keys if k not in first)]
    cfg = json.load(open(os.path.join(SRC, "config.json")))

    d = fresh("hf_st_2shard")
    shutil.copy(os.path.join(SRC, "config.json"), d)
    for i, shard in enumerate(shards):
        save_file(dict(shard), os.path.join(d, f"model-{i + 1:05}-of-00002.safetensors"),
                  metadata={"format": "pt"})
    write_index(d, "model.safetensors.index.json", shards, ".safetensors")

    d = fresh("hf_bin_2shard")
    shutil.copy(os.path.join(SRC, "config.json"), d)
    with open(os.path.join(d, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "eos_token_id": 2}, f, indent=2)
    os.makedirs(os.path.join(d, "original"))
    with open(os.path.join(d, "original", "params.json"), "w") as f:
        json.dump({"dim": cfg["hidden_size"], "n_layers": cfg["num_hidden_layers"]}, f)
    hd = cfg["head_dim"]
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    bin_shards = [OrderedDict(shards[0]), OrderedDict(shards[1])]
    bin_shards[0]["model.layers.0.self_attn.rotary_emb.inv_freq"] = inv_freq
    for i, shard in enumerate(bin_shards):
        torch.save(shard, os.path.join(d, f"pytorch_model-{i + 1:05}-of-00002.bin"))
    write_index(d, "pytorch_model.bin.index.json", bin_shards, ".bin")

    tune = convert_weights.hf_to_tune(dict(sd), num_heads=cfg["num_attention_heads"],
                                      num_kv_heads=cfg["num_key_value_heads"],
                                      dim=cfg["hidden_size"], head_dim=cfg.get("head_dim"))
    d = fresh("torchtune")
    torch.save(OrderedDict((k, v.clone()) for k, v in tune.items()), os.path.join(d, "model.pt"))

    meta = convert_weights.tune_to_meta(tune)
    d = fresh("meta")
    torch.save(OrderedDict((k, v.clone()) for k, v in meta.items()),
               os.path.join(d, "consolidated.00.pth"))
    with open(os.path.join(d, "params.json"), "w") as f:
        json.dump({"dim": cfg["hidden_size"], "n_layers": cfg["num_hidden_layers"]}, f)


if __name__ == "__main__":
    main()
