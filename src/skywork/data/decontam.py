"""Benchmark decontamination: 13-gram overlap between documents and evaluation sets.

Units are lower-cased words for alphabetic scripts and single characters for Chinese (a 13-gram is then 13
words or 13 Han characters), so one index serves GSM8K / MMLU and CMMLU / C-Eval alike. Benchmark items are read
from JSONL (all string fields), CSV (all cells) or text files (one item per line); the index is a sorted array
of 64-bit n-gram hashes with the benchmark each came from.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
from pathlib import Path

import numpy as np
import orjson
from datatrove.data import Document

from skywork.data.steps import SkyFilter
from skywork.utils.io import InputError, atomic_path
from skywork.utils.text import units


def ngram_hashes(tokens: list[str], n: int) -> np.ndarray:
    if len(tokens) < n:
        return np.zeros(0, dtype=np.uint64)
    grams = {"\x1f".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}
    return np.array(
        [int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little") for g in grams],
        dtype=np.uint64,
    )


def benchmark_items(path: Path) -> list[str]:
    from skywork.data.io import decode_bytes

    text = decode_bytes(path.read_bytes())[0] or ""
    if path.suffix == ".jsonl":
        items = []
        for line in text.splitlines():
            if line.strip():
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError as err:
                    raise InputError(f"not JSON: {err}", path) from err
                values = record.values() if isinstance(record, dict) else [record]
                items.append(" ".join(v for v in values if isinstance(v, str)))
        return items
    if path.suffix == ".csv":
        return [" ".join(cell for cell in row if cell) for row in csv.reader(io.StringIO(text))]
    return [line for line in text.splitlines() if line.strip()]


def build_index(benchmarks: dict[str, list[str]], n: int, out: Path) -> dict[str, int]:
    """Hash every benchmark's n-grams into ``out`` (npz: sorted hashes + benchmark id); returns n-gram counts."""
    names = sorted(benchmarks)
    all_hashes, all_ids, counts = [], [], {}
    for bench_id, name in enumerate(names):
        files = [p for pattern in benchmarks[name] for p in sorted(glob.glob(pattern, recursive=True))]
        if not files:
            raise InputError(
                "no benchmark file matches", ", ".join(benchmarks[name]), field=f"benchmarks.{name}"
            )
        hashes = [ngram_hashes(units(item), n) for f in files for item in benchmark_items(Path(f))]
        merged = np.unique(np.concatenate(hashes)) if hashes else np.zeros(0, np.uint64)
        counts[name] = len(merged)
        all_hashes.append(merged)
        all_ids.append(np.full(len(merged), bench_id, dtype=np.int16))
    hashes = np.concatenate(all_hashes) if all_hashes else np.zeros(0, np.uint64)
    ids = np.concatenate(all_ids) if all_ids else np.zeros(0, np.int16)
    order = np.argsort(hashes, kind="stable")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, hashes=hashes[order], ids=ids[order], names=np.array(names))
    return counts


class Decontaminate(SkyFilter):
    """Drops (``mode="drop"``) or masks (``mode="mask"``: removes the lines holding a matched n-gram) documents
    sharing at least ``min_matches`` n-grams with a benchmark; ``metadata["contamination"]`` names them."""

    name = "decontamination"
    step_name = "decontamination"

    def __init__(
        self, output_dir: str | None, index_path: str, n: int = 13, mode: str = "drop", min_matches: int = 1
    ):
        super().__init__(output_dir)
        if mode not in ("drop", "mask"):
            raise InputError(f"mode must be 'drop' or 'mask', got {mode!r}", field="decontamination.mode")
        self.index_path, self.n, self.mode, self.min_matches = index_path, n, mode, min_matches
        self._index = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_index"] = None
        return state

    def _matches(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        hashes, ids, _ = self._index
        doc = ngram_hashes(units(text), self.n)
        if not len(hashes) or not len(doc):
            return np.zeros(0, np.uint64), np.zeros(0, np.int16)
        pos = np.clip(np.searchsorted(hashes, doc), 0, len(hashes) - 1)
        hit = hashes[pos] == doc
        return doc[hit], ids[pos[hit]]

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._index is None:
            data = np.load(self.index_path)
            self._index = (data["hashes"], data["ids"], [str(x) for x in data["names"]])
        matched, ids = self._matches(doc.text)
        if len(matched) < self.min_matches:
            return True
        names = self._index[2]
        doc.metadata["contamination"] = {names[i]: int((ids == i).sum()) for i in np.unique(ids)}
        if self.mode == "drop":
            return False, "contaminated"
        kept = [line for line in doc.text.split("\n") if len(self._matches(line)[0]) == 0]
        doc.text = "\n".join(kept)
        if not doc.text.strip():
            return False, "contaminated"
        return True
