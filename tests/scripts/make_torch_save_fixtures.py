#!/usr/bin/env python3
"""Generate golden fixtures for the torch.save reader (torchtune_cpp/checkpointing/torch_load.h).

Every loadable file is written by the real torch.save and re-read here with
torch.load(weights_only=True), so the fixtures are exactly what Python produces and accepts:

    tests/assets/golden/torch_save/
      state_dict.pt                      OrderedDict state dict: fp32, bf16, fp16, int64,
                                         bool, a transposed view and an offset slice sharing
                                         the fp32 tensor's storage, a 0-dim tensor, and the
                                         `_metadata` attribute nn.Module.state_dict() sets
                                         (pickled with BUILD)
      pytorch_model-00001-of-00002.bin   a tiny transformers LlamaForCausalLM's weights split
      pytorch_model-00002-of-00002.bin   in two OrderedDict shards, as transformers 4.x wrote
      pytorch_model.bin.index.json       them with safe_serialization=False (transformers 5
                                         writes only safetensors), plus the index
      recipe_state.pt                    a torchtune 0.6 recipe_state.pt-like dict: seed,
                                         epochs, None, a dataloader state with a torch
                                         Generator state (uint8), and a real fused AdamW
                                         state_dict after 3 steps
      values.pt                          the scalar corners: negative, 2**40 and int64 min
                                         (LONG1), floats, unicode, bytes (_codecs.encode),
                                         tuples of every length, int keys, one list object
                                         referenced twice (BINGET), an empty OrderedDict
      legacy.pt                          the pre-1.6 non-zip format
      malicious.pt                       a valid zip whose data.pkl references os.system; the
                                         pickle bytes are written by hand and never unpickled
                                         here except by torch.load(weights_only=True), which
                                         refuses the GLOBAL before building anything
      truncated.pt                       state_dict.pt cut in half (no central directory)
      expected.json                      per file, the value tree: {"type": ...}; tensors give
                                         dtype, shape, stride, storage_offset, a storage group
                                         (equal groups share one storage) and a key into
      expected.safetensors               the tensors' values (contiguous copies)
      versions.json

Usage (from the repo root):

    $HOME/.cache/torchtune_cpp/venv/bin/python tests/scripts/make_torch_save_fixtures.py
"""

import collections
import io
import json
import platform
import zipfile
from pathlib import Path

import safetensors
import torch
import transformers
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT = REPO_ROOT / "tests/assets/golden/torch_save"


def state_dict_fixture():
    torch.manual_seed(0)
    sd = collections.OrderedDict()
    w = torch.randn(4, 6)
    sd["w_f32"] = w
    sd["w_bf16"] = torch.randn(3, 5).to(torch.bfloat16)
    sd["w_f16"] = torch.randn(2, 3).to(torch.float16)
    sd["ids_i64"] = torch.tensor([0, -1, 2**40, -(2**63), 2**63 - 1], dtype=torch.int64)
    sd["mask_bool"] = torch.tensor([True, False, False, True, True, False, True])
    sd["w_f32_t"] = w.t()  # non-contiguous view of w's storage
    sd["w_f32_slice"] = w[1:3, 2:5]  # offset view of w's storage
    sd["scale"] = torch.tensor(2.5)  # 0-dim
    sd["empty"] = torch.zeros(0, 3)
    # What nn.Module.state_dict() attaches; torch.save pickles it with BUILD.
    sd._metadata = collections.OrderedDict({"": {"version": 1}, "layer": {"version": 2}})
    return sd


def hf_shards():
    torch.manual_seed(1)
    cfg = LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32)
    sd = LlamaForCausalLM(cfg).state_dict()
    names = list(sd)
    half = len(names) // 2
    shards = [collections.OrderedDict((k, sd[k].clone()) for k in part)
              for part in (names[:half], names[half:])]
    index = {"metadata": {"total_size": sum(t.numel() * t.element_size() for t in sd.values())},
             "weight_map": {}}
    for i, shard in enumerate(shards):
        for k in shard:
            index["weight_map"][k] = f"pytorch_model-0000{i + 1}-of-00002.bin"
    return shards, index


def recipe_state_fixture():
    torch.manual_seed(2)
    params = [torch.nn.Parameter(torch.randn(4, 3)), torch.nn.Parameter(torch.randn(3))]
    opt = torch.optim.AdamW(params, lr=2e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01,
                            fused=True)
    for _ in range(3):
        loss = sum((p * p).sum() for p in params)
        loss.backward()
        opt.step()
        opt.zero_grad()
    gen = torch.Generator().manual_seed(123)
    dataloader = {
        "_index_sampler_state": {"samples_yielded": 8,
                                 "sampler_iter_state": {"generator": gen.get_state(), "yielded": 8}},
        "_sampler_iter_state": None,
        "_sampler_iter_yielded": 2,
        "_num_yielded": 2,
        "_IterableDataset_len_called": None,
        "_shared_seed": None,
        "fetcher_state": None,
        "dataset_state": None,
        "_iterator_finished": False,
    }
    return {
        "seed": 42,
        "epochs_run": 1,
        "total_epochs": 3,
        "max_steps_per_epoch": None,
        "dataloader": dataloader,
        "optimizer": opt.state_dict(),
    }


def values_fixture():
    shared = [1, 2, 3]
    return {
        "neg": -5,
        "int32_min": -(2**31),
        "big": 2**40,
        "int64_min": -(2**63),
        "int64_max": 2**63 - 1,
        "u16": 65535,
        "float": 1.5e-300,
        "neg_zero": -0.0,
        "lr": 2e-5,
        "text": "h\u00e9llo \u2603",
        "empty_str": "",
        "bytes": b"\x00\xff\x80ab",
        # No b"": protocol 2 pickles it as builtins.bytes(), which weights_only refuses.
        "t0": (),
        "t1": (1,),
        "t2": (1, "a"),
        "t3": (1, 2.5, None),
        "t5": (1, 2, 3, 4, (5,)),
        "int_keys": {0: "zero", -1: "minus one", 7: [True, False]},
        "shared_a": shared,
        "shared_b": shared,
        "empty_od": collections.OrderedDict(),
        "od": collections.OrderedDict([("z", 1), ("a", 2)]),
        "nested": [[], [[]], {"x": {}}],
    }


def malicious_zip(path):
    # GLOBAL os.system, the string "true", TUPLE1, REDUCE, STOP: a classic pickle exploit.
    # Written as bytes; nothing here unpickles it with a permissive unpickler.
    pkl = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("malicious/data.pkl", pkl)
        z.writestr("malicious/byteorder", "little")
        z.writestr("malicious/version", "3\n")


class Encoder:
    """The value tree as JSON; tensors go to a safetensors dict."""

    def __init__(self):
        self.tensors = {}
        self.storages = {}

    def __call__(self, v, file):
        if v is None:
            return {"type": "none"}
        if isinstance(v, bool):
            return {"type": "bool", "value": v}
        if isinstance(v, int):
            return {"type": "int", "value": v}
        if isinstance(v, float):
            return {"type": "float", "value": v}
        if isinstance(v, str):
            return {"type": "str", "value": v}
        if isinstance(v, bytes):
            return {"type": "bytes", "hex": v.hex()}
        if isinstance(v, torch.Tensor):
            ref = f"t{len(self.tensors)}"
            self.tensors[ref] = v.detach().clone().contiguous()
            storage_key = (file, v.untyped_storage().data_ptr())
            group = self.storages.setdefault(storage_key, len(self.storages))
            return {"type": "tensor", "ref": ref, "dtype": str(v.dtype).replace("torch.", ""),
                    "shape": list(v.shape), "stride": list(v.stride()),
                    "storage_offset": v.storage_offset(), "storage": group}
        if isinstance(v, tuple):
            return {"type": "tuple", "items": [self(x, file) for x in v]}
        if isinstance(v, list):
            return {"type": "list", "items": [self(x, file) for x in v]}
        if isinstance(v, dict):
            return {"type": "dict", "ordered": type(v) is collections.OrderedDict,
                    "items": [[self(k, file), self(x, file)] for k, x in v.items()]}
        raise TypeError(type(v))


def same(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, torch.Tensor):
        return (a.dtype == b.dtype and a.shape == b.shape and a.stride() == b.stride()
                and a.storage_offset() == b.storage_offset() and torch.equal(a, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b or (a != a and b != b)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    objects = {}

    objects["state_dict.pt"] = state_dict_fixture()
    shards, index = hf_shards()
    for i, shard in enumerate(shards):
        objects[f"pytorch_model-0000{i + 1}-of-00002.bin"] = shard
    (OUT / "pytorch_model.bin.index.json").write_text(json.dumps(index, indent=2) + "\n")
    objects["recipe_state.pt"] = recipe_state_fixture()
    objects["values.pt"] = values_fixture()

    encode = Encoder()
    expected = {}
    for name, obj in objects.items():
        torch.save(obj, OUT / name)
        back = torch.load(OUT / name, weights_only=True)
        assert same(obj, back), f"{name} does not round-trip through torch.load(weights_only=True)"
        expected[name] = encode(back, name)
    # Storage sharing as loaded, not only as saved.
    sd = torch.load(OUT / "state_dict.pt", weights_only=True)
    assert sd["w_f32_t"].untyped_storage().data_ptr() == sd["w_f32"].untyped_storage().data_ptr()
    assert sd._metadata[""] == {"version": 1}
    vals = torch.load(OUT / "values.pt", weights_only=True)
    assert vals["shared_a"] is vals["shared_b"]

    torch.save({"w": torch.arange(4.0)}, OUT / "legacy.pt", _use_new_zipfile_serialization=False)
    malicious_zip(OUT / "malicious.pt")
    try:
        torch.load(OUT / "malicious.pt", weights_only=True)
        raise AssertionError("torch.load(weights_only=True) accepted malicious.pt")
    except Exception as e:  # UnpicklingError, refused at the GLOBAL opcode
        assert "os.system" in str(e) or "system" in str(e), e
    data = (OUT / "state_dict.pt").read_bytes()
    (OUT / "truncated.pt").write_bytes(data[: len(data) // 2])

    save_file(encode.tensors, OUT / "expected.safetensors")
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    (OUT / "versions.json").write_text(json.dumps({
        "python": platform.python_version(), "torch": torch.__version__,
        "transformers": transformers.__version__, "safetensors": safetensors.__version__,
    }, indent=2) + "\n")
    for p in sorted(OUT.iterdir()):
        print(f"{p.stat().st_size:8d}  {p.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
