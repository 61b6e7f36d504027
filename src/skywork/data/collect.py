"""The ``collect`` stage: bring files of any common text layout into the JSONL documents the data stage reads.

Real corpora come as plain text (one document per line, whole books, tab-separated parallel pairs) or as JSONL
whose text sits under another key (CCNet's ``raw_content``). Each source becomes ``RUN_DIR/<stage>/<name>.jsonl``
with records ``{"id", "text", "source", "lang"}``; the id (``<name>-<n>``) lets the data stage's outputs be traced
back. Lines that are empty are skipped and counted; a record without the text field is an error naming file and
line (nothing is dropped silently). :class:`CollectReader` is the datatrove reader step of one source;
:func:`collect` runs it for every source and writes the files and ``summary.json`` (kind ``collect``, keys in
docs/data.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from skywork.utils.config import field
from skywork.utils.io import InputError, expand_paths, read_jsonl, write_jsonl
from skywork.utils.summary import write_summary
from skywork.utils.text import CJK_UNIFIED_RE, zh_or_en


@dataclass
class CollectSource:
    name: str = field(
        help="Source name: the output file <name>.jsonl, the record ids and their 'source' field."
    )
    files: list[str] = field(help="Files or globs (relative paths resolve from the working directory).")
    split: Literal["line", "file", "paragraphs", "tab", "jsonl"] = field(
        "line",
        help="line: one document per non-empty line. file: one document per file. paragraphs: blank-line "
        "separated paragraphs joined into documents of about max_chars (books). tab: 'left<TAB>right' "
        "parallel pairs, one document of two lines. jsonl: records with text under text_field.",
    )
    text_field: str = field("text", help="split: jsonl — the key holding the text (CCNet: raw_content).")
    lang: str | None = field(
        None, help="Language code written to each record (None: zh if it has CJK, else en)."
    )
    max_chars: int = field(4000, help="split: paragraphs — target document size in characters.")
    max_docs: int | None = field(None, help="Keep at most N documents of this source (None: all).")


@dataclass
class CollectConfig:
    """Plain-text and JSONL files -> JSONL documents ({id, text, source, lang}) for the data stage."""

    sources: list[CollectSource] = field(
        help="The sources to collect, each into RUN_DIR/<stage>/<name>.jsonl."
    )
    encoding: str = field(
        "utf-8-sig", help="Text encoding of plain-text files (utf-8-sig also strips a BOM)."
    )


def _paths(source: CollectSource) -> list[Path]:
    """The source's files in the order given (globs sorted, directories searched, repeats read once)."""
    return expand_paths(source.files, field=f"sources.{source.name}.files")


def _paragraph_docs(text: str, max_chars: int) -> Iterator[str]:
    blocks = [" ".join(b.split()) for b in text.replace("\r\n", "\n").split("\n\n")]
    chunk: list[str] = []
    size = 0
    for block in (b for b in blocks if b):
        chunk.append(block)
        size += len(block)
        if size >= max_chars:
            yield "\n\n".join(chunk)
            chunk, size = [], 0
    if chunk:
        yield "\n\n".join(chunk)


def _documents(source: CollectSource, path: Path, encoding: str, skipped: dict[str, int]) -> Iterator[str]:
    if source.split == "jsonl":
        for line, record in enumerate(read_jsonl(path, required=(source.text_field,)), start=1):
            text = record[source.text_field]
            if not isinstance(text, str):
                raise InputError("expected a string", path, line, source.text_field)
            if text.strip():
                yield text
            else:
                skipped["empty_text"] = skipped.get("empty_text", 0) + 1
        return
    text = path.read_text(encoding=encoding)
    if source.split == "file":
        yield text
    elif source.split == "paragraphs":
        yield from _paragraph_docs(text, source.max_chars)
    else:
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            if source.split == "tab":
                if "\t" not in line:
                    skipped["no_tab"] = skipped.get("no_tab", 0) + 1
                    continue
                left, right = line.split("\t", 1)
                line = f"{left.strip()}\n{right.strip()}"
            yield line


def _lang(text: str) -> str:
    """The record label: the unified ideograph block only (what the collect stage always wrote)."""
    return zh_or_en(text, 300, CJK_UNIFIED_RE)


class CollectReader(PipelineStep):
    """A datatrove reader of one collect source: its files in order, one :class:`Document` per text.

    Documents carry ``id`` ``<name>-<n>`` and ``metadata`` ``{"source", "lang"}``; ``skipped`` and ``chars`` count
    what was read. The ids number the documents of the whole source, so the source is read by one task.
    """

    name = "skywork collect reader"
    type = "📖 - READER"

    def __init__(self, source: CollectSource, encoding: str = "utf-8-sig"):
        super().__init__()
        self.source, self.encoding = source, encoding
        self.paths = _paths(source)
        self.skipped: dict[str, int] = {}
        self.chars = 0

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        if world_size != 1:
            raise ValueError("a collect source is read by one task (its ids count the documents in order)")
        source, count = self.source, 0
        for path in self.paths:
            for text in _documents(source, path, self.encoding, self.skipped):
                if source.max_docs is not None and count >= source.max_docs:
                    break
                count += 1
                self.chars += len(text)
                self.stat_update("documents")
                yield Document(
                    text=text,
                    id=f"{source.name}-{count:06d}",
                    metadata={"source": source.name, "lang": source.lang or _lang(text)},
                )


def collect(config: CollectConfig, out_dir: str | Path) -> dict:
    """Write one JSONL per source and ``summary.json`` (kind ``collect``); returns
    ``{name: {"files", "documents", "chars", "skipped"}}``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    names = [s.name for s in config.sources]
    if len(set(names)) != len(names):
        raise InputError(f"source names must be unique: {names}", field="sources")
    sources: dict[str, dict] = {}
    for source in config.sources:
        reader = CollectReader(source, config.encoding)
        records = (
            {"id": doc.id, "text": doc.text, "source": doc.metadata["source"], "lang": doc.metadata["lang"]}
            for doc in reader.run()
        )
        count = write_jsonl(out / f"{source.name}.jsonl", records)
        sources[source.name] = {
            "files": [str(p) for p in reader.paths],
            "documents": count,
            "chars": reader.chars,
            "skipped": reader.skipped,
        }
    write_summary(out, "collect", {"sources": sources})
    return sources
