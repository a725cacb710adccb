#!/usr/bin/env python3
"""Generate torchtune v0.6.1 golden fixtures for the Llama2 model.

Needs the outputs of tests/scripts/make_llama_fixtures.py (run that first,
with the reference env). For each tiny model in tests/assets/golden/llama/
(hf_mha, hf_gqa) it loads model.safetensors, converts it with
torchtune.models.convert_weights.hf_to_tune, builds
torchtune.models.llama2.llama2(...), loads the converted weights
(strict=True) and writes <model>/torchtune_fp32.safetensors with:

    tune.<torchtune key>    every tensor of hf_to_tune(hf_state_dict)
    tune_to_hf.<hf key>     tune_to_hf(converted), checked equal to the HF file
    meta.<meta key>         tune_to_meta(converted)
    logits        fp32 [2, 16, V]  model(tokens), tokens from reference_fp32
    packed_mask   bool [1, 16, 16] create_block_causal_mask([packed_seq_lens])
                                   (True = may attend), the non-flex mask of
                                   torchtune's packed collate
    packed_logits fp32 [1, 16, V]  model(packed_tokens, mask=packed_mask,
                                   input_pos=packed_input_pos)
    chunked_loss    fp32 []  CEWithChunkedOutputLoss(8) on
                             model.set_num_output_chunks(8) outputs and the
                             (already shifted) labels from reference_fp32
    chunked_loss_4  fp32 []  the same with 4 chunks

It also writes tests/assets/golden/llama/param_counts.json: parameter counts
and state-dict keys/shapes of llama2_7b, llama2_13b, llama2_70b (built on the
meta device) and the full ordered key list of the tiny models.

Usage (from the repo root):

    PY=$(scripts/torchtune_env.sh | tail -n 1)
    "$PY" tests/scripts/make_llama_torchtune_fixtures.py
"""

import json
import platform
import sys
from pathlib import Path

import numpy
import safetensors
import torch
import torchtune
from safetensors.torch import load_file, save_file
from torchtune.models import convert_weights
from torchtune.models.llama2 import llama2, llama2_7b, llama2_13b, llama2_70b
from torchtune.modules.attention_utils import create_block_causal_mask
from torchtune.modules.loss import CEWithChunkedOutputLoss

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT_ROOT = REPO_ROOT / "tests/assets/golden/llama"
SCRIPT = "tests/scripts/make_llama_torchtune_fixtures.py"
SEED = 0  # nothing random is drawn; set anyway for reproducibility

MODEL_NAMES = ["hf_mha", "hf_gqa"]
TOL_LOGITS = 1e-5

SUMMARY = []


def versions() -> dict:
    return {
        "script": SCRIPT,
        "seed": SEED,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchtune": torchtune.__version__,
        "safetensors": safetensors.__version__,
        "numpy": numpy.__version__,
    }


def write_versions(folder: Path, files) -> None:
    """Merge this script's entry into folder/versions.json (other scripts add theirs)."""
    path = folder / "versions.json"
    data = {}
    if path.exists():
        data = json.loads(path.read_text())
    data.setdefault("generators", {})[Path(SCRIPT).name] = dict(
        versions(), files=sorted(files)
    )
    data["generators"] = dict(sorted(data["generators"].items()))
    path.write_text(json.dumps(data, indent=2) + "\n")


def maxdiff(a, b) -> float:
    return (a.float() - b.float()).abs().max().item()


def keys_and_shapes(model) -> list:
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


def build_tiny(cfg: dict):
    return llama2(
        vocab_size=cfg["vocab_size"],
        num_layers=cfg["num_hidden_layers"],
        num_heads=cfg["num_attention_heads"],
        num_kv_heads=cfg["num_key_value_heads"],
        embed_dim=cfg["hidden_size"],
        max_seq_len=cfg["max_position_embeddings"],
        intermediate_dim=cfg["intermediate_size"],
        norm_eps=cfg["rms_norm_eps"],
    )


def make_one(name: str) -> list:
    folder = OUT_ROOT / name
    cfg = json.loads((folder / "config.json").read_text())
    hf_sd = load_file(str(folder / "model.safetensors"))
    ref = load_file(str(folder / "reference_fp32.safetensors"))

    num_heads = cfg["num_attention_heads"]
    num_kv_heads = cfg["num_key_value_heads"]
    dim = cfg["hidden_size"]
    conv_kwargs = dict(num_heads=num_heads, num_kv_heads=num_kv_heads, dim=dim)

    converted = convert_weights.hf_to_tune(hf_sd, head_dim=None, **conv_kwargs)
    back = convert_weights.tune_to_hf(converted, **conv_kwargs)
    meta = convert_weights.tune_to_meta(converted)

    assert set(back) == set(hf_sd), (sorted(back), sorted(hf_sd))
    for k, v in hf_sd.items():
        assert torch.equal(back[k], v), f"{name}: tune_to_hf mismatch for {k}"
    # q/k must really have changed for a random model (sanity of the permutation).
    assert not torch.equal(
        converted["layers.0.attn.k_proj.weight"],
        hf_sd["model.layers.0.self_attn.k_proj.weight"],
    )

    torch.manual_seed(SEED)
    model = build_tiny(cfg)
    model.load_state_dict(converted, strict=True)
    model.eval()
    tiny_keys = keys_and_shapes(model)

    tokens, labels = ref["tokens"], ref["labels"]
    packed_tokens = ref["packed_tokens"]
    packed_input_pos = ref["packed_input_pos"]
    seq_lens = ref["packed_seq_lens"]

    with torch.no_grad():
        logits = model(tokens)
        packed_mask = create_block_causal_mask([seq_lens])
        packed_logits = model(packed_tokens, mask=packed_mask, input_pos=packed_input_pos)

        chunked = {}
        for n_chunks in (8, 4):
            model.set_num_output_chunks(n_chunks)
            chunks = model(tokens)
            assert isinstance(chunks, list) and len(chunks) == n_chunks
            chunked[n_chunks] = CEWithChunkedOutputLoss(num_output_chunks=n_chunks)(
                chunks, labels
            )
        model.set_num_output_chunks(0)

    d_logits = maxdiff(logits, ref["logits"])
    d_packed = maxdiff(packed_logits, ref["packed_logits"])
    d_loss8 = maxdiff(chunked[8], ref["loss"])
    d_loss4 = maxdiff(chunked[4], ref["loss"])
    assert d_logits <= TOL_LOGITS, f"{name}: torchtune vs HF logits {d_logits}"
    assert d_packed <= TOL_LOGITS, f"{name}: torchtune vs HF packed logits {d_packed}"
    assert d_loss8 <= TOL_LOGITS and d_loss4 <= TOL_LOGITS, (d_loss8, d_loss4)

    tensors = {}
    for k, v in converted.items():
        tensors[f"tune.{k}"] = v
    for k, v in back.items():
        tensors[f"tune_to_hf.{k}"] = v
    for k, v in meta.items():
        tensors[f"meta.{k}"] = v
    tensors["logits"] = logits.float()
    tensors["packed_mask"] = packed_mask
    tensors["packed_logits"] = packed_logits.float()
    tensors["chunked_loss"] = chunked[8].float().reshape(())
    tensors["chunked_loss_4"] = chunked[4].float().reshape(())
    # safetensors refuses aliased storage: give every entry its own copy.
    tensors = {k: v.detach().clone().contiguous() for k, v in tensors.items()}
    save_file(tensors, str(folder / "torchtune_fp32.safetensors"), metadata={"format": "pt"})
    write_versions(folder, ["torchtune_fp32.safetensors"])

    SUMMARY.append(
        dict(
            name=name,
            heads=num_heads,
            kv_heads=num_kv_heads,
            tune_vs_hf_logits=d_logits,
            tune_vs_hf_packed_logits=d_packed,
            chunked_loss_8=chunked[8].item(),
            chunked_loss_4=chunked[4].item(),
            hf_loss=ref["loss"].item(),
            chunked8_vs_hf_loss=d_loss8,
            chunked4_vs_hf_loss=d_loss4,
        )
    )
    return tiny_keys


def count_builder(builder) -> dict:
    with torch.device("meta"):
        model = builder()
    sd = model.state_dict()
    total = sum(p.numel() for p in model.parameters())
    assert total == sum(v.numel() for v in sd.values())
    no_embed = sum(v.numel() for k, v in sd.items() if not k.startswith("tok_embeddings."))
    keys = [
        [k, list(v.shape)]
        for k, v in sd.items()
        if not k.startswith("layers.") or k.startswith("layers.0.")
    ]
    return {
        "num_layers": len(model.layers),
        "total_params": total,
        "params_excluding_tok_embeddings": no_embed,
        "num_state_dict_keys": len(sd),
        "keys_layer0_and_non_layer": keys,
    }


def main() -> int:
    torch.manual_seed(SEED)
    torch.set_num_threads(1)

    tiny = {}
    for name in MODEL_NAMES:
        tiny[name] = make_one(name)

    builders = {
        "llama2_7b": llama2_7b,
        "llama2_13b": llama2_13b,
        "llama2_70b": llama2_70b,
    }
    counts = {name: count_builder(b) for name, b in builders.items()}
    expected = {
        "llama2_7b": 6_738_415_616,
        "llama2_13b": 13_015_864_320,
        "llama2_70b": 68_976_648_192,
    }
    for name, n in expected.items():
        assert counts[name]["total_params"] == n, (name, counts[name]["total_params"], n)

    param_counts = {
        "builders": counts,
        "tiny_models": {
            name: {"state_dict_keys": keys} for name, keys in tiny.items()
        },
    }
    out = OUT_ROOT / "param_counts.json"
    out.write_text(json.dumps(param_counts, indent=1) + "\n")
    write_versions(OUT_ROOT, ["param_counts.json"])

    print("== make_llama_torchtune_fixtures.py summary ==")
    print(f"torch {torch.__version__}, torchtune {torchtune.__version__}")
    for s in SUMMARY:
        print(f"{s['name']}: heads={s['heads']} kv_heads={s['kv_heads']}")
        print(f"  max |torchtune logits - HF logits|        = {s['tune_vs_hf_logits']:.3e}")
        print(f"  max |torchtune packed - HF packed logits| = {s['tune_vs_hf_packed_logits']:.3e}")
        print(
            f"  chunked loss (8) = {s['chunked_loss_8']:.7f}, (4) = {s['chunked_loss_4']:.7f}, "
            f"HF loss = {s['hf_loss']:.7f}; |diff| {s['chunked8_vs_hf_loss']:.3e}, "
            f"{s['chunked4_vs_hf_loss']:.3e}"
        )
        print("  tune_to_hf(hf_to_tune(hf)) == hf: bit-exact")
    for name, c in counts.items():
        print(
            f"{name}: total {c['total_params']:,} params, "
            f"{c['params_excluding_tok_embeddings']:,} without tok_embeddings, "
            f"{c['num_state_dict_keys']} keys"
        )
    total = 0
    files = [OUT_ROOT / "param_counts.json", OUT_ROOT / "versions.json"]
    for name in MODEL_NAMES:
        files += [OUT_ROOT / name / "torchtune_fp32.safetensors", OUT_ROOT / name / "versions.json"]
    for f in files:
        size = f.stat().st_size
        total += size
        print(f"  {f.relative_to(REPO_ROOT)}  {size} bytes")
    print(f"total written by this script {total} bytes")
    all_total = sum(p.stat().st_size for p in OUT_ROOT.rglob("*") if p.is_file())
    print(f"total under {OUT_ROOT.relative_to(REPO_ROOT)}: {all_total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
