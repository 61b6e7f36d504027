"""Copy-curriculum documents: exact length, every span followed by itself, seeded, from the alphabet only."""

from __future__ import annotations

import numpy as np
import pytest

from skywork.data.synth.copy_docs import copy_token_documents, frequent_tokens


def _parses(body: list[int], low: int, high: int) -> bool:
    """Whether ``body`` splits into spans ``S S`` of ``low..high`` tokens (the last pair may be cut short)."""
    ok = [False] * (len(body) + 1)
    ok[len(body)] = True
    for at in range(len(body) - 1, -1, -1):
        for n in range(low, high + 1):
            first, second = body[at : at + n], body[at + n : at + 2 * n]
            if second == first[: len(second)] and ok[min(len(body), at + 2 * n)]:
                ok[at] = True
                break
    return ok[0]


def test_documents_are_spans_repeated_at_exact_length():
    alphabet = list(range(10, 74))
    docs = copy_token_documents(20, 128, alphabet, bos_id=1, eos_id=2, seed=5, span=(4, 12))
    assert len(docs) == 20 and all(len(d) == 128 for d in docs)
    for doc in docs:
        tokens = doc.tolist()
        assert tokens[0] == 1 and tokens[-1] == 2
        body = tokens[1:-1]
        assert set(body) <= set(alphabet)
        assert _parses(body, 4, 12)
    # the check can fail: the same tokens in a random order are no spans repeated
    assert not _parses(np.random.default_rng(0).permutation(body).tolist(), 4, 12)
    again = copy_token_documents(20, 128, alphabet, bos_id=1, eos_id=2, seed=5, span=(4, 12))
    assert all((a == b).all() for a, b in zip(docs, again, strict=True))
    other = copy_token_documents(20, 128, alphabet, bos_id=1, eos_id=2, seed=6, span=(4, 12))
    assert any((a != b).any() for a, b in zip(docs, other, strict=True))


def test_alphabet_is_the_most_frequent_tokens_plus_extra():
    docs = [np.array([1, 5, 5, 5, 6, 6, 7, 2]), np.array([1, 5, 6, 8, 2])]
    assert frequent_tokens(docs, 2, extra=[40, 41]) == [5, 6, 40, 41]


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="span"):
        copy_token_documents(1, 64, [5, 6], bos_id=1, eos_id=2, span=(0, 3))
    with pytest.raises(ValueError, match="length 8"):
        copy_token_documents(1, 8, [5, 6], bos_id=1, eos_id=2, span=(4, 8))
