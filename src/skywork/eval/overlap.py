"""N-gram overlap between a training corpus and a benchmark (13-grams by default, the GPT-3 / LLaMA-2 style check).

Text is cut into units before n-grams are taken: each CJK character is a unit and each run of letters or digits
(lower-cased) is a unit; punctuation and whitespace are dropped. Thirteen units are thirteen words in English and
thirteen characters in Chinese, so one rule serves both languages. A benchmark sample counts as contaminated when
any of its n-grams occurs in any corpus document (this project's design; the report's own check is the loss-based
leakage test in ``leakage.py``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

from skywork.eval.data import read_texts
from skywork.utils.io import InputError, expand_paths
from skywork.utils.text import units

CORPUS_SUFFIXES = (".jsonl", ".jsonl.gz", ".txt")


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    seq = units(text)
    return {tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)}


def iter_corpus(paths: list[str | Path], skipped: dict[str, int]) -> Iterator[tuple[str, str]]:
    """``(doc_id, text)`` of every corpus document; records without a text are skipped and counted."""
    files = expand_paths(paths, CORPUS_SUFFIXES, field="corpus")
    if not files:
        raise InputError("no corpus files (.jsonl, .jsonl.gz, .txt)", field="corpus")
    for path in files:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            for line_no, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                if path.name.endswith(".txt"):
                    yield f"{path}:{line_no}", raw
                    continue
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError:
                    skipped["invalid_json"] = skipped.get("invalid_json", 0) + 1
                    continue
                text = record.get("text") if isinstance(record, dict) else None
                if not isinstance(text, str):
                    skipped["no_text_field"] = skipped.get("no_text_field", 0) + 1
                    continue
                yield str(record.get("id", f"{path}:{line_no}")), text


def benchmark_texts(path: str | Path) -> list[str]:
    """Samples of a benchmark file: JSONL (``text`` or question + answer), TXT, or a multiple-choice CSV."""
    path = Path(path)
    if path.suffix == ".csv":
        import pandas as pd

        try:
            df = pd.read_csv(path, header=None, dtype=str, keep_default_na=False)
        except pd.errors.EmptyDataError:
            raise InputError("empty file", path) from None
        texts = [" ".join(str(v) for v in row) for row in df.itertuples(index=False)]
        if not texts:
            raise InputError("no rows (empty file)", path)
        return texts
    return read_texts(path)


def ngram_overlap(
    corpus: list[str | Path], benchmark: str | Path, n: int = 13, max_examples: int = 20
) -> dict:
    """Which benchmark samples share an n-gram with the corpus.

    Returns ``{"n", "benchmark", "samples", "contaminated", "fraction", "corpus_documents",
    "matched_corpus_documents", "skipped", "examples": [{"sample", "text", "ngram", "corpus_doc"}]}``.
    """
    samples = benchmark_texts(benchmark)
    owners: dict[tuple[str, ...], list[int]] = {}
    for idx, text in enumerate(samples):
        for gram in ngrams(text, n):
            owners.setdefault(gram, []).append(idx)
    hit: dict[int, tuple[tuple[str, ...], str]] = {}
    matched_docs = 0
    total_docs = 0
    skipped: dict[str, int] = {}
    for doc_id, text in iter_corpus(corpus, skipped):
        total_docs += 1
        seq = units(text)
        matched = False
        for i in range(len(seq) - n + 1):
            gram = tuple(seq[i : i + n])
            if gram in owners:
                matched = True
                for idx in owners[gram]:
                    hit.setdefault(idx, (gram, doc_id))
        matched_docs += matched
    examples = [
        {"sample": idx, "text": samples[idx][:200], "ngram": " ".join(gram), "corpus_doc": doc}
        for idx, (gram, doc) in sorted(hit.items())[:max_examples]
    ]
    return {
        "n": n,
        "benchmark": str(benchmark),
        "corpus": [str(c) for c in corpus],
        "samples": len(samples),
        "contaminated": len(hit),
        "fraction": len(hit) / len(samples),
        "contaminated_samples": sorted(hit),
        "corpus_documents": total_docs,
        "matched_corpus_documents": matched_docs,
        "skipped": skipped,
        "examples": examples,
    }
