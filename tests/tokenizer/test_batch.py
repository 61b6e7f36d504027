"""Corpus tokenization at SentencePiece speed: the batch encoder and the shards it writes."""

from __future__ import annotations

import json

from skywork.testing import _ZH, stdlib_text
from skywork.tokenizer import load
from skywork.tokenizer.batch import SentencePieceEncoder, batch_encoder
from skywork.train.shards import tokenize_to_shards

TEXTS = [*_ZH, "a </s> b [USER] <s>", "  lead\ttab\r\nend  ", "😀 𠀀 x", "价格上涨3.5%。他说：“好。”"]


def test_our_tokenizers_encode_with_sentencepiece_and_write_the_same_bytes(small_tokenizer, tmp_path):
    """A directory our trainer wrote: SentencePiece's threaded batch call, byte-identical shards to the HF call
    (special-token look-alikes stay text)."""
    out, _ = small_tokenizer
    src = tmp_path / "docs.jsonl"
    texts = [*TEXTS, stdlib_text(max_files=3, max_chars=20_000)]
    src.write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8"
    )
    metas = {}
    for encoder in ("auto", "hf"):
        metas[encoder] = tokenize_to_shards(
            [src], out, tmp_path / encoder, encoder=encoder, batch_docs=4, num_threads=2
        )["sources"]["main"]
    assert metas["auto"]["encoder"] == "sentencepiece" and metas["hf"]["encoder"] == "hf"
    assert metas["auto"]["tokens"] == metas["hf"]["tokens"] > len(texts) * 2
    for name in ("tokens-00000.bin", "docs-00000.npy"):
        assert (tmp_path / "auto" / "main" / name).read_bytes() == (
            tmp_path / "hf" / "main" / name
        ).read_bytes()


def test_official_style_tokenizers_keep_the_hf_call(tiny_tokenizer_dir):
    """The official layout adds the chat markers beyond the model and recognises special tokens in text: only the
    HF call gives its ids, so the encoder says so and uses it."""
    tokenizer = load(tiny_tokenizer_dir)
    encoder = batch_encoder(tokenizer, tiny_tokenizer_dir)
    assert encoder(TEXTS) == tokenizer(TEXTS, add_special_tokens=False)["input_ids"]
    assert encoder.backend == "hf"


def test_a_differing_first_batch_falls_back_to_the_hf_call(small_tokenizer, tiny_tokenizer_dir):
    """The run-time check: a model whose ids differ from the tokenizer's is never used."""
    out, _ = small_tokenizer
    tokenizer = load(out)
    wrong_model = tiny_tokenizer_dir / "tokenizer.model"  # another vocabulary of a different size
    encoder = SentencePieceEncoder(tokenizer, wrong_model)
    assert encoder.backend == "hf"  # sizes differ: not even tried
    same = SentencePieceEncoder(tokenizer, out / "tokenizer.model", num_threads=1)
    assert same(TEXTS) == tokenizer(TEXTS, add_special_tokens=False)["input_ids"]
    assert same.backend == "sentencepiece" and same.mismatch is None
