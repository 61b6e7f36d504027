"""Chunk-interleaved pretraining (CIP): pseudo long documents from short ones (spec 1.3; design in spec 5).

A CIP sample takes ``k`` short documents (``min_docs..max_docs``, drawn per sample), cuts each into chunks that
end at sentence ends (``chunk_min..chunk_max`` tokens) and lays them out round-robin, chunk i of every document
before chunk i+1::

    <s> [A] A1 [B] B1 [C] C1 [A] A2 [B] B2 [A] A3 </s>

``[A]`` is the optional marker naming the chunk's document within the sample (``marker`` template, tokenized
with the stream's tokenizer), so the model can learn to link a chunk to the earlier chunks of its document
thousands of tokens back; that link is the point of CIP. Loss runs over every token and attention is causal
over the whole sample (no intra-document mask: masking would undo the interleaving). OLMo-core's
``NumpyInterleavedFSLDataset`` has the same semantics (documents per instance, chunk i before chunk i+1); this
is our own implementation, in token space, over the pretraining token streams.

No token is lost or duplicated. Each document contributes at most ``(target_tokens - 2) // k`` tokens
(markers included) to a sample; what does not fit goes back to the front of the queue and continues in the next
sample. Documents of at least ``long_min_tokens`` are naturally long: they are copied whole as samples of their
own, not interleaved. ``chunks.jsonl`` records every sample's pieces as ``[doc, start, end]`` offsets into the
input documents, so the layout can be checked (tests/longctx/test_cip.py does).

The output is a token stream in the :mod:`skywork.train.shards` format (one CIP sample = one document), so the
pretraining mixture reads it as a source; the share of CIP versus natural long documents in a long-context
stage is that mixture's source weights (``sources: [{name: cip, weight: 0.7}, {name: long, weight: 0.3}]``).
"""

from __future__ import annotations

import json
import string
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skywork.train.shards import SHARD_TOKENS, ShardWriter, TokenShards, token_dtype
from skywork.utils.config import field
from skywork.utils.io import InputError, atomic_dir, atomic_write_json

# Pieces whose text ends a sentence (English and Chinese punctuation, a newline, SentencePiece's byte for "\n").
SENTENCE_END_CHARS = ".!?。！？…\n"
NEWLINE_PIECES = {"<0x0A>", "\n", "Ċ"}
DOC_NAMES = string.ascii_uppercase


@dataclass
class CIPConfig:
    target_tokens: int = field(4096, help="Tokens per CIP sample at most (BOS, EOS and markers included).")
    min_docs: int = field(3, help="Fewest documents interleaved in one sample.")
    max_docs: int = field(8, help="Most documents interleaved in one sample (at most 26: markers A..Z).")
    chunk_min: int = field(256, help="A chunk ends at the last sentence end at or after this many tokens...")
    chunk_max: int = field(1024, help="...and at or before this many (cut hard here when there is none).")
    marker: str | None = field("[{name}] ", help="Text before each chunk naming its document; null: none.")
    long_min_tokens: int | None = field(
        None, help="Documents this long are naturally long: copied whole (default: target_tokens // 2)."
    )
    shuffle: bool = field(True, help="Read the input documents in a seeded random order (else as stored).")
    seed: int = field(0, help="Seeds the document order and the documents-per-sample draws.")

    def validate(self) -> None:
        if not 1 <= self.min_docs <= self.max_docs <= len(DOC_NAMES):
            raise ValueError(f"need 1 <= min_docs <= max_docs <= {len(DOC_NAMES)}")
        if not 1 <= self.chunk_min <= self.chunk_max:
            raise ValueError("need 1 <= chunk_min <= chunk_max")
        if self.target_tokens < 2 + self.max_docs * 2:
            raise ValueError("target_tokens is too small for max_docs documents")


def sentence_end_table(tokenizer) -> np.ndarray:
    """``table[id]`` is True when token ``id``'s piece ends a sentence."""
    pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    return np.asarray(
        [bool(p) and (p in NEWLINE_PIECES or p.rstrip("▁ ")[-1:] in SENTENCE_END_CHARS) for p in pieces],
        dtype=bool,
    )


def cut_chunks(is_end: np.ndarray, min_len: int, max_len: int) -> list[int]:
    """Chunk lengths covering a token run: each ends at its last sentence end in ``[min_len, max_len]``.

    ``is_end[i]`` says token ``i`` ends a sentence; a chunk with none in that window is cut at ``max_len``; the
    last chunk is whatever remains (at most ``max_len``). The lengths sum to ``len(is_end)``.
    """
    lengths, start, n = [], 0, len(is_end)
    while start < n:
        if n - start <= max_len:
            lengths.append(n - start)
            break
        window = np.flatnonzero(is_end[start + min_len - 1 : start + max_len])
        length = int(window[-1]) + min_len if len(window) else max_len
        lengths.append(length)
        start += length
    return lengths


@dataclass
class _Piece:
    doc: int  # the input document's index
    start: int  # offset of this piece's first content token in that document
    end: int


class CIPBuilder:
    """Turns one input token stream into CIP samples (lists of token arrays) and their layout records."""

    def __init__(self, shards: TokenShards, tokenizer, config: CIPConfig):
        config.validate()
        self.shards, self.config = shards, config
        self.bos, self.eos = shards.meta.get("bos_id"), shards.meta.get("eos_id")
        self.is_end = sentence_end_table(tokenizer)
        names = DOC_NAMES[: config.max_docs]
        self.markers = {
            name: np.asarray(
                tokenizer(config.marker.format(name=name), add_special_tokens=False)["input_ids"]
                if config.marker
                else [],
                dtype=np.int64,
            )
            for name in names
        }
        self.long_min = config.long_min_tokens or config.target_tokens // 2
        self.rng = np.random.default_rng(config.seed)
        self.empty_docs = 0  # input documents with no content (only BOS/EOS): counted, nothing to interleave

    def content(self, index: int) -> tuple[np.ndarray, int, int]:
        """(stored document, start, end): ``doc[start:end]`` is its content, without its BOS and EOS."""
        doc = np.asarray(self.shards.doc(index), dtype=np.int64)
        start = 1 if len(doc) and self.bos is not None and doc[0] == self.bos else 0
        end = len(doc) - 1 if len(doc) > start and self.eos is not None and doc[-1] == self.eos else len(doc)
        return doc, start, end

    def samples(self):
        """Yield ``(tokens, record)`` per output sample, in output order; deterministic in ``config.seed``."""
        count = self.shards.num_docs
        order = self.rng.permutation(count) if self.config.shuffle else np.arange(count)
        queue: deque[_Piece] = deque()
        cursor = 0
        while cursor < len(order) or queue:
            k = int(self.rng.integers(self.config.min_docs, self.config.max_docs + 1))
            group: list[_Piece] = []
            while len(group) < k and (queue or cursor < len(order)):
                if queue:
                    group.append(queue.popleft())
                    continue
                index = int(order[cursor])
                cursor += 1
                doc, start, end = self.content(index)
                if end - start + 2 >= self.long_min:  # naturally long: a sample of its own, as stored
                    yield doc, {"kind": "long", "pieces": [[index, start, end]]}
                    continue
                if end > start:
                    group.append(_Piece(index, start, end))
                else:
                    self.empty_docs += 1
            if group:
                yield self.interleave(group, queue)

    def interleave(self, group: list[_Piece], queue: deque[_Piece]) -> tuple[np.ndarray, dict]:
        """One sample from ``group``; the parts that do not fit are pushed back to the front of ``queue``."""
        budget = (self.config.target_tokens - 2) // len(group)
        columns, leftovers, pieces = [], [], []
        for slot, piece in enumerate(group):
            marker = self.markers[DOC_NAMES[slot]]
            room = budget - len(marker)
            max_len = max(1, min(self.config.chunk_max, room))
            min_len = min(self.config.chunk_min, max_len)
            doc, _, _ = self.content(piece.doc)
            chunks, used, start = [], 0, piece.start
            for length in cut_chunks(self.is_end[doc[piece.start : piece.end]], min_len, max_len):
                if chunks and used + len(marker) + length > budget:
                    break
                chunks.append((start, start + length))
                used += len(marker) + length
                start += length
            if start < piece.end:
                leftovers.append(_Piece(piece.doc, start, piece.end))
            columns.append((marker, doc, chunks))
        tokens = [np.asarray([self.bos] if self.bos is not None else [], dtype=np.int64)]
        for round_ in range(max(len(chunks) for _, _, chunks in columns)):
            for slot, (marker, doc, chunks) in enumerate(columns):
                if round_ < len(chunks):
                    start, end = chunks[round_]
                    tokens += [marker, doc[start:end]]
                    pieces.append([group[slot].doc, start, end])
        tokens.append(np.asarray([self.eos] if self.eos is not None else [], dtype=np.int64))
        queue.extendleft(reversed(leftovers))
        docs = [piece.doc for piece in group]  # in marker order: docs[0] is [A], docs[1] is [B], ...
        return np.concatenate(tokens), {"kind": "cip", "docs": docs, "pieces": pieces}


def build_cip_stream(
    input_stream: str | Path,
    out_dir: str | Path,
    config: CIPConfig,
    *,
    tokenizer_dir: str | Path | None = None,
    source: str = "cip",
    shard_tokens: int = SHARD_TOKENS,
) -> dict:
    """Write ``out_dir/<source>/``: CIP samples (and natural long documents) of ``input_stream`` as a stream."""
    from skywork.tokenizer import load

    shards = TokenShards(input_stream)
    tokenizer_dir = tokenizer_dir or shards.meta.get("tokenizer_dir")
    if tokenizer_dir is None or not Path(tokenizer_dir).exists():
        raise InputError("the stream names no tokenizer that exists here; pass --tokenizer", input_stream)
    tokenizer = load(tokenizer_dir)
    builder = CIPBuilder(shards, tokenizer, config)
    dtype = token_dtype(shards.vocab_size)
    stream_dir = Path(out_dir) / source
    counts = {"cip": 0, "long": 0}
    tokens_by_kind = {"cip": 0, "long": 0}
    with atomic_dir(stream_dir) as tmp:
        writer = ShardWriter(tmp, dtype, shard_tokens)
        with open(tmp / "chunks.jsonl", "w", encoding="utf-8") as layout:
            for tokens, record in builder.samples():
                writer.add(tokens)
                counts[record["kind"]] += 1
                tokens_by_kind[record["kind"]] += len(tokens)
                layout.write(json.dumps(record) + "\n")
        meta = {
            "source": source,
            "docs": writer.total_docs,
            "tokens": writer.total_tokens,
            "shards": writer.close(),
            "skipped": {"empty_docs": builder.empty_docs} if builder.empty_docs else {},
            "vocab_size": shards.vocab_size,
            "dtype": dtype.name,
            "bos_id": builder.bos,
            "eos_id": builder.eos,
            "tokenizer_dir": str(Path(tokenizer_dir).resolve()),
            "cip": {
                "input": str(Path(input_stream).resolve()),
                "config": config.__dict__,
                "samples": counts,
                "tokens": tokens_by_kind,
                "mean_cip_sample_tokens": tokens_by_kind["cip"] / max(1, counts["cip"]),
                "input_docs": shards.num_docs,
                "input_tokens": shards.num_tokens,
            },
        }
        atomic_write_json(tmp / "meta.json", meta)
    return meta


def write_token_documents(
    out_dir: str | Path,
    documents: list[np.ndarray],
    *,
    tokenizer,
    tokenizer_dir: str | Path,
    source: str,
    shard_tokens: int = SHARD_TOKENS,
) -> dict:
    """Write token documents (built in token space, e.g. needle-style samples) as the stream ``out_dir/<source>``."""
    vocab_size = len(tokenizer)
    dtype = token_dtype(vocab_size)
    with atomic_dir(Path(out_dir) / source) as tmp:
        writer = ShardWriter(tmp, dtype, shard_tokens)
        for tokens in documents:
            writer.add(np.asarray(tokens))
        meta = {
            "source": source,
            "docs": writer.total_docs,
            "tokens": writer.total_tokens,
            "shards": writer.close(),
            "skipped": {},
            "vocab_size": vocab_size,
            "dtype": dtype.name,
            "bos_id": tokenizer.bos_token_id,
            "eos_id": tokenizer.eos_token_id,
            "tokenizer_dir": str(Path(tokenizer_dir).resolve()),
        }
        atomic_write_json(tmp / "meta.json", meta)
    return meta
