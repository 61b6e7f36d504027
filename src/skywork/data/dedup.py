"""Corpus-wide steps, file based so the same code runs under the local and the Ray executor:

1. ``DedupSignatures`` (one task per rank): for every document, an exact hash of its normalised text, a MinHash
   signature and the hashes of its normalised lines -> ``work/signatures/<rank>.npz``.
2. ``DedupIndex`` (one task): exact duplicates (keep the first by rank, position), MinHash LSH clusters (keep the
   smallest member), then CCNet-style line counts over the surviving documents -> ``work/index/``.
3. ``DedupFilter`` (one task per rank): drops exact / near duplicates and removes recurring lines (distribution
   filtering), each through its exclusion writer.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

import numpy as np
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from skywork.data.minhash import MinHasher, duplicates_to_remove, lsh_clusters, optimal_bands
from skywork.data.steps import SkyFilter
from skywork.utils.io import atomic_path, atomic_write_json

_DIGITS = re.compile(r"\d")
_PUNCT_SPACE = re.compile(r"[\W_]+", re.UNICODE)


def normalise_line(line: str) -> str:
    """CCNet's normalisation: NFKC, lower case, digits to 0, punctuation and spaces removed."""
    line = unicodedata.normalize("NFKC", line).lower()
    return _PUNCT_SPACE.sub("", _DIGITS.sub("0", line))


def hash64(data: str) -> int:
    return int.from_bytes(hashlib.blake2b(data.encode("utf-8"), digest_size=8).digest(), "little")


class DedupSignatures(PipelineStep):
    name = "dedup signatures"
    type = "🫂 - DEDUP"

    def __init__(self, work_dir: str, minhash: dict | None, min_line_chars: int = 10):
        super().__init__()
        self.work_dir, self.minhash, self.min_line_chars = work_dir, minhash, min_line_chars

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        texts, exact, line_hashes, line_offsets = [], [], [], [0]
        for doc in data:
            texts.append(doc.text)
            exact.append(hash64(" ".join(doc.text.split())))
            lines = {normalise_line(line) for line in doc.text.split("\n")}
            hashes = sorted({hash64(x) for x in lines if len(x) >= self.min_line_chars})
            line_hashes.extend(hashes)
            line_offsets.append(len(line_hashes))
        if self.minhash:
            hasher = MinHasher(**self.minhash)
            signatures = hasher.signatures(texts) if texts else np.zeros((0, hasher.num_perm), np.uint32)
        else:
            signatures = np.zeros((len(texts), 0), np.uint32)
        self.stat_update("documents", value=len(texts))
        out = Path(self.work_dir) / "signatures" / f"{rank:05d}.npz"
        out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(out) as tmp, open(tmp, "wb") as handle:
            np.savez(
                handle,
                exact=np.array(exact, dtype=np.uint64),
                signatures=signatures,
                line_hashes=np.array(line_hashes, dtype=np.uint64),
                line_offsets=np.array(line_offsets, dtype=np.int64),
            )
        return
        yield  # a generator that consumes its input and emits nothing


class DedupIndex(PipelineStep):
    """Single task: decides which (rank, position) documents go and which line hashes recur too often."""

    name = "dedup index"
    type = "🫂 - DEDUP"

    def __init__(
        self,
        work_dir: str,
        ranks: int,
        exact: bool,
        threshold: float | None,
        num_perm: int,
        max_line_recurrence: int | None,
    ):
        super().__init__()
        self.work_dir, self.ranks, self.exact = work_dir, ranks, exact
        self.threshold, self.num_perm, self.max_line_recurrence = threshold, num_perm, max_line_recurrence

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        parts = [np.load(Path(self.work_dir) / "signatures" / f"{r:05d}.npz") for r in range(self.ranks)]
        sizes = np.array([len(p["exact"]) for p in parts])
        starts = np.concatenate([[0], np.cumsum(sizes)])
        total = int(starts[-1])
        removed = np.zeros(total, dtype=np.int8)  # 0 keep, 1 exact duplicate, 2 near duplicate
        if self.exact and total:
            exact = np.concatenate([p["exact"] for p in parts])
            _, first = np.unique(exact, return_index=True)
            is_first = np.zeros(total, dtype=bool)
            is_first[first] = True
            removed[~is_first] = 1
        if self.threshold is not None and total:
            survivors = np.nonzero(removed == 0)[0]
            signatures = np.concatenate([p["signatures"] for p in parts])[survivors]
            bands, rows = optimal_bands(self.threshold, self.num_perm)
            drop = survivors[duplicates_to_remove(lsh_clusters(signatures, bands, rows))]
            removed[drop] = 2
            self.stat_update("near_duplicates", value=len(drop))
        frequent = np.zeros(0, dtype=np.uint64)
        if self.max_line_recurrence is not None and total:
            kept_hashes = []
            for r, part in enumerate(parts):
                offsets = part["line_offsets"]
                keep = removed[starts[r] : starts[r + 1]] == 0
                for i in np.nonzero(keep)[0]:
                    kept_hashes.append(part["line_hashes"][offsets[i] : offsets[i + 1]])
            if kept_hashes:
                values, counts = np.unique(np.concatenate(kept_hashes), return_counts=True)
                frequent = values[counts > self.max_line_recurrence]
        index_dir = Path(self.work_dir) / "index"
        index_dir.mkdir(parents=True, exist_ok=True)
        for r in range(self.ranks):
            with atomic_path(index_dir / f"removed_{r:05d}.npy") as tmp, open(tmp, "wb") as handle:
                np.save(handle, removed[starts[r] : starts[r + 1]])
        with atomic_path(index_dir / "frequent_lines.npy") as tmp, open(tmp, "wb") as handle:
            np.save(handle, frequent)
        atomic_write_json(
            index_dir / "index.json",
            {
                "documents": total,
                "exact_duplicates": int((removed == 1).sum()),
                "near_duplicates": int((removed == 2).sum()),
                "frequent_lines": len(frequent),
            },
        )
        return
        yield


class DuplicateFilter(SkyFilter):
    """Drops the documents the index marked (``code`` 1: exact_dedup step, 2: minhash step)."""

    name = "duplicates"

    def __init__(self, output_dir: str | None, work_dir: str, code: int, step_name: str, reason: str):
        self.step_name = step_name
        super().__init__(output_dir)
        self.work_dir, self.code, self.reason = work_dir, code, reason
        self._removed = None
        self._position = 0

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self._removed = np.load(Path(self.work_dir) / "index" / f"removed_{rank:05d}.npy")
        self._position = 0
        return super().run(data, rank, world_size)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        position = doc.metadata.get("_position")
        if self._removed[position] == self.code:
            return False, self.reason
        return True


class Positions(PipelineStep):
    """Tags each document with its position in the rank file (the index is keyed by it)."""

    name = "positions"
    type = "🔢 - TAG"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for position, doc in enumerate(data):
            doc.metadata["_position"] = position
            yield doc


class DistributionFilter(SkyFilter):
    """CCNet-style: removes lines whose normalised hash recurs in more than ``max_line_recurrence`` documents
    across the corpus; a document left with fewer than ``min_chars`` characters is dropped."""

    name = "distribution filter"
    step_name = "distribution"

    def __init__(self, output_dir: str | None, work_dir: str, min_line_chars: int = 10, min_chars: int = 1):
        super().__init__(output_dir)
        self.work_dir, self.min_line_chars, self.min_chars = work_dir, min_line_chars, min_chars
        self._frequent: set[int] = set()

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        self._frequent = set(np.load(Path(self.work_dir) / "index" / "frequent_lines.npy").tolist())
        return super().run(data, rank, world_size)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        doc.metadata.pop("_position", None)
        if not self._frequent:
            return True
        kept, removed = [], 0
        for line in doc.text.split("\n"):
            norm = normalise_line(line)
            if len(norm) >= self.min_line_chars and hash64(norm) in self._frequent:
                removed += 1
            else:
                kept.append(line)
        if removed:
            doc.metadata["boilerplate_lines_removed"] = removed
            doc.text = "\n".join(kept).strip("\n")
            if len(doc.text.strip()) < self.min_chars:
                return False, "boilerplate_only"
        return True
