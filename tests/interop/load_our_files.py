#!/usr/bin/env python3
"""Checkpoint files written by torchtune_cpp, loaded by the Python tools users will load them with.

usage: load_our_files.py <manifest.json>

The manifest (written by tests/unit/checkpoint_io_test.cpp next to the files) lists each file
and the values it must hold:

    {"files": [{"path": "x.pt", "format": "torch", "value": <tree>},
               {"path": "x.safetensors", "format": "safetensors",
                "metadata": {"format": "pt"}, "tensors": [[name, <tensor>], ...]}]}

<tree> is {"type": "none" | "bool" | "int" | "float" | "str" | "bytes" | "list" | "tuple" |
"dict" | "tensor", ...}; a dict gives "ordered" (collections.OrderedDict or dict) and "items"
[[key, value], ...]. A tensor is described by how to make it, not by its bytes, so the expected
values never pass through our own writers:

    (torch.arange(numel, dtype=float64) * step + start).to(dtype).reshape(shape), then .t() if
    "transpose"; tensors with the same "storage" group must share one storage after loading.

torch.save files are loaded with torch.load(weights_only=True), plain and with mmap=True (which
needs every storage record stored uncompressed); safetensors files with
safetensors.torch.load_file, plus a check of the header padding. Types must match exactly
(dict vs OrderedDict, list vs tuple, bool vs int), tensors bit for bit with the same strides.
"""
import collections
import json
import struct
import sys
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file

DTYPES = {name: getattr(torch, name) for name in
          ["float32", "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool"]}


def make_tensor(spec):
    shape = spec["shape"]
    numel = 1
    for d in shape:
        numel *= d
    t = (torch.arange(numel, dtype=torch.float64) * spec["step"] + spec["start"]).to(DTYPES[spec["dtype"]])
    t = t.reshape(shape)
    return t.t() if spec.get("transpose") else t


def build(spec):
    kind = spec["type"]
    if kind == "none":
        return None
    if kind in ("bool", "int", "float", "str"):
        return spec["value"]
    if kind == "bytes":
        return bytes.fromhex(spec["hex"])
    if kind == "tensor":
        return make_tensor(spec)
    if kind == "list":
        return [build(x) for x in spec["items"]]
    if kind == "tuple":
        return tuple(build(x) for x in spec["items"])
    if kind == "dict":
        cls = collections.OrderedDict if spec["ordered"] else dict
        return cls((build(k), build(v)) for k, v in spec["items"])
    raise ValueError(f"unknown type {kind}")


class Checker:
    def __init__(self, name):
        self.name = name
        self.errors = []
        self.groups = {}  # storage group -> data_ptr

    def fail(self, where, msg):
        self.errors.append(f"{self.name}{where}: {msg}")

    def tensor(self, got, want, where, check_stride=True):
        if not isinstance(got, torch.Tensor):
            return self.fail(where, f"expected a tensor, got {type(got).__name__}")
        if got.dtype != want.dtype or got.shape != want.shape:
            return self.fail(where, f"{got.dtype}{list(got.shape)} != {want.dtype}{list(want.shape)}")
        if check_stride and got.numel() > 1 and got.stride() != want.stride():
            self.fail(where, f"stride {got.stride()} != {want.stride()}")
        a = got.contiguous().reshape(-1).view(torch.uint8)
        b = want.contiguous().reshape(-1).view(torch.uint8)
        if not torch.equal(a, b):
            self.fail(where, "values differ")

    def value(self, got, spec, where=""):
        kind = spec["type"]
        if kind == "tensor":
            self.tensor(got, make_tensor(spec), where)
            if isinstance(got, torch.Tensor) and got.untyped_storage().nbytes() > 0:
                ptr = got.untyped_storage().data_ptr()
                group = spec["storage"]
                if self.groups.setdefault(group, ptr) != ptr:
                    self.fail(where, f"does not share storage group {group}")
                elif list(self.groups.values()).count(ptr) > 1:
                    self.fail(where, "shares a storage it should not")
            return
        want = build(spec)
        if type(got) is not type(want):
            return self.fail(where, f"type {type(got).__name__} != {type(want).__name__}")
        if kind in ("list", "tuple"):
            if len(got) != len(want):
                return self.fail(where, f"length {len(got)} != {len(want)}")
            for i, (g, s) in enumerate(zip(got, spec["items"])):
                self.value(g, s, f"{where}[{i}]")
        elif kind == "dict":
            keys = [build(k) for k, _ in spec["items"]]
            if list(got) != keys:
                return self.fail(where, f"keys {list(got)} != {keys}")
            for (k, s) in zip(keys, (v for _, v in spec["items"])):
                self.value(got[k], s, f"{where}[{k!r}]")
        elif kind == "float":
            if struct.pack("<d", got) != struct.pack("<d", want):
                self.fail(where, f"{got!r} != {want!r}")
        elif got != want:
            self.fail(where, f"{got!r} != {want!r}")


def check_torch(path, entry):
    errors = []
    for mmap in (False, True):
        c = Checker(f"{path.name} (mmap={mmap})")
        try:
            got = torch.load(path, weights_only=True, mmap=mmap)
        except Exception as e:  # noqa: BLE001 - report any loader failure
            return [f"{path.name}: torch.load(weights_only=True, mmap={mmap}) failed: {e}"]
        c.value(got, entry["value"])
        errors += c.errors
    return errors


def check_safetensors(path, entry):
    c = Checker(path.name)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    if n % 8 != 0 or raw[8:9] != b"{":
        c.fail("", f"header size {n} is not a multiple of 8 or does not start with '{{'")
    with safe_open(str(path), "pt") as f:
        if f.metadata() != entry["metadata"]:
            c.fail("", f"metadata {f.metadata()} != {entry['metadata']}")
    got = load_file(str(path))
    names = [name for name, _ in entry["tensors"]]
    if sorted(got) != sorted(names):
        c.fail("", f"tensor names {sorted(got)} != {sorted(names)}")
    for name, spec in entry["tensors"]:
        if name in got:
            c.tensor(got[name], make_tensor(spec).contiguous(), f"[{name}]", check_stride=False)
    return c.errors


def main():
    manifest_path = Path(sys.argv[1])
    manifest = json.loads(manifest_path.read_text())
    errors = []
    for entry in manifest["files"]:
        path = manifest_path.parent / entry["path"]
        check = check_torch if entry["format"] == "torch" else check_safetensors
        errs = check(path, entry)
        errors += errs
        print(f"{'FAIL' if errs else 'ok'} {entry['path']}")
    for e in errors:
        print(f"  {e}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
