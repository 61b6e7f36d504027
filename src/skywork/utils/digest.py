"""Content digests and file manifests: the one way every stage decides "same input, same output".

Recipe resume (a stage's outputs digest), checkpoint verification (a manifest of sha256 per file) and token-shard
reuse (a tokenizer fingerprint) all use these functions, so a file counts as changed in one sense everywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from skywork.utils.io import atomic_write_json

BIG_FILE_BYTES = 256 * 2**20  # above this a directory digest uses size + mtime instead of reading every byte
MANIFEST_NAME = "manifest.json"


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def files_digest(paths: Iterable[str | os.PathLike], length: int = 16) -> str:
    """Digest of the named files' bytes in the given order; missing files are skipped (e.g. optional ones)."""
    digest = hashlib.sha256()
    for path in map(Path, paths):
        if path.is_file():
            digest.update(path.name.encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:length]


def directory_digest(path: str | os.PathLike, exclude: tuple[str, ...] = (), length: int = 16) -> str:
    """Content digest of a directory: relative paths, sizes and bytes (size + mtime for files over 256 MiB)."""
    path = Path(path)
    digest = hashlib.sha256()
    if not path.exists():
        return "missing"
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.name not in exclude):
        stat = file.stat()
        digest.update(f"{file.relative_to(path).as_posix()}\0{stat.st_size}\0".encode())
        if stat.st_size > BIG_FILE_BYTES:
            digest.update(str(stat.st_mtime_ns).encode())
            continue
        with file.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:length]


def json_digest(obj: Any, length: int = 16) -> str:
    """Digest of a JSON-able value with sorted keys (configs, argument sets)."""
    blob = json.dumps(obj, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:length]


def write_manifest(directory: str | os.PathLike) -> Path:
    """``manifest.json`` listing sha256 and size of every other file below ``directory``."""
    directory = Path(directory)
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
    manifest = {
        p.relative_to(directory).as_posix(): {"sha256": file_sha256(p), "bytes": p.stat().st_size}
        for p in files
    }
    atomic_write_json(directory / MANIFEST_NAME, manifest)
    return directory / MANIFEST_NAME


def verify_manifest(directory: str | os.PathLike) -> str | None:
    """None when every file matches ``manifest.json``, else the reason the directory cannot be trusted."""
    directory = Path(directory)
    manifest_file = directory / MANIFEST_NAME
    if not manifest_file.exists():
        return f"{MANIFEST_NAME} missing (incomplete write)"
    try:
        manifest = json.loads(manifest_file.read_text())
    except json.JSONDecodeError:
        return f"{MANIFEST_NAME} is not valid JSON"
    for rel, entry in manifest.items():
        file = directory / rel
        if not file.exists():
            return f"{rel} missing"
        if file.stat().st_size != entry["bytes"] or file_sha256(file) != entry["sha256"]:
            return f"{rel} does not match its checksum"
    return None
