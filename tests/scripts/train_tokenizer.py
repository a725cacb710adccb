#!/usr/bin/env python3
"""Train the test tokenizer: tests/assets/tokenizer/tokenizer.model.

A tiny SentencePiece BPE model trained on the project's own corpus
(tests/assets/data/corpus.txt) with Llama-2's tokenizer settings, so the
tokenizer tests and the tiny test models use a file of the same kind as
Llama-2's tokenizer.model:

  * ids 0, 1, 2 are <unk>, <s>, </s> (as Llama-2); no pad piece (pad_id -1;
    torchtune forces pad_id 0 for collation),
  * byte_fallback (ids 3..258 are <0x00>..<0xFF>), split_digits,
    identity normalization, dummy prefix, extra whitespace kept,
    whitespace-only pieces allowed.

vocab_size is 512, not 256: the 3 special pieces and 256 byte pieces alone
take 259 ids, and SentencePiece also needs one piece per character it keeps
(character_coverage 0.98 keeps 145 characters of the corpus; rarer ones are
encoded as bytes). 512 leaves room for about 100 merges.

Deterministic: one thread, every sentence used in file order, fixed seed.
Writes tests/assets/tokenizer/versions.json with the sentencepiece version.

Usage (reference environment, tests/requirements.txt):

    python tests/scripts/train_tokenizer.py
"""

import hashlib
import io
import json
from pathlib import Path

import sentencepiece as spm

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = "tests/assets/data/corpus.txt"
OUT_DIR = "tests/assets/tokenizer"
VOCAB_SIZE = 512
CHARACTER_COVERAGE = 0.98
SEED = 0


def main() -> None:
    corpus = REPO_ROOT / CORPUS
    out_dir = REPO_ROOT / OUT_DIR
    out_dir.mkdir(parents=True, exist_ok=True)

    spm.set_random_generator_seed(SEED)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_writer=model,
        model_type="bpe",
        vocab_size=VOCAB_SIZE,
        character_coverage=CHARACTER_COVERAGE,
        byte_fallback=True,
        split_digits=True,
        normalization_rule_name="identity",
        add_dummy_prefix=True,
        remove_extra_whitespaces=False,
        allow_whitespace_only_pieces=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        minloglevel=2,
    )
    (out_dir / "tokenizer.model").write_bytes(model.getvalue())

    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    assert sp.vocab_size() == VOCAB_SIZE
    assert (sp.unk_id(), sp.bos_id(), sp.eos_id(), sp.pad_id()) == (0, 1, 2, -1)
    assert sp.id_to_piece(3) == "<0x00>" and sp.id_to_piece(258) == "<0xFF>"

    versions = {
        "sentencepiece": spm.__version__,
        "script": "tests/scripts/train_tokenizer.py",
        "corpus": CORPUS,
        "corpus_sha256": hashlib.sha256(corpus.read_bytes()).hexdigest(),
        "model_sha256": hashlib.sha256(model.getvalue()).hexdigest(),
        "vocab_size": VOCAB_SIZE,
        "character_coverage": CHARACTER_COVERAGE,
    }
    (out_dir / "versions.json").write_text(json.dumps(versions, indent=2) + "\n")
    print(f"wrote {OUT_DIR}/tokenizer.model ({len(model.getvalue())} bytes, vocab {VOCAB_SIZE})")


if __name__ == "__main__":
    main()
