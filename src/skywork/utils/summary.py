"""The stage contract: every capability writes ``summary.json`` (versioned) and its plots into its output directory.

A summary is a JSON object::

    {"schema": "skywork.<kind>/v<N>",   # what wrote it and the version of its layout
     "kind": "<kind>",                  # e.g. "data", "tokenizer", "pretrain", "eval", "corpus", "collect"
     "created": "2026-12-01T14:00:00Z",
     "plots": {"<name>": "<png path relative to the directory>"},
     ...the capability's own keys, documented in its guide under docs/...}

The recipe report reads these files and lays them out; it never recomputes what a stage measured.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from skywork.utils.io import InputError, atomic_write_json

SUMMARY_NAME = "summary.json"


def write_summary(
    out_dir: str | os.PathLike,
    kind: str,
    payload: dict[str, Any],
    *,
    version: int = 1,
    plots: dict[str, str | os.PathLike] | None = None,
) -> Path:
    """Write ``out_dir/summary.json`` atomically; plot paths are stored relative to ``out_dir``."""
    out_dir = Path(out_dir)
    rel_plots = {}
    for name, path in (plots or {}).items():
        path = Path(path)
        rel_plots[name] = (path.relative_to(out_dir) if path.is_absolute() else path).as_posix()
    summary = {
        "schema": f"skywork.{kind}/v{version}",
        "kind": kind,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "plots": rel_plots,
        **payload,
    }
    path = out_dir / SUMMARY_NAME
    atomic_write_json(path, summary)
    return path


def read_summary(out_dir: str | os.PathLike, kind: str | None = None, max_version: int | None = None) -> dict:
    """The summary of ``out_dir``; checks its kind and that its version is one the caller understands."""
    path = Path(out_dir) / SUMMARY_NAME
    if not path.exists():
        raise InputError("no summary.json: the stage did not finish or predates the stage contract", path)
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON ({err.msg})", path, err.lineno) from None
    schema = str(summary.get("schema", ""))
    got_kind, _, version = schema.partition("/v")
    if kind is not None and got_kind != f"skywork.{kind}":
        raise InputError(f"expected a skywork.{kind} summary, found {schema!r}", path, field="schema")
    if max_version is not None and (not version.isdigit() or int(version) > max_version):
        raise InputError(
            f"version {version!r} is newer than this skywork reads ({max_version})", path, field="schema"
        )
    return summary


def plot_path(out_dir: str | os.PathLike, summary: dict, name: str) -> Path | None:
    """Absolute path of a plot a summary lists, or None when it has none of that name."""
    rel = summary.get("plots", {}).get(name)
    return Path(out_dir) / rel if rel else None
