"""Copy-curriculum documents: random token spans, each repeated right after itself.

Why: the needle test needs a copy circuit (an induction head: find the earlier place where the current tokens
occurred and emit what followed). In the needle documents only the 7 answer digits of ~128 tokens reward
copying, and a tiny model sits at chance for ~19,000 of them before the circuit forms. In a document of
``A B C ... A B C ...`` spans about half the tokens can only be predicted by copying, which is the
strongest honest signal for the same circuit (the repeated-random-token task of the induction-head studies).
The spans are drawn from ``alphabet`` (token ids, e.g. the corpus's most frequent pieces plus the digits) from
their own seeded stream, never the test's values: what is learned is the mechanism, not an answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def frequent_tokens(
    documents: Sequence[np.ndarray], count: int, *, extra: Sequence[int] = (), skip: int = 4
) -> list[int]:
    """The ``count`` most frequent token ids of ``documents`` (ids below ``skip``: special tokens, left out),
    plus ``extra`` (e.g. the digit pieces), sorted and unique: an alphabet for :func:`copy_token_documents`."""
    counts = np.bincount(np.concatenate([np.asarray(d, dtype=np.int64) for d in documents]))
    counts[:skip] = 0
    top = [int(t) for t in np.argsort(-counts, kind="stable")[:count] if counts[t] > 0]
    return sorted(set(top) | {int(t) for t in extra})


def copy_token_documents(
    count: int,
    length: int,
    alphabet: Sequence[int],
    *,
    bos_id: int | None,
    eos_id: int | None,
    seed: int = 0,
    span: tuple[int, int] = (4, 32),
) -> list[np.ndarray]:
    """``count`` documents of exactly ``length`` tokens: BOS, then spans ``S S`` (``S`` = ``span[0]..span[1]``
    tokens drawn uniformly from ``alphabet``) until the document is full (the last may be cut), EOS."""
    if span[0] < 1 or span[1] < span[0]:
        raise ValueError(f"copy documents: span must be 1 <= low <= high, got {span}")
    alphabet = np.asarray(alphabet, dtype=np.int64)
    if alphabet.size < 2:
        raise ValueError("copy documents: the alphabet needs at least 2 tokens")
    head = [bos_id] if bos_id is not None else []
    tail = [eos_id] if eos_id is not None else []
    body = length - len(head) - len(tail)
    if body < 2 * span[0]:
        raise ValueError(f"copy documents: length {length} holds no span of {span[0]} tokens repeated")
    rng = np.random.default_rng([seed, 0x636F7079])  # "copy"
    docs = []
    for _ in range(count):
        tokens: list[int] = []
        while len(tokens) < body:
            piece = rng.choice(alphabet, int(rng.integers(span[0], span[1] + 1))).tolist()
            tokens += piece + piece
        docs.append(np.asarray(head + tokens[:body] + tail, dtype=np.int64))
    return docs


__all__ = ["copy_token_documents", "frequent_tokens"]
