"""The synthetic generators' common shape (seeded, manifest with sha256) and the embedded demo corpus:
deterministic, SkyPile-shaped, correct GSM8K-style arithmetic, labelled defects."""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from skywork.data.synth.base import GeneratorConfig, SyntheticGenerator
from skywork.data.synth.demo_corpus import DEFECTS, DemoCorpusConfig, code_chunks, generate_corpus
from skywork.utils.digest import file_sha256
from skywork.utils.io import read_jsonl
from skywork.utils.summary import read_summary


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
        assert len(rows) == manifest["files"][rel]["rows"] == manifest["training_text"][rel]["documents"] > 0
    for domain in ("en", "zh", "code", "stem"):
        assert len(_texts(corpus / "valid" / f"{domain}.jsonl")) == 20
    sources = {row["source"] for row in read_jsonl(corpus / "train/web_en.jsonl")}
    assert sources == {"web_en", "docs_en"}
    zh = _texts(corpus / "train/web_zh.jsonl")
    assert sum(bool(re.search("[\u4e00-\u9fff]", t)) for t in zh) > 0.8 * len(zh)
    total = sum(f["text_bytes"] for f in manifest["training_text"].values())
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


def test_manifest_lists_every_file_with_rows_bytes_and_sha256(corpus):
    manifest = json.loads((corpus / "manifest.json").read_text())
    assert manifest["generator"] == {"name": "demo_corpus", "version": 1}
    assert manifest["seed"] == 0 and manifest["config"]["size_mb"] == 0.6
    written = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.jsonl"))
    assert sorted(manifest["files"]) == written
    for rel, entry in manifest["files"].items():
        path = corpus / rel
        assert entry["sha256"] == file_sha256(path) and entry["bytes"] == path.stat().st_size
        assert entry["rows"] == len(path.read_text().splitlines())
    summary = read_summary(corpus, "corpus")
    assert summary["training_text"] == manifest["training_text"] and summary["defects"] == manifest["defects"]


@dataclass
class _CountConfig(GeneratorConfig):
    rows: int = 5


class _Counting(SyntheticGenerator[_CountConfig]):
    """The smallest generator: seeded random numbers, one file."""

    name = "counting"
    version = 3

    def write(self, out, progress):
        rng = random.Random(self.config.seed)
        self.write_jsonl(out, "numbers.jsonl", [{"text": str(rng.random())} for _ in range(self.config.rows)])
        return {"note": "extra keys land in the manifest"}


def test_the_common_shape_same_seed_same_sha256(tmp_path):
    first = _Counting(_CountConfig(seed=7)).generate(tmp_path / "a")
    again = _Counting(_CountConfig(seed=7)).generate(tmp_path / "b")
    other = _Counting(_CountConfig(seed=8)).generate(tmp_path / "c")
    assert first["files"] == again["files"] and first["files"] != other["files"]
    assert first["files"]["numbers.jsonl"]["rows"] == 5
    assert first["generator"] == {"name": "counting", "version": 3} and first["seed"] == 7
    assert first["config"] == {"seed": 7, "rows": 5} and first["note"] == "extra keys land in the manifest"
    assert json.loads((tmp_path / "a" / "manifest.json").read_text()) == first
    assert not (tmp_path / "a" / "summary.json").exists()  # only stage generators write one


def test_a_failing_generator_leaves_no_half_written_file(tmp_path):
    class Failing(_Counting):
        def write(self, out, progress):
            handle = self.jsonl(out, "partial.jsonl")
            handle.write({"text": "one row"})
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        Failing(_CountConfig()).generate(tmp_path)
    assert not any(tmp_path.rglob("*.jsonl")) and not (tmp_path / "manifest.json").exists()
