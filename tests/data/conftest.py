"""Fixtures for the data pipeline: a small mixed zh/en corpus with planted defects, built from ../shared/data."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest


def english_docs(shared: Path, n: int) -> list[str]:
    lines = (shared / "hiyouga+LLaMA-Factory/data/c4_demo.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines[:n]]


def chinese_docs(shared: Path, n: int) -> list[str]:
    lines = (
        (shared / "dbiir+UER-py/corpora/CLUECorpusSmall_sampled.txt").read_text(encoding="utf-8").splitlines()
    )
    return [line for line in lines if len(line) > 200][:n]


def build_mixed_corpus(shared: Path, root: Path, n_en: int = 60, n_zh: int = 60, files: int = 3) -> dict:
    """Writes ``files`` JSONL files with clean en/zh documents plus planted defects; returns what was planted."""
    rng = random.Random(0)
    root.mkdir(parents=True, exist_ok=True)
    en, zh = english_docs(shared, n_en), chinese_docs(shared, n_zh)
    records: list[bytes] = []
    planted: dict[str, list[str]] = {
        "exact_dup": [],
        "near_dup": [],
        "other_lang": [],
        "malformed": [],
        "empty": [],
        "spam": [],
    }
    for i, text in enumerate(en):
        records.append(json.dumps({"id": f"en-{i}", "text": text, "source": "c4", "lang": "en"}).encode())
    for i, text in enumerate(zh):
        records.append(
            json.dumps(
                {"id": f"zh-{i}", "text": text, "source": "clue", "lang": "zh"}, ensure_ascii=False
            ).encode()
        )
    for i in range(5):
        planted["exact_dup"].append((f"en-{i}", f"dup-{i}"))
        records.append(json.dumps({"id": f"dup-{i}", "text": en[i], "source": "c4"}).encode())
        planted["near_dup"].append((f"zh-{i}", f"near-{i}"))
        records.append(
            json.dumps(
                {"id": f"near-{i}", "text": zh[i] + "。", "source": "clue"}, ensure_ascii=False
            ).encode()
        )
    for i in range(3):
        planted["other_lang"].append(f"de-{i}")
        records.append(
            json.dumps(
                {
                    "id": f"de-{i}",
                    "text": "Das ist ein deutscher Satz über das Wetter in "
                    "Berlin, und er ist lang genug, um erkannt zu werden. " * 5,
                }
            ).encode()
        )
        planted["spam"].append(f"spam-{i}")
        records.append(json.dumps({"id": f"spam-{i}", "text": "buy cheap now click here\n" * 40}).encode())
        planted["empty"].append(f"empty-{i}")
        records.append(json.dumps({"id": f"empty-{i}", "text": "   "}).encode())
    records += [b'{"id": "broken-0", "text": "unterminated', b"\xff\xfe not utf8 \x80", b"[1, 2, 3]"]
    planted["malformed"] = ["3 lines"]
    rng.shuffle(records)
    paths = []
    for f in range(files):
        path = root / f"part-{f}.jsonl"
        path.write_bytes(b"\n".join(records[f::files]) + b"\n")
        paths.append(str(path))
    return {"paths": paths, "records": len(records), "planted": planted}


@pytest.fixture
def mixed_corpus(shared_data, tmp_path) -> dict:
    return build_mixed_corpus(shared_data, tmp_path / "input")
