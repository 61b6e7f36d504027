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

:class:`ShardMixtureSource` is pretraining's :class:`~skywork.train.batches.BatchSource`: the sampler plus the
held-out sets (token streams or JSONL files), all packed by :mod:`skywork.train.packing`.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from skywork.train.batches import Batch, DataExhausted
from skywork.train.config import PretrainConfig
from skywork.train.packing import DocumentPacker, heldout_rows, to_batch
from skywork.train.shards import TokenShards, iter_texts
from skywork.utils.io import InputError

log = logging.getLogger(__name__)


class TokenStream(DocumentPacker):
    """One source: documents in a seeded per-epoch permutation, packed by the shared :class:`DocumentPacker`."""

    def __init__(self, name: str, shards: TokenShards, seed: int, max_epochs: float | None = None):
        self.name, self.shards, self.seed, self.max_epochs = name, shards, seed, max_epochs
        self._salt = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
        super().__init__(shards.num_docs, shards.doc, self._permutation)

    @property
    def exhausted(self) -> bool:
        return self.max_epochs is not None and self.tokens_read >= self.max_epochs * self.shards.num_tokens

    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, self._salt, epoch]).permutation(self.shards.num_docs)


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
        """Current sampling shares (all zero once every source is exhausted)."""
        try:
            weights = self.weights_at(self.draws / self.total_sequences)
        except DataExhausted:
            weights = np.zeros(len(self.streams))
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
        return to_batch(
            [pieces for _, pieces in rows], [name for name, _ in rows], self.cross_document_attention
        )

    def state_dict(self) -> dict:
        return {"draws": self.draws, "streams": {s.name: s.state_dict() for s in self.streams}}

    def load_state_dict(self, state: dict) -> None:
        self.draws = int(state["draws"])
        for stream in self.streams:
            if stream.name in state["streams"]:
                stream.load_state_dict(state["streams"][stream.name])


class ShardMixtureSource:
    """Pretraining's batch source: the mixture sampler over token shards and the held-out sets."""

    def __init__(self, sampler: MixtureSampler, validation: dict[str, Batch]):
        self.sampler, self.validation = sampler, validation

    def next_batch(self, rows: int) -> Batch:
        return self.sampler.next_batch(rows)

    def validation_sets(self) -> dict[str, Batch]:
        return self.validation

    def log_fields(self) -> dict:
        return {"shares": self.sampler.shares()}

    def state_dict(self) -> dict:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.sampler.load_state_dict(state)


def pretrain_batches(config: PretrainConfig, world: int, tokenizer) -> ShardMixtureSource:
    """The batch source of ``run_pretraining``: ``data.sources`` as a mixture, ``data.validation`` as held-out sets."""
    return ShardMixtureSource(build_sampler(config, world), load_validation(config, tokenizer))


def build_sampler(config: PretrainConfig, world: int) -> MixtureSampler:
    if not config.data.sources:
        raise InputError("data.sources is empty: give at least one token stream", field="data.sources")
    streams, weights, ends = [], [], []
    for i, source in enumerate(config.data.sources):
        try:
            shards = TokenShards(source.path)
        except InputError as err:
            raise InputError(str(err), field=f"data.sources[{i}].path") from None
        streams.append(TokenStream(source.name, shards, config.seed, source.max_epochs))
        weights.append(source.weight)
        ends.append(source.weight_end)
    total = config.max_steps * config.grad_accum_steps * config.micro_batch_size * world
    return MixtureSampler(
        streams, weights, ends, config.data.seq_len, total, config.seed, config.data.cross_document_attention
    )


def load_validation(config: PretrainConfig, tokenizer) -> dict[str, Batch]:
    """Held-out sets as fixed packed batches: token stream dirs as they are, .jsonl files tokenized now."""
    seq_len, max_rows = config.data.seq_len, config.data.eval_sequences
    sets = {}
    for name, path in config.data.validation.items():
        path = Path(path)
        if path.is_dir():
            shards = TokenShards(path)
            rows = heldout_rows(shards.doc, shards.num_docs, shards.num_tokens, seq_len, max_rows)
        else:
            docs = tokenize_documents(path, tokenizer, max_tokens=seq_len * max_rows)
            rows = heldout_rows(docs, len(docs), sum(len(d) for d in docs), seq_len, max_rows)
        sets[name] = to_batch(rows, [name] * len(rows), config.data.cross_document_attention)
    return sets


def tokenize_documents(path: Path, tokenizer, max_tokens: int) -> list[np.ndarray]:
    """``<s> text </s>`` token arrays of a JSONL file's documents, read until ``max_tokens`` are reached."""
    docs, total, skipped = [], 0, {}
    for text in iter_texts(path, "text", skipped):
        # A whole document, cut into rows by the packer (verbose=False: no model-length warning).
        ids = [tokenizer.bos_token_id] + tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        docs.append(np.asarray(ids + [tokenizer.eos_token_id], dtype=np.int64))
        total += len(docs[-1])
        if total >= max_tokens:
            break
    if not docs:
        raise InputError("validation file holds no text", path)
    return docs
