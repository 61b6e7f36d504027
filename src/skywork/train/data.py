"""The mixture sampler: per-source token streams, weights that follow a schedule, repetition caps.

Every training sequence comes from one source, chosen with the source weights at the current point of the
stage (``progress`` = sequences drawn / sequences planned, i.e. linear in tokens). A weight is constant or a
linear ramp ``weight -> weight_end`` (the report's stage-2 STEM share rises 10% -> 40%; the ramp's shape is NOT
FOUND in the report, we use linear in tokens). Weights are renormalised over the sources that are not exhausted.

Inside a source, documents are read in a permutation drawn from ``(seed, source, epoch)`` and packed back to
back into ``seq_len`` tokens; a document that does not fit continues in that source's next sequence.
``max_epochs`` caps repetitions (the report upsamples high-quality sources at most 5 times); a capped source
that runs dry drops out of the mixture with a warning.

The whole position is a handful of integers (:meth:`MixtureSampler.state_dict`), saved in every checkpoint, so a
resumed run reads exactly the tokens the uninterrupted run would have read.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np
import torch

from skywork.train.shards import TokenShards

log = logging.getLogger(__name__)


class DataExhausted(RuntimeError):
    """Every source of the mixture reached its repetition cap."""


class TokenStream:
    """One source: documents in a seeded per-epoch permutation, read sequentially with a token cursor."""

    def __init__(self, name: str, shards: TokenShards, seed: int, max_epochs: float | None = None):
        self.name, self.shards, self.seed, self.max_epochs = name, shards, seed, max_epochs
        self._salt = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
        self.epoch = self.cursor = self.offset = self.tokens_read = 0
        self._perm_epoch = -1
        self._perm = np.empty(0, dtype=np.int64)

    @property
    def exhausted(self) -> bool:
        return self.max_epochs is not None and self.tokens_read >= self.max_epochs * self.shards.num_tokens

    def _permutation(self) -> np.ndarray:
        if self._perm_epoch != self.epoch:
            rng = np.random.default_rng([self.seed, self._salt, self.epoch])
            self._perm = rng.permutation(self.shards.num_docs)
            self._perm_epoch = self.epoch
        return self._perm

    def read(self, n: int) -> list[np.ndarray]:
        """The next ``n`` tokens as pieces, one per (part of a) document; a piece always starts a segment."""
        pieces: list[np.ndarray] = []
        need = n
        while need > 0:
            doc = self.shards.doc(int(self._permutation()[self.cursor]))
            piece = doc[self.offset : self.offset + need]
            pieces.append(np.asarray(piece, dtype=np.int64))
            need -= len(piece)
            self.offset += len(piece)
            self.tokens_read += len(piece)
            if self.offset >= len(doc):
                self.offset = 0
                self.cursor += 1
                if self.cursor >= self.shards.num_docs:
                    self.cursor = 0
                    self.epoch += 1
        return pieces

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "cursor": self.cursor,
            "offset": self.offset,
            "tokens_read": self.tokens_read,
        }

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.cursor = int(state["epoch"]), int(state["cursor"])
        self.offset, self.tokens_read = int(state["offset"]), int(state["tokens_read"])


@dataclass
class Batch:
    input_ids: torch.Tensor  # (B, L) int64
    labels: torch.Tensor  # (B, L) int64, -100 where no prediction is made
    position_ids: (
        torch.Tensor | None
    )  # (B, L), reset at each document start; None when attention crosses docs
    sources: list[str]  # source of each row


class MixtureSampler:
    """Draws packed sequences from weighted sources; deterministic in ``(seed, draws)``."""

    def __init__(
        self,
        streams: list[TokenStream],
        weights: list[float],
        weights_end: list[float | None],
        seq_len: int,
        total_sequences: int,
        seed: int,
        cross_document_attention: bool = False,
    ):
        if len(streams) != len(weights):
            raise ValueError("one weight per source")
        self.streams = streams
        self.start = np.asarray(weights, dtype=np.float64)
        self.end = np.asarray(
            [w if e is None else e for w, e in zip(weights, weights_end, strict=True)], dtype=np.float64
        )
        if (self.start < 0).any() or (self.end < 0).any() or self.start.sum() <= 0:
            raise ValueError("source weights must be >= 0 with a positive sum")
        self.seq_len = seq_len
        self.total_sequences = max(1, total_sequences)
        self.seed = seed
        self.cross_document_attention = cross_document_attention
        self.draws = 0
        self._warned: set[str] = set()

    def weights_at(self, progress: float) -> np.ndarray:
        """Normalised source weights at ``progress`` in [0, 1] of the stage, exhausted sources removed."""
        progress = min(max(progress, 0.0), 1.0)
        weights = self.start + (self.end - self.start) * progress
        for i, stream in enumerate(self.streams):
            if stream.exhausted:
                if stream.name not in self._warned:
                    log.warning(
                        "source %r reached its repetition cap (%s epochs)", stream.name, stream.max_epochs
                    )
                    self._warned.add(stream.name)
                weights[i] = 0.0
        if weights.sum() <= 0:
            raise DataExhausted("every source of the mixture reached its repetition cap (max_epochs)")
        return weights / weights.sum()

    def shares(self) -> dict[str, float]:
        weights = self.weights_at(self.draws / self.total_sequences)
        return {s.name: float(w) for s, w in zip(self.streams, weights, strict=True)}

    def next_sequence(self) -> tuple[str, list[np.ndarray]]:
        weights = self.weights_at(self.draws / self.total_sequences)
        u = np.random.default_rng([self.seed, self.draws]).random()
        index = min(int(np.searchsorted(np.cumsum(weights), u, side="right")), len(weights) - 1)
        while weights[index] == 0:  # float edge: never pick a removed source
            index = (index + 1) % len(weights)
        self.draws += 1
        stream = self.streams[index]
        return stream.name, stream.read(self.seq_len)

    def next_batch(self, n: int) -> Batch:
        rows = [self.next_sequence() for _ in range(n)]
        return pack_rows(
            [pieces for _, pieces in rows], [name for name, _ in rows], self.cross_document_attention
        )

    def state_dict(self) -> dict:
        return {"draws": self.draws, "streams": {s.name: s.state_dict() for s in self.streams}}

    def load_state_dict(self, state: dict) -> None:
        self.draws = int(state["draws"])
        for stream in self.streams:
            if stream.name in state["streams"]:
                stream.load_state_dict(state["streams"][stream.name])


def pack_rows(rows: list[list[np.ndarray]], sources: list[str], cross_document_attention: bool) -> Batch:
    """Concatenate each row's document pieces; without cross-document attention, give per-document positions
    and drop the prediction of a document's first token from the previous document's last one."""
    input_ids = torch.from_numpy(np.stack([np.concatenate(pieces) for pieces in rows]))
    labels = input_ids.clone()
    if cross_document_attention:
        return Batch(input_ids, labels, None, sources)
    position_ids = torch.empty_like(input_ids)
    for r, pieces in enumerate(rows):
        start = 0
        for piece in pieces:
            position_ids[r, start : start + len(piece)] = torch.arange(len(piece))
            if start > 0:
                labels[r, start] = -100
            start += len(piece)
    return Batch(input_ids, labels, position_ids, sources)


def eval_sequences(shards: TokenShards, seq_len: int, max_sequences: int) -> list[list[np.ndarray]]:
    """Held-out rows: documents in stored order, packed into ``seq_len`` rows (the same rows at every eval)."""
    stream = TokenStream("eval", shards, seed=0)
    stream._perm = np.arange(shards.num_docs)
    stream._perm_epoch = 0
    rows = []
    total = min(max_sequences, max(1, shards.num_tokens // seq_len))
    for _ in range(total):
        rows.append(stream.read(seq_len))
    return rows
