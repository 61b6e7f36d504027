"""Batch encoding at raw SentencePiece speed, for corpus tokenization (``skywork data tokenize``).

Our tokenizer directories hold the SentencePiece model itself (``tokenizer.model``), and both of our HF classes
give its ids exactly (``SkyworkTokenizerFast`` only after the trainer verified it id for id). Encoding a corpus
through the HF call costs the ``tokenizers`` BPE (about half of SentencePiece's speed on long documents, see
docs/tokenizer.md) plus the HF wrapper; SentencePiece's own batch call encodes a list on a C++ thread pool with
the GIL released. So :func:`batch_encoder` returns SentencePiece's batch encoder when the directory has a model
*and* its ids equal the HF tokenizer's on the first texts it sees (checked at run time, text by text), else the
HF call. Either way the ids are the HF tokenizer's, without special tokens.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

Encoder = Callable[[list[str]], list[list[int]]]


def hf_encoder(tokenizer) -> Encoder:
    """The HF tokenizer's ids without special tokens (special-token look-alikes as the directory says)."""

    def encode(texts: list[str]) -> list[list[int]]:
        # Whole documents, packed into rows later: verbose=False drops transformers' "longer than the specified
        # maximum sequence length" warning, which is about model inputs, not corpus text.
        return tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]

    return encode


def default_threads() -> int:
    """The cores this process may use (``os.sched_getaffinity`` where it exists)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


class SentencePieceEncoder:
    """SentencePiece's multi-threaded batch encode, verified against the HF tokenizer on the first batch.

    ``backend`` says which one encodes: ``"sentencepiece"``, ``"hf"`` (no model, or the first batch differed:
    ``mismatch`` holds the first differing text, shortened) or ``"unchecked"`` before the first call.
    """

    def __init__(self, tokenizer, model_file: Path | None, num_threads: int | None = None):
        self._hf = hf_encoder(tokenizer)
        self.num_threads = num_threads or default_threads()
        self.mismatch: str | None = None
        self._sp = None
        if model_file is not None and model_file.exists():
            import sentencepiece as spm

            sp = spm.SentencePieceProcessor(model_file=str(model_file))
            # Added tokens beyond the model, or special tokens recognised inside text, are the HF call's alone.
            if len(tokenizer) == sp.get_piece_size() and getattr(tokenizer, "split_special_tokens", False):
                self._sp = sp
        self.backend = "unchecked" if self._sp is not None else "hf"

    def __call__(self, texts: list[str]) -> list[list[int]]:
        if self.backend == "hf" or not texts:
            return self._hf(texts)
        ids = self._sp.encode(texts, num_threads=self.num_threads)
        if self.backend == "unchecked":
            sample = _first_chars(texts, CHECK_CHARS)
            for text, ours, ref in zip(sample, ids, self._hf(sample), strict=False):
                if ours != ref:
                    self.backend, self.mismatch = "hf", text[:200]
                    return self._hf(texts)
            self.backend = "sentencepiece"
        return ids


CHECK_CHARS = 20_000  # the first texts checked against the HF call (at least one text)


def _first_chars(texts: list[str], budget: int) -> list[str]:
    out, size = [], 0
    for text in texts:
        out.append(text)
        size += len(text)
        if size >= budget:
            break
    return out


def batch_encoder(
    tokenizer, tokenizer_dir: str | os.PathLike, num_threads: int | None = None, prefer: str = "auto"
) -> SentencePieceEncoder:
    """The fastest exact encoder for ``tokenizer`` loaded from ``tokenizer_dir`` (see the module doc);
    ``prefer="hf"`` always uses the HF call."""
    if prefer not in ("auto", "hf"):
        raise ValueError(f"encoder must be auto or hf, not {prefer!r}")
    model_file = Path(tokenizer_dir) / "tokenizer.model"
    use_model = prefer == "auto" and model_file.exists()
    return SentencePieceEncoder(tokenizer, model_file if use_model else None, num_threads)
