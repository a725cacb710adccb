#!/usr/bin/env python3
"""Generate golden fixtures for the Alpaca datasets, collation and sampler order.

Runs torchtune v0.6.1 itself on the project's own data
(tests/assets/data/alpaca_tiny.json, alpaca_tiny_renamed.jsonl) and the test
tokenizer (tests/assets/tokenizer/tokenizer.model), and writes
tests/assets/golden/data/alpaca.json:

* "datasets": for each case (train_on_input, prompt template, column_map,
  JSON array or JSON Lines), the "tokens" and "labels" of every sample of
  ``torchtune.datasets.alpaca_dataset(..., source="json", data_files=...)``.
* "splits": for split slices such as "train[:10%]" or "train[:5]+train[-3:]",
  the indices (into the whole file) of the records the dataset holds.
* "collate": ``padded_collate_sft`` of fixed batches of those samples.
* "sampler": the index order of the recipes' sampler (torchdata's
  StatefulDistributedSampler, i.e. DistributedSampler semantics) for seeds,
  epochs, world sizes, shuffle and drop_last; "sampler_large": Alpaca-sized
  and larger orders as head, tail and checksum.
* "packed": ``alpaca_dataset(..., packed=True)`` with max_seq_len set on the
  tokenizer: each pack's tokens, labels, input_pos and seq_lens, and
  ``padded_collate_packed`` of a batch of packs (on CPU its mask is the boolean
  [b, s, s] block-causal tensor, stored as hex of numpy.packbits over the
  flattened mask).

Usage (torchtune environment):

    PY=$(scripts/torchtune_env.sh | tail -n 1)
    "$PY" tests/scripts/make_data_fixtures.py
"""

import json
import os
import platform
from pathlib import Path

import datasets
import numpy as np
import torch
import torchtune
from torchtune.data import padded_collate_packed, padded_collate_sft
from torchtune.datasets import alpaca_cleaned_dataset, alpaca_dataset
from torchtune.models.llama2 import llama2_tokenizer

try:
    from torchdata.stateful_dataloader.sampler import StatefulDistributedSampler as Sampler
except ImportError:  # same order: StatefulDistributedSampler subclasses it
    from torch.utils.data import DistributedSampler as Sampler

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = "tests/assets/tokenizer/tokenizer.model"
DATA = "tests/assets/data/alpaca_tiny.json"
DATA_RENAMED = "tests/assets/data/alpaca_tiny_renamed.jsonl"
OUT_PATH = "tests/assets/golden/data/alpaca.json"
# Hugging Face split slices ("closest" rounding of percentages, negative indices, "+").
SPLITS = ["train[:10%]", "train[10%:25%]", "train[-5:]", "train[3:7]", "train[:33%]",
          "train[-10%:]", "train[:5]+train[-3:]", "train[50:100]", "train[7:3]", "train[1_0:1_2]",
          "train[:-60]", "train[-100%:1%]", "train[5:50%]", "train[:]", "train[:2%]+train[98%:]"]
RENAMED = {"instruction": "task", "input": "context", "output": "answer"}


def write_renamed_jsonl():
    """The first 12 records with renamed columns and an extra one, as JSON Lines."""
    records = json.loads((REPO_ROOT / DATA).read_text())[:12]
    with open(REPO_ROOT / DATA_RENAMED, "w") as f:
        for i, r in enumerate(records):
            row = {RENAMED[k]: v for k, v in r.items()}
            row["id"] = i
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def samples(ds):
    return [{"tokens": [int(t) for t in s["tokens"]], "labels": [int(t) for t in s["labels"]]}
            for s in ds]


def dataset_cases():
    cases = []
    for train_on_input in (True, False):
        for template in ("default", None):
            kw = {} if template == "default" else {"prompt_template": None}
            tok = llama2_tokenizer(MODEL, **kw)
            ds = alpaca_dataset(tok, source="json", data_files=DATA, split="train",
                                train_on_input=train_on_input)
            cases.append({"name": f"alpaca_json_train_on_input_{train_on_input}_template_{template}",
                          "builder": "alpaca_dataset", "data_files": DATA,
                          "train_on_input": train_on_input, "prompt_template": template,
                          "max_seq_len": None, "column_map": None, "samples": samples(ds)})
    tok = llama2_tokenizer(MODEL)
    ds = alpaca_cleaned_dataset(tok, source="json", data_files=DATA_RENAMED, split="train",
                                column_map=RENAMED, train_on_input=False)
    cases.append({"name": "alpaca_cleaned_jsonl_column_map", "builder": "alpaca_cleaned_dataset",
                  "data_files": DATA_RENAMED, "train_on_input": False,
                  "prompt_template": "default", "max_seq_len": None, "column_map": RENAMED,
                  "samples": samples(ds)})
    tok = llama2_tokenizer(MODEL, max_seq_len=40)
    ds = alpaca_dataset(tok, source="json", data_files=DATA, split="train")
    cases.append({"name": "alpaca_json_max_seq_len_40", "builder": "alpaca_dataset",
                  "data_files": DATA, "train_on_input": True, "prompt_template": "default",
                  "max_seq_len": 40, "column_map": None, "samples": samples(ds)})
    # A split selects records: store which ones, found by matching torchtune's samples
    # against the whole file's (all records tokenize differently).
    full = [json.dumps(x) for x in cases[0]["samples"]]
    assert len(set(full)) == len(full)
    tok = llama2_tokenizer(MODEL)
    splits = []
    for split in SPLITS:
        ds = alpaca_dataset(tok, source="json", data_files=DATA, split=split)
        splits.append({"split": split, "indices": [full.index(json.dumps(x)) for x in samples(ds)]})
    return cases, splits


def collate_cases(ds_samples):
    out = []
    for indices in ([0, 1, 2, 3], [4, 9, 35], [7], [42, 42]):
        batch = [ds_samples[i] for i in indices]
        c = padded_collate_sft(batch, padding_idx=0, ignore_idx=-100)
        out.append({"indices": indices, "tokens": c["tokens"].tolist(),
                    "labels": c["labels"].tolist()})
    return out


def sampler_cases():
    out = []
    for n in (64, 7):
        for world in (1, 2, 3):
            for shuffle in (True, False):
                for drop_last in (False, True):
                    for seed in (0, 5):
                        for epoch in (0, 1, 2):
                            ranks = []
                            for rank in range(world):
                                s = Sampler(list(range(n)), num_replicas=world, rank=rank,
                                            shuffle=shuffle, seed=seed, drop_last=drop_last)
                                s.set_epoch(epoch)
                                ranks.append([int(i) for i in s])
                            out.append({"n": n, "world_size": world, "shuffle": shuffle,
                                        "drop_last": drop_last, "seed": seed, "epoch": epoch,
                                        "indices": ranks})
    return out


def sampler_large_cases():
    """Alpaca-sized orders, stored as head, tail and checksum sum(i * index)."""
    out = []
    for n, world, rank, epoch in ((52002, 1, 0, 0), (52002, 1, 0, 1), (52002, 8, 3, 0),
                                  (1000003, 2, 1, 4)):
        s = Sampler(list(range(n)) if n < 100000 else range(n), num_replicas=world, rank=rank,
                    shuffle=True, seed=0)
        s.set_epoch(epoch)
        idx = [int(i) for i in s]
        out.append({"n": n, "world_size": world, "rank": rank, "epoch": epoch, "seed": 0,
                    "size": len(idx), "head": idx[:20], "tail": idx[-20:],
                    "checksum": sum(i * v for i, v in enumerate(idx))})
    return out


def packed_cases():
    out = []
    for max_seq_len in (160, 400):
        tok = llama2_tokenizer(MODEL, max_seq_len=max_seq_len)
        ds = alpaca_dataset(tok, source="json", data_files=DATA, split="train", packed=True)
        packs = [{k: p[k].tolist() for k in ("tokens", "labels", "input_pos", "seq_lens")}
                 for p in ds]
        batch_indices = [0, len(ds) - 1]
        c = padded_collate_packed([ds[i] for i in batch_indices])
        assert c["mask"].dtype == torch.bool, type(c["mask"])
        collate = {"indices": batch_indices, "tokens": c["tokens"].tolist(),
                   "labels": c["labels"].tolist(), "input_pos": c["input_pos"].tolist(),
                   "mask_shape": list(c["mask"].shape),
                   "mask_packbits_hex": np.packbits(c["mask"].numpy().reshape(-1)).tobytes().hex()}
        out.append({"max_seq_len": max_seq_len, "train_on_input": True, "packs": packs,
                    "collate": collate})
    return out


def main():
    os.chdir(REPO_ROOT)
    write_renamed_jsonl()
    ds_cases, splits = dataset_cases()
    fixture = {
        "versions": {"torchtune": torchtune.__version__, "torch": torch.__version__,
                     "datasets": datasets.__version__, "python": platform.python_version(),
                     "sampler": f"{Sampler.__module__}.{Sampler.__name__}"},
        "tokenizer": MODEL,
        "datasets": ds_cases,
        "splits": splits,
        "collate": collate_cases(ds_cases[0]["samples"]),
        "sampler": sampler_cases(),
        "sampler_large": sampler_large_cases(),
        "packed": packed_cases(),
    }
    out = REPO_ROOT / OUT_PATH
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
    print(f"wrote {OUT_PATH}: {len(ds_cases)} dataset cases, {len(fixture['sampler'])} sampler cases")


if __name__ == "__main__":
    main()
