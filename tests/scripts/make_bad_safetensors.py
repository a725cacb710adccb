#!/usr/bin/env python3
"""Malformed (and borderline valid) safetensors files, each judged by Python's safetensors.

Every file is crafted byte by byte here, then opened with both safetensors.safe_open and
safetensors.torch.load_file; expected.json records whether Python refused it (and its
message) or loaded it (and the tensors it returned). SafetensorsFile must refuse every file
Python refuses, naming the file (and the tensor key where one is at fault), and read the
files Python reads to the same tensors (tests/unit/reader_limits_test.cpp).

    tests/assets/golden/safetensors_bad/
      <case>.safetensors   one file per case (a few hundred bytes at most)
      expected.json        {"cases": [{"file", "what", "python": "refused" | "loaded",
                             "python_error" | "tensors": {key: {dtype, shape, values}},
                             "names": key our message must contain (optional)}]}
      versions.json

Usage (from the repo root):

    $HOME/.cache/torchtune_cpp/venv/bin/python tests/scripts/make_bad_safetensors.py
"""

import json
import platform
import shutil
import struct
from pathlib import Path

import safetensors
import torch
from safetensors import safe_open
from safetensors.torch import load_file

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT = REPO_ROOT / "tests/assets/golden/safetensors_bad"


def f32(*values):
    return struct.pack(f"<{len(values)}f", *values)


def entry(dtype="F32", shape=(4,), offsets=(0, 16), **extra):
    e = {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}
    e.update(extra)
    return e


def file_bytes(header, data=b"", size=None):
    """8-byte little-endian header length, the header (a dict dumped as JSON, or raw bytes),
    then the data. `size` overrides the declared header length."""
    h = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(h) if size is None else size) + h + data


A = f32(1, 2, 3, 4)
B = f32(5, 6, 7, 8)
GOOD = {"a": entry(offsets=(0, 16)), "b": entry(offsets=(16, 32))}

# (name, what it shows, the file's bytes, the key our message must name or None)
CASES = [
    # -- the data region: offsets must tile it exactly, in order, from 0 to its end
    ("overlap", "b's data_offsets overlap a's: b would read a's last 8 bytes",
     file_bytes({"a": entry(offsets=(0, 16)), "b": entry(offsets=(8, 24))}, A + f32(9, 9)), "b"),
    ("alias", "two tensors over the same bytes",
     file_bytes({"a": entry(offsets=(0, 16)), "b": entry(offsets=(0, 16))}, A), "b"),
    ("gap", "4 bytes inserted between a and b (b's offsets shifted past them)",
     file_bytes({"a": entry(offsets=(0, 16)), "b": entry(offsets=(20, 36))}, A + b"\0" * 4 + B), "b"),
    ("leading_gap", "the first tensor does not start at offset 0",
     file_bytes({"a": entry(offsets=(4, 20))}, b"\0" * 4 + A), "a"),
    ("trailing_bytes", "3 bytes after the last tensor",
     file_bytes(GOOD, A + B + b"xyz"), None),
    ("truncated", "the last 4 data bytes are missing",
     file_bytes(GOOD, A + B[:-4]), "b"),
    ("data_without_tensors", "no tensors but a data byte",
     file_bytes({}, b"\0"), None),
    ("offsets_reversed", "end before begin",
     file_bytes({"a": entry(dtype="U8", shape=(0,), offsets=(4, 0))}, b"\0" * 4), "a"),
    # -- shape, dtype and offsets must agree, without overflow
    ("size_mismatch", "shape [3] of F32 needs 12 bytes, the offsets span 16",
     file_bytes({"a": entry(shape=(3,), offsets=(0, 16))}, A), "a"),
    ("shape_bytes_overflow", "shape [2**62 + 64] of F32 is 2**64 + 256 bytes: wraps to 256",
     file_bytes({"a": entry(shape=(2**62 + 64,), offsets=(0, 256))}, b"\0" * 256), "a"),
    ("shape_numel_overflow", "shape [2**32, 2**32] has 2**64 elements: wraps to 0",
     file_bytes({"a": entry(dtype="U8", shape=(2**32, 2**32), offsets=(0, 0))}), "a"),
    ("shape_u64_max", "a dimension of 2**64 - 1",
     file_bytes({"a": entry(dtype="U8", shape=(2**64 - 1,), offsets=(0, 0))}), "a"),
    # -- JSON types: shape and data_offsets are unsigned integers, dtype a known name
    ("shape_float", "a float in the shape",
     file_bytes({"a": entry(shape=(4.0,))}, A), "a"),
    ("shape_exponent", "an integer written with an exponent (a float in JSON)",
     file_bytes(b'{"a":{"dtype":"F32","shape":[4e0],"data_offsets":[0,16]}}', A), "a"),
    ("shape_negative_zero", "-0 in the shape (a float in JSON)",
     file_bytes(b'{"a":{"dtype":"F32","shape":[-0,4],"data_offsets":[0,0]}}'), "a"),
    ("shape_negative", "a negative dimension",
     file_bytes({"a": entry(shape=(-4,))}, A), "a"),
    ("shape_string", "the shape is a string",
     file_bytes({"a": entry(shape="4")}, A), "a"),
    ("shape_bool", "true in the shape",
     file_bytes({"a": entry(dtype="U8", shape=(True,), offsets=(0, 1))}, b"\0"), "a"),
    ("offsets_string", "data_offsets is a string",
     file_bytes({"a": entry(offsets="0,16")}, A), "a"),
    ("offsets_float", "a float in data_offsets",
     file_bytes({"a": entry(offsets=(0, 16.0))}, A), "a"),
    ("offsets_three", "three data_offsets",
     file_bytes({"a": entry(offsets=(0, 16, 16))}, A), "a"),
    ("offsets_one", "one data_offset",
     file_bytes({"a": entry(offsets=(16,))}, A), "a"),
    ("offsets_strings", "data_offsets holds strings",
     file_bytes({"a": entry(offsets=("0", "16"))}, A), "a"),
    ("offsets_negative", "a negative data_offset",
     file_bytes({"a": entry(dtype="U8", shape=(0,), offsets=(-1, -1))}), "a"),
    ("offsets_past_u64", "a data_offset of 2**64 (a float in JSON)",
     file_bytes({"a": entry(offsets=(0, 2**64))}, A), "a"),
    ("dtype_unknown", "dtype F31",
     file_bytes({"a": entry(dtype="F31")}, A), "a"),
    ("dtype_lowercase", "dtype f32 (names are upper case)",
     file_bytes({"a": entry(dtype="f32")}, A), "a"),
    ("dtype_number", "dtype is a number",
     file_bytes({"a": entry(dtype=4)}, A), "a"),
    ("dtype_null", "dtype is null",
     file_bytes({"a": entry(dtype=None)}, A), "a"),
    ("missing_dtype", "no dtype",
     file_bytes({"a": {"shape": [4], "data_offsets": [0, 16]}}, A), "a"),
    ("missing_shape", "no shape",
     file_bytes({"a": {"dtype": "F32", "data_offsets": [0, 16]}}, A), "a"),
    ("missing_offsets", "no data_offsets",
     file_bytes({"a": {"dtype": "F32", "shape": [4]}}, A), "a"),
    ("entry_not_object", "a tensor entry that is a number",
     file_bytes({"a": 5}), "a"),
    ("duplicate_field", "dtype given twice in one entry",
     file_bytes(b'{"a":{"dtype":"F32","dtype":"F32","shape":[4],"data_offsets":[0,16]}}', A), "a"),
    # -- __metadata__: a str -> str map (or null)
    ("metadata_int_value", "__metadata__ holds an int",
     file_bytes({"__metadata__": {"format": 1}, **GOOD}, A + B), "__metadata__"),
    ("metadata_not_object", "__metadata__ is a string",
     file_bytes({"__metadata__": "pt", **GOOD}, A + B), "__metadata__"),
    ("metadata_twice", "__metadata__ given twice",
     file_bytes(b'{"__metadata__":{"k":"v"},"__metadata__":{"k":"w"},'
                b'"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', A), "__metadata__"),
    # -- the header itself
    ("header_array", "the header is a JSON array",
     file_bytes(b"[]"), None),
    ("header_invalid_json", "the header is cut in the middle of the JSON",
     file_bytes(b'{"a":{"dtype":"F32","shape":[4],'), None),
    ("header_bad_utf8", "a key with a byte that is not UTF-8",
     file_bytes(b'{"\xff":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', A), None),
    ("header_bom", "a UTF-8 byte-order mark before the JSON",
     file_bytes(b'\xef\xbb\xbf{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', A), None),
    ("header_nul_padding", "the header padded with NUL bytes instead of spaces",
     file_bytes(b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}\0\0\0', A), None),
    ("header_deep", "an extra field nested 200 levels deep (serde_json stops at 128)",
     file_bytes(b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16],"x":' + b"[" * 200 + b"]" * 200 +
                b"}}", A), None),
    ("header_too_large", "a declared header size of 100,000,001 bytes (the limit is 100,000,000)",
     file_bytes({}, b"", size=100_000_001), None),
    ("header_past_end", "a declared header size larger than the file",
     file_bytes({}, b"", size=1000), None),
    ("header_empty", "a header of 0 bytes",
     file_bytes(b""), None),
    ("too_short", "5 bytes: shorter than the header length field",
     b"\x10\0\0\0\0", None),
    # -- borderline but valid: read as Python reads them
    ("ok_two_tensors", "two F32 tensors",
     file_bytes(GOOD, A + B), None),
    ("ok_unsorted_header", "header keys in another order than the data",
     file_bytes({"b": entry(offsets=(16, 32)), "a": entry(offsets=(0, 16))}, A + B), None),
    ("ok_padding", "header padded with spaces, and leading spaces",
     file_bytes(b'  {"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}      ', A), None),
    ("ok_extra_field", "an unknown field in an entry (ignored by Python)",
     file_bytes({"a": entry(offsets=(0, 16), note={"x": [1, 2]})}, A), None),
    ("ok_metadata_null", "__metadata__ null",
     file_bytes({"__metadata__": None, "a": entry()}, A), None),
    ("ok_metadata", "__metadata__ str -> str, after the tensors",
     file_bytes(b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"__metadata__":{"format":"pt"}}', A),
     None),
    ("ok_scalar_and_empty", "a 0-dim tensor and two empty ones",
     file_bytes({"e": entry(shape=(0, 3), offsets=(0, 0)), "s": entry(dtype="BF16", shape=(), offsets=(0, 2)),
                 "z": entry(dtype="I64", shape=(2, 0), offsets=(2, 2))}, b"\x80\x3f"), None),
    ("ok_duplicate_key", "a tensor key given twice: the last entry wins, as in Python",
     file_bytes(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                b'"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', A), None),
    ("ok_empty", "no tensors at all",
     file_bytes({}), None),
    ("ok_unaligned", "a header length that leaves the F32 data unaligned",
     file_bytes(b'{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', A), None),
]


def judge(path):
    """('loaded', tensors) or ('refused', message), by both of Python's entry points."""
    try:
        tensors = load_file(path)
        with safe_open(path, framework="pt") as f:
            keys = set(f.keys())
            metadata = f.metadata()
        assert keys == set(tensors), (keys, set(tensors))
    except Exception as e:  # noqa: BLE001 - any refusal counts
        return "refused", f"{type(e).__name__}: {e}"
    out = {}
    for k, t in tensors.items():
        out[k] = {"dtype": str(t.dtype).replace("torch.", ""), "shape": list(t.shape),
                  "values": t.to(torch.float64).flatten().tolist()}
    return "loaded", {"tensors": out, "metadata": metadata}


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    cases = []
    for name, what, data, names in CASES:
        path = OUT / f"{name}.safetensors"
        path.write_bytes(data)
        verdict, detail = judge(str(path))
        case = {"file": path.name, "what": what, "python": verdict}
        if verdict == "refused":
            case["python_error"] = detail
        else:
            case.update(detail)
        if names is not None:
            case["names"] = names
        expect_ok = name.startswith("ok_")
        assert (verdict == "loaded") == expect_ok, (name, verdict, detail)
        cases.append(case)
    (OUT / "expected.json").write_text(json.dumps({"cases": cases}, indent=1) + "\n")
    (OUT / "versions.json").write_text(json.dumps({
        "python": platform.python_version(),
        "safetensors": safetensors.__version__,
        "torch": torch.__version__,
    }, indent=2) + "\n")
    print(f"{len(cases)} cases in {OUT}")


if __name__ == "__main__":
    main()
