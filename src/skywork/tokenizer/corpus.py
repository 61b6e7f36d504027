"""Reading a tokenizer corpus: txt / jsonl(.gz) files, directories and globs, split into Chinese and other lines.

A line that contains at least one CJK ideograph (``skywork.utils.text.CJK_IDEOGRAPH_RE``: the BMP ranges and the
supplementary-plane ideographs) is "Chinese" (it feeds the character and word counts); every other
line feeds the Latin/code BPE. Lines longer than SentencePiece's ``max_sentence_length`` (bytes) would be skipped
silently by its trainer, so :func:`split_long_line` cuts them at spaces (or anywhere, as a last resort) and the
caller counts them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from skywork.utils.io import InputError, expand_paths, read_jsonl_lines

TEXT_SUFFIXES = (".txt", ".jsonl", ".jsonl.gz", ".json", ".md", ".py")


def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files named by ``inputs`` (files, directories searched recursively, globs), in a stable order.

    ``$VARS`` and ``~`` are expanded, and ``{stdlib}`` stands for this Python's standard library directory (a
    code corpus present on every machine).
    """
    import os
    import sysconfig

    stdlib = sysconfig.get_paths()["stdlib"]
    entries = [os.path.expanduser(os.path.expandvars(e.replace("{stdlib}", stdlib))) for e in inputs]
    return expand_paths(entries, TEXT_SUFFIXES)


def _strings(value) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def iter_documents(path: Path, text_field: str = "text") -> Iterator[str]:
    """Texts of one file: the whole file for .txt/.md, the ``text_field`` of each row for .jsonl(.gz), and for
    .json (e.g. chinese-poetry's arrays) every string of each top-level element, one per line."""
    name = path.name
    if name.endswith(".json"):
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as err:
            raise InputError(f"invalid JSON ({err.msg})", path, err.lineno) from None
        for item in data if isinstance(data, list) else [data]:
            yield "\n".join(_strings(item))
        return
    if name.endswith((".jsonl", ".jsonl.gz")):
        for lineno, row in read_jsonl_lines(path, required=(text_field,)):
            if not isinstance(row[text_field], str):
                raise InputError("text field is not a string", path, lineno, text_field)
            yield row[text_field]
    else:
        try:
            yield path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as err:
            raise InputError(f"not UTF-8 text ({err.reason} at byte {err.start})", path) from None


def iter_lines(files: list[Path], text_field: str = "text") -> Iterator[str]:
    """Non-blank lines of all documents (``\\r\\n`` line ends become ``\\n``)."""
    for path in files:
        for doc in iter_documents(path, text_field):
            for line in doc.split("\n"):
                line = line.rstrip("\r")
                if line.strip():
                    yield line


def _utf8_len(ch: str) -> int:
    cp = ord(ch)
    return 1 if cp < 0x80 else 2 if cp < 0x800 else 3 if cp < 0x10000 else 4


def split_long_line(line: str, max_bytes: int) -> list[str]:
    """Cut ``line`` into pieces of at most ``max_bytes`` UTF-8 bytes, preferring to cut before a space."""
    if len(line) * 4 <= max_bytes or len(line.encode("utf-8")) <= max_bytes:
        return [line]
    pieces: list[str] = []
    start, size, last_space = 0, 0, -1
    for i, ch in enumerate(line):
        width = _utf8_len(ch)
        if size + width > max_bytes:
            cut = last_space if last_space > start + (i - start) // 2 else i
            pieces.append(line[start:cut])
            start, last_space = cut, -1
            size = sum(_utf8_len(c) for c in line[cut:i])
        if ch == " ":
            last_space = i
        size += width
    pieces.append(line[start:])
    return pieces
