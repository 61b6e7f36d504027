"""Reading pipeline inputs and outputs: encoding detection, tolerant JSONL, Parquet/HTML/WARC records.

Every reader here yields *records*, never raises on bad content: a record either carries text or an
``invalid`` reason (``malformed_json``, ``invalid_utf8``, ``binary``, ...) so the pipeline can exclude it
through an exclusion writer and count it. Only unreadable files (missing, permission) raise.
"""

from __future__ import annotations

import gzip
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from skywork.utils.io import InputError, expand_paths

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".ndjson")
HTML_SUFFIXES = (".html", ".htm", ".html.gz", ".htm.gz")
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc.gz")
PARQUET_SUFFIXES = (".parquet",)
INPUT_SUFFIXES = JSONL_SUFFIXES + HTML_SUFFIXES + WARC_SUFFIXES + PARQUET_SUFFIXES

# Encodings tried after UTF-8, most common on the Chinese web first.
FALLBACK_ENCODINGS = ("gb18030", "big5")


def input_kind(path: str) -> str | None:
    """'jsonl' | 'html' | 'warc' | 'parquet' from the file name, None for files the pipeline does not read."""
    name = path.lower()
    for kind, suffixes in (
        ("jsonl", JSONL_SUFFIXES),
        ("html", HTML_SUFFIXES),
        ("warc", WARC_SUFFIXES),
        ("parquet", PARQUET_SUFFIXES),
    ):
        if name.endswith(suffixes):
            return kind
    return None


def resolve_inputs(inputs: list[str]) -> list[str]:
    """Expand files, directories (recursively) and globs into a sorted, de-duplicated list of readable inputs."""
    found = [str(p) for p in expand_paths(inputs, INPUT_SUFFIXES)]
    for path in found:
        if input_kind(path) is None:
            raise InputError(
                f"unsupported input type (expected one of {', '.join(INPUT_SUFFIXES)})", path, field="inputs"
            )
    unique = list(dict.fromkeys(os.path.abspath(p) for p in found))
    if not unique:
        raise InputError("no input files found", None, field="inputs")
    return unique


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def looks_binary(data: bytes | str) -> bool:
    """True for content with NUL bytes or mostly control characters (images, archives pasted as text)."""
    sample = data[:4096]
    if isinstance(sample, str):
        if "\x00" in sample:
            return True
        controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\n\r\t\f\v")
    else:
        if b"\x00" in sample:
            return True
        controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 11, 12, 13))
    return len(sample) > 0 and controls / len(sample) > 0.1


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str | None, str]:
    """Decode web/file bytes: UTF-8 (BOM stripped), the declared charset, GB18030 (covers GBK/GB2312), Big5,
    then charset-normalizer. Returns (text or None, encoding used); CRLF is normalised to LF."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    candidates = ["utf-8"]
    if declared:
        declared = declared.strip().lower()
        if declared in ("gb2312", "gbk", "gb_2312-80", "x-gbk"):
            declared = "gb18030"  # a superset: pages labelled GB2312 routinely use GBK characters
        candidates.append(declared)
    for encoding in candidates:
        try:
            return normalise_newlines(data.decode(encoding)), encoding
        except (UnicodeDecodeError, LookupError):
            continue
    # Undeclared (or wrongly declared) legacy Chinese: GB18030 decodes almost any byte string, so let
    # charset-normalizer choose between the Chinese code pages by how plausible the decoded text is.
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["gb18030", "big5"]).best() or from_bytes(data).best()
    if best is not None:
        return normalise_newlines(str(best)), best.encoding
    for encoding in FALLBACK_ENCODINGS:
        try:
            return normalise_newlines(data.decode(encoding)), encoding
        except UnicodeDecodeError:
            continue
    return None, "unknown"


def _open_maybe_gzip(path: str) -> io.BufferedIOBase:
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")  # noqa: SIM115


def iter_jsonl_records(
    path: str, text_field: str = "text", id_field: str = "id", max_line_bytes: int = 1 << 62
) -> Iterator[dict[str, Any]]:
    """Yield one record per non-blank line: ``{"id", "text", "metadata", "invalid": reason | None}``.

    Lines that are not JSON objects, not UTF-8, binary, lack the text field or exceed ``max_line_bytes``
    come back with an ``invalid`` reason and a short ``raw`` preview instead of raising.
    """
    stem = Path(path).name
    with _open_maybe_gzip(path) as handle:
        line_no = 0
        while True:
            line = handle.readline()
            if not line:
                break
            line_no += 1
            default_id = f"{stem}:{line_no}"
            if len(line) > max_line_bytes:
                yield _invalid(default_id, "too_large", line[:200], path, line_no, size=len(line))
                continue
            if not line.strip():
                continue
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                yield _invalid(default_id, "invalid_utf8", line[:200], path, line_no)
                continue
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError:
                reason = "binary" if looks_binary(line) else "malformed_json"
                yield _invalid(default_id, reason, line[:200], path, line_no)
                continue
            if not isinstance(data, dict):
                yield _invalid(default_id, "not_an_object", line[:200], path, line_no)
                continue
            record_id = data.pop(id_field, None)
            record_id = str(record_id) if record_id not in (None, "") else default_id
            text = data.pop(text_field, None)
            if not isinstance(text, str):
                reason = "missing_text" if text is None else "text_not_a_string"
                yield _invalid(record_id, reason, line[:200], path, line_no, metadata=data)
                continue
            if looks_binary(text):
                yield _invalid(record_id, "binary", text[:200], path, line_no, metadata=data)
                continue
            metadata = data.pop("metadata", None)
            data = {**metadata, **data} if isinstance(metadata, dict) else data
            yield {
                "id": record_id,
                "text": normalise_newlines(text),
                "metadata": {**data, "file": path, "line": line_no},
                "invalid": None,
            }


def _invalid(record_id, reason, raw, path, line_no, metadata=None, **extra) -> dict[str, Any]:
    preview = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return {
        "id": record_id,
        "text": "",
        "metadata": {
            **(metadata or {}),
            "file": path,
            "line": line_no,
            "raw_preview": preview[:200],
            **extra,
        },
        "invalid": reason,
    }


def iter_parquet_records(
    path: str, text_field: str = "text", id_field: str = "id"
) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    stem = Path(path).name
    parquet = pq.ParquetFile(path)
    row_no = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for data in batch.to_pylist():
            row_no += 1
            record_id = data.pop(id_field, None)
            record_id = str(record_id) if record_id not in (None, "") else f"{stem}:{row_no}"
            text = data.pop(text_field, None)
            if isinstance(text, bytes):
                text, _ = decode_bytes(text)
            if not isinstance(text, str):
                yield _invalid(record_id, "missing_text", "", path, row_no, metadata=data)
                continue
            yield {
                "id": record_id,
                "text": normalise_newlines(text),
                "metadata": {**data, "file": path, "line": row_no},
                "invalid": None,
            }


def iter_html_file_records(path: str) -> Iterator[dict[str, Any]]:
    """One raw HTML page per file; ``html`` holds the decoded page for the extraction step."""
    with _open_maybe_gzip(path) as handle:
        data = handle.read()
    record_id = Path(path).name
    html, encoding = decode_bytes(data, sniff_charset(data))
    if html is None or looks_binary(html):
        yield _invalid(record_id, "undecodable", data[:200], path, 1)
        return
    yield {
        "id": record_id,
        "text": "",
        "html": html,
        "metadata": {"file": path, "encoding": encoding},
        "invalid": None,
    }


def sniff_charset(data: bytes) -> str | None:
    """The charset a page declares in its first 4 KB (``<meta charset>`` or ``content-type``)."""
    import re

    match = re.search(rb"""charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", data[:4096], re.IGNORECASE)
    return match.group(1).decode("ascii").lower() if match else None


def iter_warc_records(path: str) -> Iterator[dict[str, Any]]:
    """HTTP response records of a WARC file, decoded with the charset from the headers or the page."""
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as handle:
        for index, record in enumerate(ArchiveIterator(handle), start=1):
            if record.rec_type != "response":
                continue
            url = record.rec_headers.get_header("WARC-Target-URI") or ""
            record_id = record.rec_headers.get_header("WARC-Record-ID") or f"{Path(path).name}:{index}"
            content_type = (
                record.http_headers.get_header("Content-Type") if record.http_headers else ""
            ) or ""
            if content_type and "html" not in content_type.lower() and "text" not in content_type.lower():
                continue
            data = record.content_stream().read()
            declared = None
            if "charset=" in content_type.lower():
                declared = content_type.lower().split("charset=")[-1].split(";")[0].strip()
            html, encoding = decode_bytes(data, declared or sniff_charset(data))
            if html is None or looks_binary(html):
                yield _invalid(record_id, "undecodable", data[:200], path, index, url=url)
                continue
            yield {
                "id": record_id,
                "text": "",
                "html": html,
                "metadata": {"file": path, "url": url, "encoding": encoding},
                "invalid": None,
            }


def read_documents(path_or_dir: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """Read ``{"id", "text", "metadata"}`` documents back from a run's ``kept/`` or ``excluded/<step>/`` (or a
    whole output directory's ``kept/``, or one ``.jsonl.gz`` file), in a stable file order."""
    path = Path(path_or_dir)
    if path.is_dir():
        if (path / "kept").is_dir() and (path / "summary.json").exists():
            path = path / "kept"
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith((".jsonl", ".jsonl.gz")))
    elif path.is_file():
        files = [path]
    else:
        raise InputError("no such file or directory", path)
    for file in files:
        with _open_maybe_gzip(str(file)) as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    doc = orjson.loads(line)
                except orjson.JSONDecodeError as err:
                    raise InputError(f"not a JSON line: {err}", file, line=line_no) from err
                if "metadata" not in doc:  # a plain input record: its extra fields are its metadata
                    doc = {
                        "id": doc.pop("id", f"{file.name}:{line_no}"),
                        "text": doc.pop("text", ""),
                        "metadata": doc,
                    }
                yield doc
