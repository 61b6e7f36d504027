"""The vectorised MinHash against datasketch: identical signatures in sha1 mode, identical clusters."""

from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import MinHash, MinHashLSH

from skywork.data.minhash import MinHasher, lsh_clusters, optimal_bands, shingles


def _near_duplicate_set(shared_data, n_docs: int = 60) -> list[str]:
    from tests.data.conftest import chinese_docs, english_docs

    rng = random.Random(7)
    base = english_docs(shared_data, n_docs // 2) + chinese_docs(shared_data, n_docs // 2)
    docs = list(base)
    for text in base[::4]:  # near-duplicates: a few words / characters changed at the end
        docs.append(text[: int(len(text) * 0.97)] + " edited tail")
    rng.shuffle(docs)
    return docs


def datasketch_clusters(
    docs: list[str], threshold: float, num_perm: int, seed: int = 1, params: tuple[int, int] | None = None
) -> np.ndarray:
    """The peer: datasketch MinHash + MinHashLSH, union of every query hit (connected components).
    ``params``: (bands, rows) to use instead of MinHashLSH's own optimisation for ``threshold``."""
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm, params=params)
    parent = list(range(len(docs)))

    def find(x):
        while parent[x] != x:
            x = parent[x]
        return x

    for i, text in enumerate(docs):
        m = MinHash(num_perm=num_perm, seed=seed)
        m.update_batch(shingles(text))
        for j in lsh.query(m):
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
        lsh.insert(i, m)
    return np.array([find(i) for i in range(len(docs))])


@pytest.mark.shared
def test_sha1_mode_signatures_are_bit_identical_to_datasketch(shared_data):
    docs = _near_duplicate_set(shared_data, 20)
    ours = MinHasher(num_perm=64, hash="sha1").signatures(docs)
    for text, signature in zip(docs, ours, strict=True):
        m = MinHash(num_perm=64)
        m.update_batch(shingles(text))
        assert np.array_equal(signature, m.hashvalues)


def test_sha1_mode_chunks_and_repeated_shingles_stay_bit_identical(monkeypatch):
    """Each distinct shingle is hashed once per chunk of texts: repeats across documents and chunk boundaries
    must not change a signature. Short texts (at most n units) are one shingle, as in the reference."""
    import skywork.data.minhash as minhash

    monkeypatch.setattr(minhash, "MAX_CHUNK_CHARS", 64)
    words = "the quick brown fox jumps over the lazy dog again and again".split()
    docs = [
        "",
        "a",
        "短文",
        "中文的文本去重测试中文的文本",
        " ".join(words),
        " ".join(words[:5]),
        " ".join(words[:6]),
    ]
    docs += [" ".join(words[i:] + words[:i]) for i in range(len(words))] + docs
    ours = MinHasher(num_perm=32, hash="sha1").signatures(docs)
    for text, signature in zip(docs, ours, strict=True):
        m = MinHash(num_perm=32)
        m.update_batch(shingles(text))
        assert np.array_equal(signature, m.hashvalues)
    assert shingles(" ".join(words[:5])) == [" ".join(words[:5]).encode()]
    assert shingles(" ".join(words[:6]).upper()) == [
        " ".join(words[:5]).encode(),
        " ".join(words[1:6]).encode(),
    ]
    assert shingles("中文 的文本 去") == ["中文的文本".encode(), "文的文本去".encode()]


def test_shingles_match_the_plain_definition():
    """The C-level map/zip construction gives exactly the obvious list comprehension's shingles."""
    import re

    from skywork.data.minhash import is_chinese

    def reference(text: str, n: int = 5) -> list[bytes]:
        if is_chinese(text):
            units, sep = "".join(text.split()), ""
        else:
            units, sep = re.findall(r"\w+", text.lower()), " "
        return [sep.join(units[i : i + n]).encode("utf-8") for i in range(max(len(units) - n + 1, 1))]

    rng = random.Random(3)
    alphabet = "ab Cd 中文字词 \n\t.,!é😀_9"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(500)]
    assert 50 < sum(map(is_chinese, texts)) < 450  # both branches are exercised
    for text in texts:
        assert shingles(text) == reference(text), repr(text)


@pytest.mark.shared
@pytest.mark.parametrize("hash_kind", ["sha1", "fast"])
def test_clusters_equal_datasketch(shared_data, hash_kind):
    docs = _near_duplicate_set(shared_data)
    bands, rows = optimal_bands(0.8, 128)
    ours = lsh_clusters(MinHasher(num_perm=128, hash=hash_kind).signatures(docs), bands, rows)
    peer = datasketch_clusters(docs, 0.8, 128)
    assert np.array_equal(ours, peer)
    assert (ours != np.arange(len(docs))).sum() >= 10  # the planted near-duplicates were found


def test_long_and_short_texts():
    hasher = MinHasher(num_perm=16)
    signatures = hasher.signatures(["", "a", "短", "word " * 200_000])
    assert signatures.shape == (4, 16)
    # identical texts give identical signatures, a long text is processed in chunks
    assert np.array_equal(hasher.signatures(["word " * 200_000])[0], signatures[3])
