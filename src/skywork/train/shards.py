"""Packed token shards: cleaned text -> memory-mapped token arrays with an index of document boundaries.

Layout of one *stream* (one source, e.g. ``web-en`` or ``stem``)::

    <out_dir>/<source>/
        tokens-00000.bin   raw token ids, uint16 when the vocabulary fits (<= 65536 ids), else uint32
        docs-00000.npy     int64 offsets of document starts in that shard, plus the end (len = docs + 1)
        meta.json          dtype, vocabulary size, counts, the tokenizer and inputs used, the skipped records

Each document is stored as ``<s> text </s>`` (BOS and EOS, as LLaMA-style pretraining does), in input order.
Shuffling happens when the stream is read (:class:`TokenStream`): a permutation of documents per epoch drawn
from ``(seed, epoch)``, so the same shards serve any seed and the order is reproducible from two integers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import typer

from skywork.utils.digest import files_digest
from skywork.utils.io import InputError, atomic_dir, atomic_write_json, expand_paths, read_jsonl_lines

SHARD_TOKENS = 1 << 28  # 256M tokens = 512 MB of uint16 per shard file


def iter_texts(path: Path, text_field: str, skipped: dict[str, int]) -> Iterator[str]:
    """Texts of a JSONL / JSONL.gz file; empty or non-text records are skipped and counted by reason."""
    for lineno, obj in read_jsonl_lines(path, required=(text_field,)):
        text = obj[text_field]
        if not isinstance(text, str):
            raise InputError(f"expected a string, got {type(text).__name__}", path, lineno, text_field)
        if not text.strip():
            skipped["empty_text"] = skipped.get("empty_text", 0) + 1
            continue
        yield text


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 1 << 16 else np.dtype(np.uint32)


BATCH_CHARS = 16_000_000  # at most this many characters per encode call (~50 MB of Python strings)


def tokenize_to_shards(
    inputs: list[str | os.PathLike] | dict[str, list[str | os.PathLike]],
    tokenizer_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    source: str = "main",
    text_field: str = "text",
    min_tokens: int = 1,
    batch_docs: int = 4096,
    shard_tokens: int = SHARD_TOKENS,
    progress: bool = False,
    num_threads: int | None = None,
    encoder: str = "auto",
) -> dict:
    """Tokenize JSONL text into one packed stream per source under ``out_dir/<source>/``.

    ``inputs`` is a list of files / dirs / globs (one stream named ``source``) or a mapping
    ``{source: [inputs...]}``. A stream whose ``meta.json`` already records the same inputs and tokenizer is kept
    (re-running is free); each stream is built in a temporary directory and renamed into place when complete.
    Returns ``{"sources": {name: meta}}``. Texts are encoded in batches of ``batch_docs`` (or ``BATCH_CHARS``
    characters, whichever comes first: large batches keep every thread busy when a few documents are huge) by
    :func:`skywork.tokenizer.batch.batch_encoder` (SentencePiece's threaded batch encode on ``num_threads`` cores,
    default all, when its ids equal the tokenizer's; ``encoder="hf"`` forces the HF call; ``meta["encoder"]`` says
    which ran).
    """
    from skywork.tokenizer import load
    from skywork.tokenizer.batch import batch_encoder

    tokenizer_dir = Path(tokenizer_dir)
    out_dir = Path(out_dir)
    tokenizer = load(tokenizer_dir)
    encode = batch_encoder(
        tokenizer, tokenizer_dir, num_threads, encoder
    )  # SentencePiece's own when ids match
    vocab_size = len(tokenizer)
    dtype = token_dtype(vocab_size)
    groups = inputs if isinstance(inputs, dict) else {source: inputs}
    summary: dict = {"sources": {}}
    for name, group_inputs in groups.items():
        files = expand_paths(list(group_inputs), (".jsonl", ".jsonl.gz"))
        fingerprint = {
            "tokenizer": files_digest(
                tokenizer_dir / name
                for name in ("tokenizer.model", "tokenizer.json", "tokenizer_config.json")
            ),
            "inputs": [str(f.resolve()) for f in files],
            "sizes": [f.stat().st_size for f in files],
            "text_field": text_field,
            "min_tokens": min_tokens,
        }
        stream_dir = out_dir / name
        meta_file = stream_dir / "meta.json"
        if meta_file.exists():
            old = json.loads(meta_file.read_text())
            if old.get("fingerprint") == fingerprint:
                summary["sources"][name] = old
                continue
        with atomic_dir(stream_dir) as tmp:
            meta = _write_stream(
                files,
                tokenizer,
                encode,
                tmp,
                dtype,
                text_field,
                min_tokens,
                batch_docs,
                shard_tokens,
                progress,
                name,
            )
            meta.update(
                source=name,
                encoder=encode.backend,
                vocab_size=vocab_size,
                dtype=dtype.name,
                bos_id=tokenizer.bos_token_id,
                eos_id=tokenizer.eos_token_id,
                tokenizer_dir=str(tokenizer_dir.resolve()),
                fingerprint=fingerprint,
            )
            if meta["docs"] == 0:
                raise InputError(f"no documents left for source {name!r} (skipped: {meta['skipped']})")
            atomic_write_json(tmp / "meta.json", meta)
        summary["sources"][name] = meta
    return summary


def _write_stream(
    files: list[Path],
    tokenizer,
    encode,
    out: Path,
    dtype: np.dtype,
    text_field: str,
    min_tokens: int,
    batch_docs: int,
    shard_tokens: int,
    progress: bool,
    name: str,
) -> dict:
    bos, eos = tokenizer.bos_token_id, tokenizer.eos_token_id
    skipped: dict[str, int] = {}
    writer = ShardWriter(out, dtype, shard_tokens)

    def write_batch(texts: list[str]) -> None:
        for ids in encode(texts):
            if len(ids) < min_tokens:
                skipped["too_short"] = skipped.get("too_short", 0) + 1
                continue
            writer.add(
                np.asarray(([bos] if bos is not None else []) + ids + ([eos] if eos is not None else []))
            )

    from skywork.utils.progress import progress as progress_display

    def batches() -> Iterator[list[str] | None]:
        """Batches of texts in input order; None marks the end of a file."""
        for file in files:
            batch: list[str] = []
            chars = 0
            for text in iter_texts(file, text_field, skipped):
                batch.append(text)
                chars += len(text)
                if len(batch) >= batch_docs or chars >= BATCH_CHARS:
                    yield batch
                    batch, chars = [], 0
            if batch:
                yield batch
            yield None

    with progress_display(f"tokenizing {name}", total=len(files), unit="files", enabled=progress) as bar:
        # reading and parsing the next batch overlaps the encoding (SentencePiece releases the GIL)
        for batch in prefetched(batches()):
            if batch is None:
                bar.advance()
            else:
                write_batch(batch)
    shards = writer.close()
    return {"docs": writer.total_docs, "tokens": writer.total_tokens, "shards": shards, "skipped": skipped}


class ShardWriter:
    """Documents appended to ``tokens-*.bin`` with their ``docs-*.npy`` offsets: the one writer of the format.

    Used by tokenization and by every stage that builds documents in token space (CIP, needle documents).
    ``close()`` returns the shard list that goes into ``meta.json``.
    """

    def __init__(self, out: Path, dtype: np.dtype, shard_tokens: int = SHARD_TOKENS):
        self.out, self.dtype, self.shard_tokens = Path(out), dtype, shard_tokens
        self.shards: list[dict] = []
        self.handle = None
        self.offsets = [0]
        self.total_docs = self.total_tokens = 0

    def add(self, tokens: np.ndarray) -> None:
        if self.handle is None:
            self.handle = open(self.out / f"tokens-{len(self.shards):05d}.bin", "wb")  # noqa: SIM115
        self.handle.write(np.asarray(tokens).astype(self.dtype).tobytes())
        self.offsets.append(self.offsets[-1] + len(tokens))
        self.total_docs += 1
        self.total_tokens += len(tokens)
        if self.offsets[-1] >= self.shard_tokens:
            self._close_shard()

    def _close_shard(self) -> None:
        if self.handle is None:
            return
        self.handle.close()
        index = len(self.shards)
        np.save(self.out / f"docs-{index:05d}.npy", np.asarray(self.offsets, dtype=np.int64))
        self.shards.append(
            {
                "tokens": f"tokens-{index:05d}.bin",
                "docs": f"docs-{index:05d}.npy",
                "num_tokens": self.offsets[-1],
                "num_docs": len(self.offsets) - 1,
            }
        )
        self.handle, self.offsets = None, [0]

    def close(self) -> list[dict]:
        self._close_shard()
        return self.shards


def prefetched(items: Iterator, depth: int = 2) -> Iterator:
    """``items`` produced by a background thread up to ``depth`` ahead; its exception is raised here, in order."""
    import queue
    import threading

    slots: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def put(entry: tuple) -> bool:
        while not stop.is_set():  # the consumer may have stopped (an error while writing)
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((done, None))
        except BaseException as err:  # noqa: BLE001 - handed to the consumer
            put((done, err))

    worker = threading.Thread(target=produce, name="shards-reader", daemon=True)
    worker.start()
    try:
        while True:
            item, error = slots.get()
            if item is done:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)


class TokenShards:
    """Read side of a stream: memory-mapped tokens and the document index, addressed by global doc number."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        meta_file = self.path / "meta.json"
        if not meta_file.exists():
            raise InputError("not a token stream (no meta.json; build it with `skywork data tokenize`)", path)
        self.meta = json.loads(meta_file.read_text())
        self.dtype = np.dtype(self.meta["dtype"])
        self.tokens = [
            np.memmap(self.path / s["tokens"], dtype=self.dtype, mode="r") if s["num_tokens"] else None
            for s in self.meta["shards"]
        ]
        self.offsets = [np.load(self.path / s["docs"]) for s in self.meta["shards"]]
        counts = [len(o) - 1 for o in self.offsets]
        self.doc_starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.num_docs = int(self.doc_starts[-1])
        self.num_tokens = int(self.meta["tokens"])
        self.vocab_size = int(self.meta["vocab_size"])

    def doc(self, index: int) -> np.ndarray:
        shard = int(np.searchsorted(self.doc_starts, index, side="right") - 1)
        local = index - int(self.doc_starts[shard])
        start, end = self.offsets[shard][local], self.offsets[shard][local + 1]
        return self.tokens[shard][start:end]


def tokenize_command(
    inputs: list[str] = typer.Argument(
        ..., help="JSONL / JSONL.gz files, directories (e.g. a pipeline's kept/) or globs with a text field."
    ),
    tokenizer: Path = typer.Option(..., "--tokenizer", "-t", help="Tokenizer directory."),
    out: Path = typer.Option(
        None, "--output", "-o", help="Output directory; the stream goes to OUTPUT/SOURCE/."
    ),
    source: str = typer.Option(
        "main", help="Name of this stream (one stream per source: web, stem, code...)."
    ),
    text_field: str = typer.Option("text", help="JSON field holding the document text."),
    min_tokens: int = typer.Option(1, help="Drop (and count) documents with fewer tokens than this."),
    legacy_out: Path = typer.Option(None, "--out", hidden=True),
) -> None:
    """Tokenize cleaned text into packed, memory-mapped token shards for `skywork train pretrain`."""
    from rich.console import Console

    from skywork.utils.cli_options import pick

    out = pick(out, legacy_out, "--output", "--out", required=True)

    summary = tokenize_to_shards(
        inputs, tokenizer, out, source=source, text_field=text_field, min_tokens=min_tokens, progress=True
    )
    meta = summary["sources"][source]
    Console().print(
        f"[bold]{source}[/bold]: {meta['docs']:,} documents, {meta['tokens']:,} tokens ({meta['dtype']}) "
        f"in {len(meta['shards'])} shard(s) -> {out / source}; skipped: {meta['skipped'] or 'none'}"
    )
