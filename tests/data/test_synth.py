"""The embedded demo corpus: deterministic, SkyPile-shaped, correct GSM8K-style arithmetic, labelled defects."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from skywork.recipe.corpus import DEFECTS, DemoCorpusConfig, code_chunks, generate_corpus
from skywork.utils.io import read_jsonl


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("corpus")
    generate_corpus(DemoCorpusConfig(size_mb=0.6, valid_docs=20, leakage_problems=30), out)
    return out


def _texts(path: Path) -> list[str]:
    return [row["text"] for row in read_jsonl(path)]


def test_layout_and_record_schema(corpus):
    manifest = json.loads((corpus / "manifest.json").read_text())
    for rel in [
        "train/web_en.jsonl",
        "train/web_zh.jsonl",
        "train/parallel.jsonl",
        "train/code.jsonl",
        "stem/train.jsonl",
    ]:
        rows = list(read_jsonl(corpus / rel, required=("id", "text", "source", "lang")))
        assert len(rows) == manifest["files"][rel]["records"] > 0
    for domain in ("en", "zh", "code", "stem"):
        assert len(_texts(corpus / "valid" / f"{domain}.jsonl")) == 20
    sources = {row["source"] for row in read_jsonl(corpus / "train/web_en.jsonl")}
    assert sources == {"web_en", "docs_en"}
    zh = _texts(corpus / "train/web_zh.jsonl")
    assert sum(bool(re.search("[\u4e00-\u9fff]", t)) for t in zh) > 0.8 * len(zh)
    total = sum(f["bytes"] for f in manifest["files"].values())
    assert 0.5e6 < total < 0.75e6


def test_same_seed_same_bytes_other_seed_differs(corpus, tmp_path):
    config = DemoCorpusConfig(size_mb=0.6, valid_docs=20, leakage_problems=30)
    generate_corpus(config, tmp_path / "again")
    for path in sorted(corpus.rglob("*.jsonl")):
        assert (tmp_path / "again" / path.relative_to(corpus)).read_bytes() == path.read_bytes(), path
    config.seed = 1
    generate_corpus(config, tmp_path / "other")
    assert (tmp_path / "other/train/web_zh.jsonl").read_bytes() != (
        corpus / "train/web_zh.jsonl"
    ).read_bytes()


def test_stem_solutions_are_correct_gsm8k_format(corpus):
    texts = _texts(corpus / "stem/train.jsonl")
    langs = {row["lang"] for row in read_jsonl(corpus / "stem/train.jsonl")}
    assert langs == {"en", "zh"}
    for text in texts:
        question, answer = text.split("\n", 1)
        calls = re.findall(r"<<([0-9+\-*/]+)=(-?\d+)>>", answer)
        assert calls, text
        for expr, value in calls:
            assert eval(expr.replace("/", "//")) == int(value), text  # noqa: S307 - digits and operators only
        final = re.search(r"#### (-?\d+)$", answer)
        assert final and int(final.group(1)) == int(calls[-1][1]), text


def test_leakage_splits(corpus):
    train = set(_texts(corpus / "stem/train.jsonl"))
    leak = {s: _texts(corpus / "leakage" / f"{s}.jsonl") for s in ("train", "test", "ref")}
    assert all(len(v) == 30 for v in leak.values())
    assert set(leak["train"]) <= train
    assert not (set(leak["test"]) | set(leak["ref"])) & train
    assert not set(leak["test"]) & set(leak["ref"])
    assert not set(_texts(corpus / "valid/stem.jsonl")) & train


def test_planted_defects_are_labelled(corpus):
    labels = list(read_jsonl(corpus / "labels.jsonl", required=("id", "defect")))
    assert {row["defect"] for row in labels} == set(DEFECTS)
    docs = {
        row["id"]: row["text"]
        for f in ("web_en", "web_zh")
        for row in read_jsonl(corpus / f"train/{f}.jsonl")
    }
    for row in labels:
        assert row["id"] in docs
        if row["defect"] == "exact_dup":
            assert docs[row["id"]] == docs[row["of"]]
        if row["defect"] == "near_dup":
            assert docs[row["id"]] != docs[row["of"]]
        if row["defect"] == "garbled":
            assert "ä" in docs[row["id"]] or "å" in docs[row["id"]] or "æ" in docs[row["id"]]
    clean = len(docs) - len(labels)
    assert 0.05 < len(labels) / clean < 0.3


def test_code_chunks_cut_at_top_level_definitions():
    source = "import os\n\n" + "".join(f"def f{i}():\n    return {i}\n\n" + "# pad\n" * 60 for i in range(5))
    chunks = list(code_chunks(source, min_chars=300))
    assert len(chunks) > 1 and "".join(chunks).count("def f") == 5
    assert all(c.startswith(("import", "def")) for c in chunks)
