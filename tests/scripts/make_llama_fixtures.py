#!/usr/bin/env python3
"""Generate golden fixtures for the Llama2 model from Hugging Face transformers.

Builds two tiny random ``LlamaForCausalLM`` models (multi-head and grouped-query
attention), saves them in Hugging Face layout, and records reference outputs
computed by transformers in fp32 on CPU:

    tests/assets/golden/llama/hf_mha/   config.json, model.safetensors,
                                        reference_fp32.safetensors, versions.json
    tests/assets/golden/llama/hf_gqa/   (same)

reference_fp32.safetensors holds:

    tokens            int64 [2, 16]   random ids in [0, vocab)
    labels            int64 [2, 16]   tokens shifted left by one, last column
                                      -100, first 3 positions of row 0 -100
    logits            fp32 [2, 16, V] HF forward(tokens), eager attention
    loss              fp32 []         F.cross_entropy(logits.view(-1, V),
                                      labels.view(-1), ignore_index=-100)
                                      (token-weighted mean, as torchtune)
    grad.<hf name>    fp32            d loss / d parameter, every parameter
    logits_bf16       fp32 [2, 16, V] the model cast to bf16, sdpa attention,
                                      bf16 forward on CPU, stored as fp32
    grad_bf16.<name>  fp32            that bf16 model's gradients of the same loss
                                      (fp32 cross-entropy on its bf16 logits)
    packed_tokens     int64 [1, 16]   two documents, lengths 7 and 9
    packed_input_pos  int64 [1, 16]   0..6, 0..8
    packed_seq_lens   int64 [2]       [7, 9]
    packed_logits     fp32 [1, 16, V] HF forward with a block-causal 4-D float
                                      mask [1, 1, 16, 16] and
                                      position_ids=packed_input_pos

The eager results are re-checked with attn_implementation="sdpa" (logits,
loss and gradients), and packed_logits is checked against running each
document on its own.

The torchtune side (tests/scripts/make_llama_torchtune_fixtures.py, torchtune
env) reads these files, so run this script first.

Usage (from the repo root):

    $HOME/.cache/torchtune_cpp/venv/bin/python tests/scripts/make_llama_fixtures.py
"""

import json
import os
import platform
import sys
from pathlib import Path

import numpy
import safetensors
import torch
import torch.nn.functional as F
import transformers
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

REPO_ROOT = Path(__file__).resolve().parents[2]
OUT_ROOT = REPO_ROOT / "tests/assets/golden/llama"
SCRIPT = "tests/scripts/make_llama_fixtures.py"
SEED = 1234
IGNORE_INDEX = -100
BATCH, SEQ = 2, 16
PACKED_DOC_LENS = [7, 9]

COMMON = dict(
    vocab_size=256,
    hidden_size=64,
    intermediate_size=176,
    num_hidden_layers=2,
    max_position_embeddings=128,
    rms_norm_eps=1e-5,
    rope_theta=10000.0,
    tie_word_embeddings=False,
    attention_bias=False,
    mlp_bias=False,
    hidden_act="silu",
)

MODELS = {
    "hf_mha": dict(num_attention_heads=4, num_key_value_heads=4),
    "hf_gqa": dict(num_attention_heads=8, num_key_value_heads=2),
}

# Tolerances for the cross-checks.
# eager and sdpa differ by a few fp32 ulps: |logits| reaches ~6 here, where
# one ulp is 4.8e-7, so an absolute 1e-6 is too tight (seen: up to 6e-6).
TOL_EAGER_SDPA = 1e-5
TOL_PACKED = 1e-5

SUMMARY = []


def build_model(name: str, seed: int, attn: str) -> LlamaForCausalLM:
    config = LlamaConfig(**COMMON, **MODELS[name], attn_implementation=attn)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    # Larger-than-default init so that logits are far from uniform.
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))
    model.eval()
    return model


def set_attn(model: LlamaForCausalLM, attn: str) -> None:
    model.set_attn_implementation(attn)
    assert model.config._attn_implementation == attn, model.config._attn_implementation


def make_inputs(vocab: int, seed: int):
    gen = torch.Generator().manual_seed(seed + 1)
    tokens = torch.randint(0, vocab, (BATCH, SEQ), generator=gen, dtype=torch.int64)
    labels = torch.full_like(tokens, IGNORE_INDEX)
    labels[:, :-1] = tokens[:, 1:]
    labels[0, :3] = IGNORE_INDEX  # masked prompt
    packed_tokens = torch.randint(
        0, vocab, (1, sum(PACKED_DOC_LENS)), generator=gen, dtype=torch.int64
    )
    packed_input_pos = torch.cat([torch.arange(n) for n in PACKED_DOC_LENS])[None].to(
        torch.int64
    )
    return tokens, labels, packed_tokens, packed_input_pos


def block_causal_bool(doc_lens) -> torch.Tensor:
    """[s, s] bool, True where query i may attend to key j."""
    doc_id = torch.cat([torch.full((n,), i) for i, n in enumerate(doc_lens)])
    s = doc_id.numel()
    causal = torch.tril(torch.ones(s, s, dtype=torch.bool))
    return causal & (doc_id[:, None] == doc_id[None, :])


def forward_loss_grads(model, tokens, labels):
    model.zero_grad(set_to_none=True)
    logits = model(input_ids=tokens).logits
    vocab = logits.shape[-1]
    loss = F.cross_entropy(
        logits.float().reshape(-1, vocab),
        labels.reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="mean",
    )
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return logits.detach().float(), loss.detach(), grads


def packed_forward(model, packed_tokens, packed_input_pos):
    allowed = block_causal_bool(PACKED_DOC_LENS)
    dtype = next(model.parameters()).dtype
    mask4d = torch.zeros(1, 1, *allowed.shape, dtype=dtype)
    mask4d.masked_fill_(~allowed, torch.finfo(dtype).min)
    with torch.no_grad():
        out = model(
            input_ids=packed_tokens,
            attention_mask=mask4d,
            position_ids=packed_input_pos,
        ).logits
    return out.float()


def per_document_forward(model, packed_tokens):
    outs = []
    start = 0
    with torch.no_grad():
        for n in PACKED_DOC_LENS:
            outs.append(model(input_ids=packed_tokens[:, start : start + n]).logits.float())
            start += n
    return torch.cat(outs, dim=1)


def maxdiff(a, b) -> float:
    return (a.float() - b.float()).abs().max().item()


def versions(seed: int) -> dict:
    return {
        "script": SCRIPT,
        "seed": seed,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "safetensors": safetensors.__version__,
        "numpy": numpy.__version__,
    }


def write_versions(folder: Path, entry: dict, files) -> None:
    """Merge this script's entry into folder/versions.json (other scripts add theirs)."""
    path = folder / "versions.json"
    data = {}
    if path.exists():
        data = json.loads(path.read_text())
    data.setdefault("generators", {})[Path(SCRIPT).name] = dict(entry, files=sorted(files))
    data["generators"] = dict(sorted(data["generators"].items()))
    path.write_text(json.dumps(data, indent=2) + "\n")


def make_one(name: str, seed: int) -> None:
    folder = OUT_ROOT / name
    folder.mkdir(parents=True, exist_ok=True)
    model = build_model(name, seed, "eager")
    cfg = model.config
    vocab = cfg.vocab_size

    # --- HF layout checkpoint --------------------------------------------
    model.save_pretrained(folder, safe_serialization=True)
    for extra in ("generation_config.json",):
        # Not part of the requested fixture; keep the folder minimal.
        if (folder / extra).exists():
            (folder / extra).unlink()

    tokens, labels, packed_tokens, packed_input_pos = make_inputs(vocab, seed)

    # --- fp32 eager reference --------------------------------------------
    set_attn(model, "eager")
    logits, loss, grads = forward_loss_grads(model, tokens, labels)
    packed_logits = packed_forward(model, packed_tokens, packed_input_pos)
    per_doc_eager = per_document_forward(model, packed_tokens)

    # --- sdpa re-check ------------------------------------------------------
    set_attn(model, "sdpa")
    logits_s, loss_s, grads_s = forward_loss_grads(model, tokens, labels)
    packed_logits_s = packed_forward(model, packed_tokens, packed_input_pos)
    per_doc_sdpa = per_document_forward(model, packed_tokens)
    model.zero_grad(set_to_none=True)

    d_logits = maxdiff(logits, logits_s)
    d_loss = maxdiff(loss, loss_s)
    d_grad = max(maxdiff(grads[n], grads_s[n]) for n in grads)
    d_packed_es = maxdiff(packed_logits, packed_logits_s)
    d_packed_doc = maxdiff(packed_logits, per_doc_eager)
    d_packed_doc_s = maxdiff(packed_logits_s, per_doc_sdpa)
    assert d_logits <= TOL_EAGER_SDPA, f"{name}: eager vs sdpa logits {d_logits}"
    assert d_loss <= TOL_EAGER_SDPA, f"{name}: eager vs sdpa loss {d_loss}"
    assert d_grad <= TOL_EAGER_SDPA, f"{name}: eager vs sdpa grads {d_grad}"
    assert d_packed_es <= TOL_EAGER_SDPA, f"{name}: eager vs sdpa packed {d_packed_es}"
    assert d_packed_doc <= TOL_PACKED, f"{name}: packed vs per-document {d_packed_doc}"
    assert d_packed_doc_s <= TOL_PACKED, f"{name}: packed (sdpa) vs per-doc {d_packed_doc_s}"

    # The loss is the token-weighted mean over non-ignored labels.
    valid = labels != IGNORE_INDEX
    lp = torch.log_softmax(logits.double(), dim=-1)
    nll = -lp.gather(-1, labels.clamp(min=0)[..., None])[..., 0]
    manual = (nll * valid).sum() / valid.sum()
    assert abs(manual.item() - loss.item()) < 1e-5, (manual.item(), loss.item())

    # Logits must not be trivially uniform.
    probs = torch.softmax(logits, dim=-1)
    assert probs.max().item() > 10.0 / vocab, probs.max().item()

    # --- bf16 reference (sdpa, CPU) ------------------------------------------
    model_bf16 = build_model(name, seed, "sdpa").to(torch.bfloat16)
    for n, p in model_bf16.named_parameters():
        assert torch.equal(p, dict(model.named_parameters())[n].to(torch.bfloat16)), n
    # bf16 forward and backward: logits and every parameter's gradient, the "transformers
    # bf16" error the C++ bf16 path is held to (per tensor).
    out_bf16 = model_bf16(input_ids=tokens).logits
    loss_bf16 = F.cross_entropy(out_bf16.float().reshape(-1, vocab), labels.reshape(-1),
                                ignore_index=IGNORE_INDEX)
    loss_bf16.backward()
    logits_bf16 = out_bf16.detach().float()
    grads_bf16 = {n: p.grad.detach().float() for n, p in model_bf16.named_parameters()}
    d_bf16 = maxdiff(logits_bf16, logits)

    tensors = {
        "tokens": tokens,
        "labels": labels,
        "logits": logits,
        "loss": loss.float().reshape(()),
        "logits_bf16": logits_bf16,
        "packed_tokens": packed_tokens,
        "packed_input_pos": packed_input_pos,
        "packed_seq_lens": torch.tensor(PACKED_DOC_LENS, dtype=torch.int64),
        "packed_logits": packed_logits,
    }
    for n, g in grads.items():
        tensors[f"grad.{n}"] = g.float()
    for n, g in grads_bf16.items():
        tensors[f"grad_bf16.{n}"] = g
    tensors = {k: v.contiguous() for k, v in tensors.items()}
    save_file(tensors, str(folder / "reference_fp32.safetensors"), metadata={"format": "pt"})

    files = ["config.json", "model.safetensors", "reference_fp32.safetensors"]
    write_versions(folder, versions(seed), files)

    SUMMARY.append(
        dict(
            name=name,
            heads=cfg.num_attention_heads,
            kv_heads=cfg.num_key_value_heads,
            loss=loss.item(),
            valid_labels=int(valid.sum()),
            eager_vs_sdpa_logits=d_logits,
            eager_vs_sdpa_loss=d_loss,
            eager_vs_sdpa_grads=d_grad,
            eager_vs_sdpa_packed=d_packed_es,
            packed_vs_per_document=d_packed_doc,
            packed_vs_per_document_sdpa=d_packed_doc_s,
            bf16_vs_fp32_logits=d_bf16,
            logits_std=logits.std().item(),
            max_prob=probs.max().item(),
        )
    )


def main() -> int:
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    for i, name in enumerate(MODELS):
        make_one(name, SEED + 100 * i)

    print("== make_llama_fixtures.py summary ==")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}")
    for s in SUMMARY:
        print(
            f"{s['name']}: heads={s['heads']} kv_heads={s['kv_heads']} "
            f"loss={s['loss']:.6f} over {s['valid_labels']} labels, "
            f"logits std={s['logits_std']:.3f}, max prob={s['max_prob']:.3f}"
        )
        for k in (
            "eager_vs_sdpa_logits",
            "eager_vs_sdpa_loss",
            "eager_vs_sdpa_grads",
            "eager_vs_sdpa_packed",
            "packed_vs_per_document",
            "packed_vs_per_document_sdpa",
            "bf16_vs_fp32_logits",
        ):
            print(f"  max |{k}| = {s[k]:.3e}")
    total = 0
    for name in MODELS:
        for f in sorted((OUT_ROOT / name).iterdir()):
            size = f.stat().st_size
            total += size
            print(f"  {f.relative_to(REPO_ROOT)}  {size} bytes")
    print(f"total {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
