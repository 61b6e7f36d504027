"""Cheap text statistics shared by the quality rules (computed once per document, then every rule reads them)."""

from __future__ import annotations

import re
from collections import Counter

WORD_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
ZH_TERMINAL = ("。", "！", "？", "…", "”", "」", "』", "；", "：", "）", ".", "!", "?", '"')
EN_TERMINAL = (".", "!", "?", '"', "'", "”", "’")


def words(text: str) -> list[str]:
    return WORD_RE.findall(text)


def duplicate_ngram_chars(units: list[str], n: int) -> int:
    """Gopher's repeated n-gram characters (datatrove's ``find_all_duplicate``): scanning left to right, an
    n-gram seen before adds its characters and the scan jumps past it, so overlaps are not counted twice."""
    seen: set[str] = set()
    repeated, idx = 0, 0
    while idx < len(units) - n + 1:
        gram = "".join(units[idx : idx + n])
        if gram in seen:
            repeated += len(gram)
            idx += n
        else:
            seen.add(gram)
            idx += 1
    return repeated


def top_ngram_chars(units: list[str], n: int, joiner: str = " ") -> int:
    """Characters of the most frequent n-gram times its count (datatrove's ``find_top_duplicate``)."""
    if len(units) < n:
        return 0
    gram, count = Counter(joiner.join(units[i : i + n]) for i in range(len(units) - n + 1)).most_common(1)[0]
    return len(gram) * count
