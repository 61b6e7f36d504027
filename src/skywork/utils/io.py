"""Atomic writes and located-error readers shared by every stage.

Every file a long job writes goes through a temp file + ``os.replace`` so a crash never leaves a half-written
result that a resumed run would mistake for a finished one.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """Bad user input, with the file, line and field that caused it."""

    def __init__(
        self,
        message: str,
        path: str | os.PathLike | None = None,
        line: int | None = None,
        field: str | None = None,
    ):
        where = []
        if path is not None:
            where.append(str(path))
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        self.path, self.line, self.field = path, line, field
        super().__init__(f"{': '.join([', '.join(where), message]) if where else message}")


def current_umask() -> int:
    """The process umask (read by setting and restoring it: POSIX has no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path`` atomically.

    ``mkstemp`` creates files 0600; the result gets the mode a plain ``open()`` would give (0666 less the umask),
    so atomic writes never make a user's files private behind their back.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if tmp_path.exists():
            os.chmod(tmp_path, 0o666 & ~current_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=indent, default=str) + "\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Build a directory under a temporary name and swap it into place when complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700; give what mkdir would
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def read_jsonl_lines(path: str | os.PathLike, required: tuple[str, ...] = ()) -> Iterator[tuple[int, dict]]:
    """Yield ``(line number, object)`` from a JSONL or JSONL.gz file, so callers can locate their own errors.

    Blank lines are skipped; a bad line raises :class:`InputError` naming file, line and field.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for lineno, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as err:
                raise InputError(f"invalid JSON ({err.msg})", path, lineno) from None
            if not isinstance(obj, dict):
                raise InputError("expected a JSON object", path, lineno)
            for key in required:
                if key not in obj:
                    raise InputError("missing required field", path, lineno, key)
            yield lineno, obj


def read_jsonl(path: str | os.PathLike, required: tuple[str, ...] = ()) -> Iterator[dict]:
    """Yield the objects of a JSONL (or JSONL.gz) file; see :func:`read_jsonl_lines`."""
    for _, obj in read_jsonl_lines(path, required):
        yield obj


def write_jsonl(path: str | os.PathLike, rows: list[dict] | Iterator[dict]) -> int:
    """Write rows atomically; returns the number written."""
    n = 0
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Write a matplotlib figure as PNG atomically and close it (a killed run never leaves half an image)."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return path


def expand_paths(
    inputs: list[str | os.PathLike], suffixes: tuple[str, ...] = (), field: str | None = "inputs"
) -> list[Path]:
    """Files named by ``inputs``: files as given, directories searched recursively, globs; sorted, no repeats.

    Directory contents (and glob matches that are directories) keep only names ending in ``suffixes`` (lower-case;
    all files when empty). A glob with no match, a missing path or a directory with no such file raises
    :class:`InputError` naming the entry and ``field``.
    """
    import glob

    files: list[Path] = []
    for entry in map(str, inputs):
        matches = sorted(glob.glob(entry, recursive=True)) if glob.has_magic(entry) else [entry]
        if not matches:
            raise InputError("no file matches this pattern", entry, field=field)
        for match in map(Path, matches):
            if match.is_dir():
                found = sorted(
                    p
                    for p in match.rglob("*")
                    if p.is_file() and (not suffixes or p.name.lower().endswith(suffixes))
                )
                if not found:
                    raise InputError(
                        f"directory holds no {' or '.join(suffixes) + ' ' if suffixes else ''}files",
                        match,
                        field=field,
                    )
                files += found
            elif match.is_file():
                files.append(match)
            else:
                raise InputError("file not found", match, field=field)
    return list(dict.fromkeys(files))
