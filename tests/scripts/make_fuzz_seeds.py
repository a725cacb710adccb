#!/usr/bin/env python3
"""Seeds for the torch.save fuzz harness (tests/fuzz/torch_save_fuzz.cpp) that the fixtures of
tests/assets do not cover: nn.Parameter (_rebuild_parameter), tuple keys, bytes and big ints
as torch.save writes them; an OrderedDict called with a list of pairs, which Python's
weights_only unpickler reads but torch.save never writes; and, for coverage only, the other
opcodes load_torch_file reads. The first two are loaded back with torch.load(weights_only=True)
here, so they are seeds Python accepts.

    tests/fuzz/corpus/torch_save/seed_parameters.pt
    tests/fuzz/corpus/torch_save/seed_ordered_dict_pairs.pt
    tests/fuzz/corpus/torch_save/seed_more_opcodes.pt

Usage (from the repo root):

    $HOME/.cache/torchtune_cpp/venv/bin/python tests/scripts/make_fuzz_seeds.py
"""

import collections
import io
import zipfile
from pathlib import Path

import torch

OUT = Path(__file__).resolve().parents[2] / "tests/fuzz/corpus/torch_save"


def parameters(path):
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2)
    obj = {
        "params": [layer.weight, layer.bias],  # nn.Parameter: _rebuild_parameter
        "state": collections.OrderedDict([("w", torch.randn(2, 2)), ("w_t", None)]),
        ("tuple", 1): b"\x00\xffbytes",
        "big": 2**62,
        "neg": -(2**40),
        "f": 1.5,
        "nested": [[1, [2, (3, "x")]], {"k": True}],
    }
    obj["state"]["w_t"] = obj["state"]["w"].t()
    torch.save(obj, path)


def ordered_dict_pickle():
    """Protocol 2, op by op, with opcodes torch.load(weights_only=True) reads but torch.save
    never writes: OrderedDict([('a', 1), ('b', [1, 2**15 - 1, 's'])]) called with a list of pairs,
    then SETITEM, APPEND, SHORT_BINSTRING and LONG1."""
    p = b"\x80\x02"
    p += b"ccollections\nOrderedDict\n"
    p += b"(](" + b"X\x01\x00\x00\x00a" + b"J\x01\x00\x00\x00" + b"\x86"  # args, pairs, ('a', 1)
    p += b"X\x01\x00\x00\x00b" + b"](K\x01\x8a\x02\xff\x7fU\x01se" + b"\x86"  # ('b', [...])
    p += b"et" + b"R"  # APPENDS the pairs, args tuple, REDUCE
    p += b"X\x01\x00\x00\x00c" + b"]K\x03a" + b"s"  # SETITEM 'c' -> [3] (APPEND)
    p += b"."
    return p


def more_opcodes_pickle():
    """Protocol 2 and 4 opcodes load_torch_file reads (building only the same kinds of value)
    that Python's weights_only unpickler does not: FRAME, MEMOIZE, STACK_GLOBAL,
    SHORT_BINUNICODE, BINUNICODE8, BINSTRING, BINBYTES, SHORT_BINBYTES, LONG4, LIST, DICT,
    POP, POP_MARK, DUP. This seed is for coverage only; Python refuses it."""
    p = b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00"  # PROTO 4, FRAME
    p += b"\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)R\x94"  # STACK_GLOBAL, call
    p += b"(\x8c\x01a\x8d\x02\x00\x00\x00\x00\x00\x00\x00ok\x8c\x01sT\x03\x00\x00\x00str"  # keys, values
    p += b"\x8c\x01b(C\x02hiB\x03\x00\x00\x00abc\x8b\x02\x00\x00\x00\xff\x7fl"  # LIST
    p += b"\x8c\x01c(\x8c\x01kK\x02d"  # DICT
    p += b"u"  # SETITEMS
    p += b"(N1N02" + b"0."  # POP_MARK, POP, DUP, POP, STOP
    return p


def with_pickle(pickle_bytes):
    def make(path):
        buf = io.BytesIO()
        torch.save({"x": 1}, buf)
        src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst:
            for name in src.namelist():
                data = pickle_bytes if name.endswith("/data.pkl") else src.read(name)
                dst.writestr(name, data)
    return make


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    seeds = (("seed_parameters.pt", parameters, True),
             ("seed_ordered_dict_pairs.pt", with_pickle(ordered_dict_pickle()), True),
             ("seed_more_opcodes.pt", with_pickle(more_opcodes_pickle()), False))
    for name, make, python_reads in seeds:
        path = OUT / name
        make(path)
        if python_reads:
            loaded = torch.load(path, weights_only=True)
            print(f"{name}: {path.stat().st_size} bytes, Python reads {loaded!r:.100}")
        else:
            print(f"{name}: {path.stat().st_size} bytes (coverage only)")


if __name__ == "__main__":
    main()
