#!/usr/bin/env python3
"""Generate golden fixtures for the Llama2 tokenizer.

Runs Python SentencePiece and torchtune v0.6.1's own tokenizer
(``torchtune.models.llama2.llama2_tokenizer``) on the test tokenizer
(tests/assets/tokenizer/tokenizer.model, made by train_tokenizer.py) and
writes tests/assets/golden/tokenizer/cases.json:

* "properties": vocab_size, bos_id, eos_id, pad_id as torchtune reports them
  (pad_id forced to 0), the model's own pad_id, encodes_whitespace.
* "encode_cases": for each text, the ids of ``SentencePieceProcessor.encode``
  ("spm_ids"), of torchtune's ``encode(text, add_bos, add_eos,
  trim_leading_whitespace)`` for each combination in ENCODE_OPTIONS, and the
  text ``decode`` gives back for the plain ids and for the torchtune ids with
  BOS and EOS.
* "decode_cases": ids (partial byte sequences, control ids) and the text
  ``decode`` gives.
* "message_cases": message lists through torchtune's ``tokenize_messages``
  (with and without Llama2ChatTemplate, masked turns, max_seq_len), giving
  "tokens" and "mask".

Usage (torchtune environment, which also has sentencepiece):

    PY=$(scripts/torchtune_env.sh | tail -n 1)
    "$PY" tests/scripts/make_tokenizer_fixtures.py
"""

import json
import platform
from pathlib import Path

import sentencepiece
import torchtune
from sentencepiece import SentencePieceProcessor
from torchtune.data import Message
from torchtune.models.llama2 import llama2_tokenizer

REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL = "tests/assets/tokenizer/tokenizer.model"
OUT_PATH = "tests/assets/golden/tokenizer/cases.json"
CHAT_TEMPLATE = "torchtune.models.llama2.Llama2ChatTemplate"

# (add_bos, add_eos, trim_leading_whitespace)
ENCODE_OPTIONS = [
    (True, True, False),
    (False, False, False),
    (True, False, False),
    (False, False, True),
    (True, True, True),
]

ALPACA_PROMPT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\nName three primary colours.\n\n### Response:\n"
)

# (name, text)
TEXTS = [
    ("empty", ""),
    ("hello", "Hello world!"),
    ("sentence", "Water the plants only when the soil feels dry."),
    ("leading_space", " leading space"),
    ("two_leading_spaces", "  two leading spaces"),
    ("trailing_spaces", "trailing spaces   "),
    ("only_spaces", "   "),
    ("single_space", " "),
    ("only_newline", "\n"),
    ("newline_first", "\nstarts with a newline"),
    ("lines", "line one\nline two\n\nline four\n"),
    ("crlf", "windows\r\nline end"),
    ("tabs", "\tindented\twith tabs"),
    ("vertical_tab", "a\vb"),
    ("nbsp", "no\u00a0break space"),
    ("digits", "The year 2024 has 366 days and 8784 hours."),
    ("decimals", "pi is about 3.14159, e is 2.71828"),
    ("phone", "+49 30 1234 5678"),
    ("rare_letters", "Quick zebras vex Xavier; Zoe quizzed Viktor."),
    ("french", "Où est la boulangerie ? Je voudrais deux croissants, s'il vous plaît."),
    ("german", "Größere Straßen führen über die Brücke nach Köln."),
    ("spanish", "¿Dónde está la estación? ¡Qué día tan bonito!"),
    ("russian", "Доброе утро! Сколько стоит этот хлеб?"),
    ("greek", "Ευχαριστώ για το υπέροχο δείπνο."),
    ("chinese", "我们明天一起去看电影吧。"),
    ("japanese", "東京の天気はどうですか？雨が降っています。"),
    ("arabic", "صباح الخير، كيف حالك؟"),
    ("emoji", "Great job 👍🏽🎉😀 see you 🌙"),
    ("emoji_zwj_flags", "👨‍👩‍👧‍👦 🇯🇵🇪🇸"),
    ("math_symbols", "∑ x² ≤ ∞ ± √2"),
    ("python_code", "def add(a, b):\n    return a + b\n\nprint(add(2, 3))\n"),
    ("cpp_code", "for (int i = 0; i < n; ++i) { sum += v[i]; }"),
    ("json", '{"id": 42, "tags": ["red", "green"], "ok": true}'),
    ("special_piece_text", "<s> not a bos </s> <unk> <0x41>"),
    ("inst_tags", "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi! [/INST]"),
    ("alpaca_prompt", ALPACA_PROMPT),
    ("nul_char", "a\u0000b"),
    ("long_paragraph", (
        "Every night for thirty years, the keeper climbed the 117 steps of the lighthouse. "
        "She checked the lamp, wiped the glass, and wrote the weather in a small notebook: "
        "wind from the west, 14 knots, light rain. Nobody ever read the notebook, but she "
        "kept writing anyway, because the sea deserved a witness."
    )),
    ("mixed_scripts", "Tokyo 東京, Moscow Москва, Athens Αθήνα, Cairo القاهرة"),
    ("leading_newline_space", "\n  indented after newline"),
]

def decode_cases(sp):
    """(name, ids) pairs for decode: control ids, unknown, byte pieces, partial UTF-8."""
    day = sp.encode("日", out_type=int)  # a byte-fallback character: "▁" and 3 byte pieces
    return [
        ("bos_eos_only", [1, 2]),
        ("unk", [0]),
        ("control_inside", [1] + sp.encode("Hi there", out_type=int) + [2, 1]),
        ("partial_utf8", day[:-1]),
        ("bytes_only", [3 + ord("A"), 3 + ord("b")]),
        ("empty", []),
        ("byte_newline_then_piece", [3 + 10] + sp.encode("ok", out_type=int)),
    ]


def msg(role, content, masked=False, eot=True):
    return {"role": role, "content": content, "masked": masked, "eot": eot}


SYSTEM = "You are a helpful, concise assistant."

# (name, messages, prompt_template, max_seq_len, add_start_tokens, add_end_tokens)
MESSAGE_CASES = [
    (
        "system_user_assistant_template",
        [msg("system", SYSTEM, True), msg("user", "How do I boil an egg?", True),
         msg("assistant", "Put it in boiling water for seven minutes.")],
        CHAT_TEMPLATE, None, True, True,
    ),
    (
        "system_user_assistant_no_template",
        [msg("system", SYSTEM + "\n", True), msg("user", "How do I boil an egg?\n", True),
         msg("assistant", "Put it in boiling water for seven minutes.\n")],
        None, None, True, True,
    ),
    (
        "multi_turn_template",
        [msg("system", SYSTEM, True), msg("user", "Name a red fruit.", True),
         msg("assistant", "A strawberry."), msg("user", "And a yellow one?", True),
         msg("assistant", "A banana.")],
        CHAT_TEMPLATE, None, True, True,
    ),
    (
        "multi_turn_unmasked_template",
        [msg("user", "Say hello in French."), msg("assistant", "Bonjour !"),
         msg("user", "Now in Japanese."), msg("assistant", "こんにちは。")],
        CHAT_TEMPLATE, None, True, True,
    ),
    (
        "alpaca_no_template",
        [msg("user", ALPACA_PROMPT, False), msg("assistant", "Red, yellow and blue.")],
        None, None, True, True,
    ),
    (
        "alpaca_template_masked_input",
        [msg("user", ALPACA_PROMPT, True), msg("assistant", "Red, yellow and blue.")],
        CHAT_TEMPLATE, None, True, True,
    ),
    (
        "truncated_template",
        [msg("system", SYSTEM, True), msg("user", "Tell me a long story about a lighthouse.", True),
         msg("assistant", "Every night for thirty years, the keeper climbed the steps.")],
        CHAT_TEMPLATE, 40, True, True,
    ),
    (
        "truncated_mid_turn_no_template",
        [msg("user", "Question one?\n", True), msg("assistant", "Answer one.\n"),
         msg("user", "Question two is longer than the first one?\n", True),
         msg("assistant", "Answer two.\n")],
        None, 30, True, True,
    ),
    (
        "ends_with_user_max_seq_len_not_reached",
        [msg("user", "Hello?", True), msg("assistant", "Hi."), msg("user", "Still there?", True)],
        CHAT_TEMPLATE, 1000, True, True,
    ),
    (
        "inference_no_end_tokens",
        [msg("system", SYSTEM, True), msg("user", "What is 2 + 2?", True)],
        CHAT_TEMPLATE, 1000, True, False,
    ),
    (
        "no_start_tokens",
        [msg("user", "Ping", True), msg("assistant", "Pong")],
        CHAT_TEMPLATE, None, False, True,
    ),
    (
        "spaces_and_multilingual_no_template",
        [msg("user", "  Translate: good night  ", True), msg("assistant", " Bonne nuit / Gute Nacht / Спокойной ночи  "),
         msg("user", "\nand in Greek?", True), msg("assistant", "\tΚαληνύχτα 🌙")],
        None, None, True, True,
    ),
    (
        "system_without_user_template",
        [msg("system", SYSTEM, True), msg("assistant", "Hello, how can I help?")],
        CHAT_TEMPLATE, None, True, True,
    ),
    (
        "assistant_not_end_of_turn_eot_false",
        [msg("user", "List two colours.", True), msg("assistant", "Red", eot=False),
         msg("assistant", " and blue.")],
        CHAT_TEMPLATE, None, True, True,
    ),
]


def dump(value, indent: str = "") -> str:
    """Readable JSON: lists of scalars (ids, masks) and small flat objects on one line."""
    inner = indent + " "
    flat = json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict) and len(flat) <= 100 and not any(
            isinstance(v, dict) or (isinstance(v, list) and any(isinstance(i, (dict, list)) for i in v))
            for v in value.values()):
        return flat
    if isinstance(value, dict):
        items = [f"{inner}{json.dumps(k)}: {dump(v, inner)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}" if items else "{}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        items = [inner + dump(v, inner) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + indent + "]"
    return json.dumps(value, ensure_ascii=False)


def main() -> None:
    model = str(REPO_ROOT / MODEL)
    sp = SentencePieceProcessor(model_file=model)
    base = llama2_tokenizer(model, prompt_template=None)

    encode_cases = []
    for name, text in TEXTS:
        spm_ids = sp.encode(text, out_type=int)
        encodes = []
        for add_bos, add_eos, trim in ENCODE_OPTIONS:
            # A fresh tokenizer per call: torchtune caches the trim prefix on first use.
            tok = llama2_tokenizer(model, prompt_template=None)
            ids = tok.encode(text, add_bos=add_bos, add_eos=add_eos, trim_leading_whitespace=trim)
            encodes.append({"add_bos": add_bos, "add_eos": add_eos,
                            "trim_leading_whitespace": trim, "ids": ids})
        encode_cases.append({
            "name": name,
            "text": text,
            "spm_ids": spm_ids,
            "spm_pieces": sp.encode(text, out_type=str),
            "encode": encodes,
            "decode": base.decode(spm_ids),
            "decode_with_special": base.decode(encodes[0]["ids"]),
        })

    dec = [{"name": n, "ids": ids, "text": base.decode(ids)} for n, ids in decode_cases(sp)]

    message_cases = []
    for name, messages, template, max_seq_len, add_start, add_end in MESSAGE_CASES:
        tok = llama2_tokenizer(model, max_seq_len=max_seq_len, prompt_template=template)
        tt_messages = [Message(role=m["role"], content=m["content"], masked=m["masked"], eot=m["eot"])
                       for m in messages]
        tokens, mask = tok.tokenize_messages(
            tt_messages, add_start_tokens=add_start, add_end_tokens=add_end)
        message_cases.append({
            "name": name,
            "messages": messages,
            "prompt_template": template,
            "max_seq_len": max_seq_len,
            "add_start_tokens": add_start,
            "add_end_tokens": add_end,
            "tokens": tokens,
            "mask": [bool(m) for m in mask],
        })

    out = {
        "generated_by": "tests/scripts/make_tokenizer_fixtures.py",
        "versions": {
            "torchtune": torchtune.__version__,
            "sentencepiece": sentencepiece.__version__,
            "python": platform.python_version(),
        },
        "tokenizer": MODEL,
        "properties": {
            "vocab_size": base.vocab_size,
            "bos_id": base.bos_id,
            "eos_id": base.eos_id,
            "pad_id": base.pad_id,
            "spm_pad_id": sp.pad_id(),
            "encodes_whitespace": base._spm_model.encodes_whitespace,
            "stop_tokens": base.stop_tokens,
        },
        "encode_cases": encode_cases,
        "decode_cases": dec,
        "message_cases": message_cases,
    }
    path = REPO_ROOT / OUT_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump(out) + "\n")
    print(f"wrote {OUT_PATH}: {len(encode_cases)} texts, {len(dec)} decodes, "
          f"{len(message_cases)} message lists")


if __name__ == "__main__":
    main()
