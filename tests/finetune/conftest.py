"""Fixtures for the fine-tuning tests."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def write_jsonl(tmp_path):
    """Write rows (dicts, or raw strings for broken lines) to ``tmp_path/name`` and return the path."""

    def write(name: str, rows: list) -> object:
        path = tmp_path / name
        lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write
