#!/usr/bin/env python3
"""Generate golden fixtures for torchtune's generic dataset builders.

Runs torchtune v0.6.1 itself on the project's own data files (text written for
this project, under tests/assets/data/) and the test tokenizer
(tests/assets/tokenizer/tokenizer.model, 512-piece sentencepiece), and writes
tests/assets/golden/data/datasets.json.

Builders covered, all loading local files through Hugging Face ``load_dataset``
(``source`` "json" for JSON arrays and JSON Lines, "csv", "text"):

* ``torchtune.datasets.instruct_dataset`` (instruct_qa.jsonl / .csv, columns
  ``question``/``answer`` mapped with ``column_map``),
* ``torchtune.datasets.chat_dataset`` with ``conversation_style`` "sharegpt"
  (chat_sharegpt.json) and "openai" (chat_openai.jsonl),
* ``torchtune.datasets.text_completion_dataset`` (text_corpus.txt,
  text_docs.jsonl, text_docs.csv),
* ``packed: True`` variants (``PackedDataset``; ``split_across_pack`` for text
  completion),
* a list of datasets, built the way the recipes build ``dataset:`` when it is a
  list: each entry instantiated with the tokenizer, then ``ConcatDataset``.

Every case is built through ``torchtune.config.instantiate`` from the YAML text
of its ``dataset:`` section (``dataset_config``), with the tokenizer
``llama2_tokenizer(path=..., max_seq_len=...)`` (default Llama2ChatTemplate), so
the recorded keyword arguments are exactly what a config holds. The builds run
from the repo root, and ``data_files`` are repo-relative paths.

Output layout:

* "cases": name, builder (dotted path), kwargs, dataset_config (a mapping, or a
  list of mappings for ConcatDataset), max_seq_len (the tokenizer's, null for
  none), packed, num_samples and "samples" (all of them): "tokens" and "labels"
  and, for packed datasets, "input_pos" and "seq_lens" (every pack is padded to
  max_seq_len: tokens with pad 0, labels with -100, seq_lens end with the
  padding length). SFT cases also hold "messages" per sample: the message
  transform's output before the prompt template (role, masked, text).
  ConcatDataset cases also hold "components" (builder, kwargs, num_samples).
* "errors": bad inputs and edge cases (files under tests/assets/data/bad/):
  where torchtune raises, "raised_at" is "build" (builder call, which for packed
  datasets includes tokenizing and packing everything) or "sample" (on
  ``dataset[i]``), with "error" {"type", "message", "causes"}; where it does not
  raise, "raised_at" is null and "samples"/"note" say what it does. Absolute
  paths in messages are written as "{cwd}" (the repo root).

Usage (torchtune environment; no network is needed or used):

    PY=$(scripts/torchtune_env.sh | tail -n 1)
    HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 "$PY" tests/scripts/make_dataset_fixtures.py

The script also (re)writes tests/assets/data/instruct_qa.csv from
instruct_qa.jsonl and text_docs.csv from text_docs.jsonl (same records), and
checks that the JSON Lines and CSV builds give identical samples.
"""

import csv
import json
import os
import platform
from pathlib import Path

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import datasets  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torchtune  # noqa: E402
import yaml  # noqa: E402
from omegaconf import ListConfig, OmegaConf  # noqa: E402
from torchtune import config  # noqa: E402
from torchtune.datasets import ConcatDataset, PackedDataset  # noqa: E402
from torchtune.models.llama2 import llama2_tokenizer  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = "tests/assets/tokenizer/tokenizer.model"
OUT_PATH = "tests/assets/golden/data/datasets.json"
D = "tests/assets/data"
QA_JSONL = f"{D}/instruct_qa.jsonl"
QA_CSV = f"{D}/instruct_qa.csv"
SHAREGPT = f"{D}/chat_sharegpt.json"
OPENAI = f"{D}/chat_openai.jsonl"
CORPUS = f"{D}/text_corpus.txt"
DOCS_JSONL = f"{D}/text_docs.jsonl"
DOCS_CSV = f"{D}/text_docs.csv"
BAD = f"{D}/bad"

INSTRUCT = "torchtune.datasets.instruct_dataset"
CHAT = "torchtune.datasets.chat_dataset"
TEXT = "torchtune.datasets.text_completion_dataset"
QA_MAP = {"input": "question", "output": "answer"}
SYSTEM = "You are a careful assistant. Answer briefly and clearly."

# torchtune 0.6.1 behaviour the samples show (checked by reading its sources).
NOTES = [
    "SFT samples (instruct/chat): Llama2ChatTemplate wraps each user turn as '[INST] ' + "
    "system + text + ' [/INST] ' and the system turn as '<<SYS>>\\n' + text + "
    "'\\n<</SYS>>\\n\\n'; the system text is put into EVERY user turn of a multi-turn "
    "conversation, not only the first. Each piece is encoded separately (rstrip(' ') first).",
    "BOS starts every user turn (after each assistant turn), EOS ends every assistant turn; "
    "BOS takes the mask of the turn's first message, EOS the assistant's.",
    "SFT truncation (tokenizer max_seq_len): tokenizing stops after the message that reaches "
    "max_seq_len, then tokens are cut to max_seq_len with the last token set to EOS, and "
    "the last mask entry set to that message's mask (label -100 when cut inside a masked "
    "prompt, even though the token is EOS).",
    "Text completion: encode(text, add_bos=True, add_eos=add_eos), then cut to "
    "max_seq_len - 1 tokens without forcing EOS; labels == tokens (no shift, no masking).",
    "Packed: every pack is padded to max_seq_len (tokens 0, labels -100, input_pos continues "
    "from the last position + 1, clamped to max_seq_len - 1) and seq_lens ends with the "
    "padding length when there is padding. With split_across_pack the tail of a split "
    "sample keeps its original input_pos (it does not restart at 0).",
    "split_across_pack: text_completion_dataset defaults to True; instruct_dataset and "
    "chat_dataset have no such argument and pack with PackedDataset's default False.",
    "A list `dataset:` is ConcatDataset of the components built in order; packed components "
    "pack separately, a mix of packed and unpacked raises; ConcatDataset[len] returns None.",
]


def jsonl_to_csv(src, dst):
    rows = [json.loads(line) for line in (REPO_ROOT / src).read_text().splitlines() if line]
    with open(REPO_ROOT / dst, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].keys()), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def tokenizer(max_seq_len):
    return llama2_tokenizer(path=MODEL, max_seq_len=max_seq_len)


def instantiate(dataset_config, tok):
    """Build like the recipes' _setup_data, from the YAML text of `dataset:`."""
    text = yaml.safe_dump({"dataset": dataset_config}, sort_keys=False)
    cfg = OmegaConf.create(text).dataset
    if isinstance(cfg, ListConfig):
        return ConcatDataset(datasets=[config.instantiate(c, tok) for c in cfg])
    return config.instantiate(cfg, tok)


def ints(x):
    if isinstance(x, torch.Tensor):
        return [int(v) for v in x.tolist()]
    return [int(v) for v in x]


def sample_record(s, packed):
    keys = ("tokens", "labels", "input_pos", "seq_lens") if packed else ("tokens", "labels")
    return {k: ints(s[k]) for k in keys}


def messages_of(sft_ds, index):
    """The message transform's output for record `index` (before the prompt template)."""
    msgs = sft_ds._message_transform(dict(sft_ds._data[index]))["messages"]
    return [{"role": m.role, "masked": bool(m.masked), "text": m.text_content} for m in msgs]


def sft_parts(ds):
    """The SFTDataset(s) behind a dataset, in sample order (None where not SFT)."""
    if isinstance(ds, ConcatDataset):
        return [p for d in ds._datasets for p in sft_parts(d)]
    if isinstance(ds, PackedDataset):
        return [None]
    return [ds if hasattr(ds, "_message_transform") else None]


def case(name, builder, kwargs, max_seq_len, note=None):
    dataset_config = {"_component_": builder, **kwargs}
    tok = tokenizer(max_seq_len)
    ds = instantiate(dataset_config, tok)
    packed = isinstance(ds, PackedDataset)
    samples = [sample_record(ds[i], packed) for i in range(len(ds))]
    sft = sft_parts(ds)[0]
    if sft is not None:
        for i, s in enumerate(samples):
            s["messages"] = messages_of(sft, i)
    out = {"name": name, "builder": builder, "kwargs": kwargs, "dataset_config": dataset_config,
           "max_seq_len": max_seq_len, "packed": packed, "num_samples": len(ds),
           "sample_keys": sorted(ds[0].keys()), "samples": samples}
    if note:
        out["note"] = note
    return out


def concat_case(name, components, max_seq_len, note=None):
    dataset_config = [{"_component_": b, **kw} for b, kw in components]
    tok = tokenizer(max_seq_len)
    ds = instantiate(dataset_config, tok)
    assert isinstance(ds, ConcatDataset)
    packed = bool(ds.packed)
    samples = [sample_record(ds[i], packed) for i in range(len(ds))]
    if not packed:
        i = 0
        for part in ds._datasets:
            for j in range(len(part)):
                if hasattr(part, "_message_transform"):
                    samples[i]["messages"] = messages_of(part, j)
                i += 1
    comps = [{"builder": b, "kwargs": kw, "num_samples": len(d)}
             for (b, kw), d in zip(components, ds._datasets)]
    out = {"name": name, "builder": "torchtune.datasets.ConcatDataset", "components": comps,
           "dataset_config": dataset_config, "max_seq_len": max_seq_len, "packed": packed,
           "num_samples": len(ds), "sample_keys": sorted(ds[0].keys()), "samples": samples,
           "out_of_range_getitem_returns": repr(ds[len(ds)])}
    if note:
        out["note"] = note
    return out


def error_info(e):
    def one(x):
        return {"type": (type(x).__qualname__ if type(x).__module__ == "builtins"
                         else f"{type(x).__module__}.{type(x).__qualname__}"),
                "message": str(x).replace(str(REPO_ROOT), "{cwd}")}
    info = one(e)
    causes, c = [], e.__cause__ or e.__context__
    while c is not None and len(causes) < 4:
        causes.append(one(c))
        c = c.__cause__ or c.__context__
    info["causes"] = causes
    return info


def bad_case(name, description, dataset_config, max_seq_len, note=None, tok=None):
    tok = tok or tokenizer(max_seq_len)
    out = {"name": name, "description": description,
           "builder": ("torchtune.datasets.ConcatDataset" if isinstance(dataset_config, list)
                       else dataset_config["_component_"]),
           "dataset_config": dataset_config, "max_seq_len": max_seq_len,
           "raised_at": None, "error": None}
    try:
        ds = instantiate(dataset_config, tok)
    except Exception as e:  # noqa: BLE001 - recording what torchtune raises
        out["raised_at"], out["error"] = "build", error_info(e)
    else:
        packed = isinstance(ds, PackedDataset) or getattr(ds, "packed", False)
        out["num_samples"] = len(ds)
        samples = []
        for i in range(len(ds)):
            try:
                samples.append({"index": i, **sample_record(ds[i], packed)})
            except Exception as e:  # noqa: BLE001
                samples.append({"index": i, "error": error_info(e)})
                if out["raised_at"] is None:
                    out["raised_at"], out["error"] = "sample", error_info(e)
                    out["first_error_index"] = i
        out["samples"] = samples
    if note:
        out["note"] = note
    return out


def cases():
    out = []
    qa = {"source": "json", "data_files": QA_JSONL, "column_map": QA_MAP, "split": "train"}
    out.append(case("instruct_jsonl_column_map", INSTRUCT,
                    {**qa, "train_on_input": False}, None))
    out.append(case("instruct_jsonl_train_on_input", INSTRUCT,
                    {**qa, "train_on_input": True}, None))
    out.append(case("instruct_csv", INSTRUCT,
                    {"source": "csv", "data_files": QA_CSV, "column_map": QA_MAP,
                     "train_on_input": False, "split": "train"}, None,
                    note="same records as instruct_jsonl_column_map, same samples"))
    assert out[-1]["samples"] == out[0]["samples"]
    out.append(case("instruct_new_system_prompt", INSTRUCT,
                    {**qa, "train_on_input": False, "new_system_prompt": SYSTEM}, None))
    out.append(case("instruct_split_first_half", INSTRUCT,
                    {**qa, "split": "train[:50%]"}, None,
                    note="train_on_input defaults to False; records 0..4 of 10"))
    out.append(case("instruct_split_range", INSTRUCT,
                    {**qa, "split": "train[3:-2]", "train_on_input": True}, None,
                    note="records 3..7"))
    out.append(case("instruct_max_seq_len_48", INSTRUCT,
                    {**qa, "train_on_input": False}, 48,
                    note="truncated samples end with EOS (2); the last label follows the "
                         "mask of the last message tokenized (-100 when cut inside the prompt)"))
    out.append(case("instruct_packed_128", INSTRUCT,
                    {**qa, "train_on_input": False, "packed": True}, 128,
                    note="samples are truncated to 128 by the tokenizer first; PackedDataset "
                         "split_across_pack=False (its default)"))
    out.append(case("instruct_packed_256_train_on_input", INSTRUCT,
                    {**qa, "train_on_input": True, "packed": True}, 256))

    sg = {"source": "json", "data_files": SHAREGPT, "conversation_column": "conversations",
          "conversation_style": "sharegpt", "split": "train"}
    out.append(case("chat_sharegpt", CHAT, {**sg, "train_on_input": False}, None))
    out.append(case("chat_sharegpt_train_on_input", CHAT, {**sg, "train_on_input": True}, None))
    out.append(case("chat_sharegpt_new_system_prompt", CHAT,
                    {**sg, "train_on_input": False, "new_system_prompt": SYSTEM}, None,
                    note="new_system_prompt replaces the conversations' own system turns"))
    out.append(case("chat_sharegpt_max_seq_len_40", CHAT, {**sg, "train_on_input": False}, 40))

    oa = {"source": "json", "data_files": OPENAI, "conversation_column": "messages",
          "conversation_style": "openai", "split": "train"}
    out.append(case("chat_openai", CHAT, {**oa, "train_on_input": False}, None))
    out.append(case("chat_openai_train_on_input", CHAT, {**oa, "train_on_input": True}, None))
    out.append(case("chat_openai_packed_256", CHAT,
                    {**oa, "train_on_input": False, "packed": True}, 256))
    out.append(case("chat_openai_split_new_system_prompt_64", CHAT,
                    {**oa, "train_on_input": True, "new_system_prompt": SYSTEM,
                     "split": "train[-3:]"}, 64))

    txt = {"source": "text", "data_files": CORPUS, "column": "text", "split": "train"}
    out.append(case("text_source_text", TEXT, txt, None))
    out.append(case("text_source_text_no_eos", TEXT, {**txt, "add_eos": False}, None))
    out.append(case("text_source_text_max_seq_len_64", TEXT, txt, 64,
                    note="truncated to max_seq_len - 1 = 63 tokens, EOS not forced"))
    docs = {"source": "json", "data_files": DOCS_JSONL, "column": "text", "split": "train"}
    out.append(case("text_jsonl", TEXT, docs, None))
    out.append(case("text_csv", TEXT, {**docs, "source": "csv", "data_files": DOCS_CSV}, None,
                    note="same records as text_jsonl, same samples"))
    assert out[-1]["samples"] == out[-2]["samples"]
    out.append(case("text_jsonl_no_eos_max_seq_len_64", TEXT, {**docs, "add_eos": False}, 64))
    out.append(case("text_packed_64_split_across_pack", TEXT,
                    {**txt, "packed": True, "split_across_pack": True}, 64))
    out.append(case("text_packed_64_no_split_across_pack", TEXT,
                    {**txt, "packed": True, "split_across_pack": False}, 64))
    out.append(case("text_packed_64_default_split", TEXT,
                    {**docs, "packed": True, "add_eos": False}, 64,
                    note="split_across_pack not given: text_completion_dataset's default True"))
    assert out[-1]["samples"] != [], out[-1]

    out.append(concat_case(
        "concat_instruct_sharegpt",
        [(INSTRUCT, {**qa, "train_on_input": False}),
         (CHAT, {**sg, "train_on_input": False})], None,
        note="config `dataset:` is a list; samples are component 0's then component 1's"))
    out.append(concat_case(
        "concat_text_instruct_split_max_seq_len_96",
        [(TEXT, {**txt, "split": "train[:4]"}),
         (INSTRUCT, {**qa, "train_on_input": True, "split": "train[-3:]"})], 96))
    out.append(concat_case(
        "concat_packed_text_instruct_128",
        [(TEXT, {**txt, "packed": True, "split_across_pack": True}),
         (INSTRUCT, {**qa, "train_on_input": False, "packed": True})], 128,
        note="each component packs on its own (packs never mix components); "
             "ConcatDataset.packed is True, so the recipe uses padded_collate_packed"))
    return out


def errors():
    out = []
    qa_map = {"input": "question", "output": "answer"}
    out.append(bad_case(
        "jsonl_malformed_line", "JSON Lines file whose second line is not valid JSON",
        {"_component_": INSTRUCT, "source": "json", "data_files": f"{BAD}/instruct_malformed.jsonl",
         "column_map": qa_map, "split": "train"}, None))
    out.append(bad_case(
        "jsonl_record_missing_mapped_column",
        "second record has no `answer` key (Hugging Face fills it with null)",
        {"_component_": INSTRUCT, "source": "json",
         "data_files": f"{BAD}/instruct_missing_column.jsonl", "column_map": qa_map,
         "split": "train"}, None))
    out.append(bad_case(
        "csv_record_empty_mapped_value", "second CSV row has an empty `answer` (read as null)",
        {"_component_": INSTRUCT, "source": "csv",
         "data_files": f"{BAD}/instruct_missing_value.csv", "column_map": qa_map,
         "split": "train"}, None))
    out.append(bad_case(
        "column_map_names_absent_column", "column_map output -> `response`, not in the file",
        {"_component_": INSTRUCT, "source": "json", "data_files": QA_JSONL,
         "column_map": {"input": "question", "output": "response"}, "split": "train[:2]"},
        None))
    out.append(bad_case(
        "column_map_without_output_key", "column_map lacks the `output` key",
        {"_component_": INSTRUCT, "source": "json", "data_files": QA_JSONL,
         "column_map": {"input": "question"}, "split": "train"}, None))
    out.append(bad_case(
        "default_columns_absent", "no column_map: expects `input`/`output` columns",
        {"_component_": INSTRUCT, "source": "json", "data_files": QA_JSONL,
         "split": "train[:1]"}, None))
    out.append(bad_case(
        "sharegpt_empty_conversation", "second record has `conversations: []`",
        {"_component_": CHAT, "source": "json", "data_files": f"{BAD}/chat_empty_conversation.json",
         "conversation_column": "conversations", "conversation_style": "sharegpt",
         "split": "train"}, None))
    out.append(bad_case(
        "sharegpt_unknown_role", "a turn with `from: bot`",
        {"_component_": CHAT, "source": "json", "data_files": f"{BAD}/chat_unknown_role.json",
         "conversation_column": "conversations", "conversation_style": "sharegpt",
         "split": "train"}, None))
    out.append(bad_case(
        "openai_invalid_turn_orders",
        "records: valid; a lone user turn; two user turns in a row; assistant first; "
        "system not first",
        {"_component_": CHAT, "source": "json", "data_files": f"{BAD}/chat_invalid_turns.jsonl",
         "conversation_column": "messages", "conversation_style": "openai", "split": "train"},
        None))
    out.append(bad_case(
        "chat_unsupported_style", "conversation_style: chatml",
        {"_component_": CHAT, "source": "json", "data_files": OPENAI,
         "conversation_column": "messages", "conversation_style": "chatml", "split": "train"},
        None))
    out.append(bad_case(
        "chat_missing_conversation_column", "chat_dataset without conversation_column",
        {"_component_": CHAT, "source": "json", "data_files": OPENAI,
         "conversation_style": "openai", "split": "train"}, None))
    out.append(bad_case(
        "sharegpt_wrong_column", "conversation_column names a column the file lacks",
        {"_component_": CHAT, "source": "json", "data_files": SHAREGPT,
         "conversation_column": "messages", "conversation_style": "sharegpt",
         "split": "train[:1]"}, None))
    out.append(bad_case(
        "text_column_absent", "text_completion_dataset column: body (file has title, text)",
        {"_component_": TEXT, "source": "json", "data_files": DOCS_JSONL, "column": "body",
         "split": "train[:1]"}, None))
    out.append(bad_case(
        "text_blank_lines", "text source with an empty line and a whitespace-only line",
        {"_component_": TEXT, "source": "text", "data_files": f"{BAD}/text_blank_lines.txt",
         "split": "train"}, None,
        note="not skipped: every line is a sample, the empty one gives [BOS, EOS]"))
    out.append(bad_case(
        "packed_without_max_seq_len", "packed: True with a tokenizer max_seq_len of null",
        {"_component_": INSTRUCT, "source": "json", "data_files": QA_JSONL,
         "column_map": qa_map, "packed": True, "split": "train"}, None))
    out.append(bad_case(
        "concat_mixed_packed", "a list of one packed and one unpacked dataset",
        [{"_component_": TEXT, "source": "text", "data_files": CORPUS, "packed": True,
          "split": "train"},
         {"_component_": TEXT, "source": "json", "data_files": DOCS_JSONL, "split": "train"}],
        64))

    # Packed samples longer than max_seq_len: through the builders the tokenizer has
    # already truncated every sample (SFT to max_seq_len, text to max_seq_len - 1), so
    # PackedDataset's check never fires; record the pre-truncation lengths.
    long_cfg = {"_component_": INSTRUCT, "source": "json", "data_files": QA_JSONL,
                "column_map": qa_map, "packed": True, "split": "train"}
    rec = bad_case(
        "packed_sample_longer_than_max_seq_len_builder",
        "packed instruct_dataset with max_seq_len 32, most samples are longer", long_cfg, 32,
        note="no error: SFT samples are truncated to max_seq_len (last token EOS) before "
             "packing, so each pack holds exactly one sample")
    untrunc = instantiate({**long_cfg, "packed": False}, tokenizer(None))
    rec["untruncated_lengths"] = [len(untrunc[i]["tokens"]) for i in range(len(untrunc))]
    out.append(rec)
    rec = bad_case(
        "packed_text_longer_than_max_seq_len_no_split",
        "packed text_completion_dataset, split_across_pack False, max_seq_len 32",
        {"_component_": TEXT, "source": "text", "data_files": CORPUS, "packed": True,
         "split_across_pack": False, "split": "train"}, 32,
        note="no error: text samples are truncated to max_seq_len - 1 before packing")
    out.append(rec)
    # The check itself, reachable only by building PackedDataset directly over a dataset
    # whose tokenizer has no (or a larger) max_seq_len.
    name = "packed_dataset_direct_sample_too_long"
    tok = tokenizer(None)
    base = instantiate({"_component_": TEXT, "source": "text", "data_files": CORPUS,
                        "split": "train"}, tok)
    entry = {"name": name,
             "description": "PackedDataset(text_completion_dataset(tokenizer max_seq_len null), "
                            "max_seq_len=64, split_across_pack=False) in Python; no config "
                            "reaches this",
             "builder": "torchtune.datasets.PackedDataset", "dataset_config": None,
             "max_seq_len": 64, "raised_at": None, "error": None,
             "sample_lengths": [len(base[i]["tokens"]) for i in range(len(base))]}
    try:
        PackedDataset(base, max_seq_len=64, split_across_pack=False)
    except Exception as e:  # noqa: BLE001
        entry["raised_at"], entry["error"] = "build", error_info(e)
    out.append(entry)
    return out


def main():
    os.chdir(REPO_ROOT)
    assert (REPO_ROOT / MODEL).is_file(), MODEL
    jsonl_to_csv(QA_JSONL, QA_CSV)
    jsonl_to_csv(DOCS_JSONL, DOCS_CSV)
    tok = tokenizer(None)
    all_cases = cases()
    fixture = {
        "versions": {"torchtune": torchtune.__version__, "torch": torch.__version__,
                     "datasets": datasets.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "tokenizer": {"_component_": "torchtune.models.llama2.llama2_tokenizer", "path": MODEL,
                      "prompt_template": "torchtune.models.llama2.Llama2ChatTemplate (default)",
                      "bos_id": tok.bos_id, "eos_id": tok.eos_id, "pad_id": tok.pad_id,
                      "note": "max_seq_len is per case"},
        "ignore_index": -100,
        "notes": NOTES,
        "cases": all_cases,
        "errors": errors(),
    }
    out = REPO_ROOT / OUT_PATH
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(fixture, separators=(",", ":"), ensure_ascii=False) + "\n")
    for c in fixture["cases"]:
        extra = (" (" + " + ".join(str(p["num_samples"]) for p in c["components"]) + ")"
                 if "components" in c else "")
        print(f"{c['name']:45s} max_seq_len={str(c['max_seq_len']):5s} "
              f"packed={str(c['packed']):5s} samples={c['num_samples']}{extra}")
    for e in fixture["errors"]:
        what = (f"{e['raised_at']}: {e['error']['type']}: {e['error']['message'][:90]!r}"
                if e["error"] else "no error")
        print(f"  error case {e['name']:45s} {what}")
    print(f"wrote {OUT_PATH} ({out.stat().st_size} bytes): {len(fixture['cases'])} cases, "
          f"{len(fixture['errors'])} error cases")


if __name__ == "__main__":
    main()
