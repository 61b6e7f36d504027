"""The shipped recipes validate (`--dry-run`), and the collect stage reads every layout it documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skywork.recipe.cli import app
from skywork.recipe.collect import CollectConfig, CollectSource, collect
from skywork.utils.io import InputError

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def _dry_run(recipe: Path, run_dir: Path) -> str:
    result = CliRunner().invoke(app, ["run", str(recipe), "--run-dir", str(run_dir), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output and "unavailable" not in result.output, result.output
    assert not run_dir.exists() or not any(run_dir.iterdir())  # nothing was run
    return result.output


def test_demo_recipe_validates(tmp_path):
    _dry_run(RECIPES / "demo.yaml", tmp_path / "run")


def test_real_data_recipe_validates(shared_data, tmp_path):
    """Every input path of the real-data recipe exists under ../shared/data (the dry run checks them all)."""
    output = _dry_run(RECIPES / "real-data.yaml", tmp_path / "run")
    assert "(8 stages)" in output


def test_real_data_recipe_names_a_missing_corpus(shared_data, tmp_path, monkeypatch):
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    (empty / "README.md").write_text("an empty data folder\n")
    monkeypatch.setenv("SKYWORK_SHARED_DATA", str(empty))
    result = CliRunner().invoke(app, ["run", str(RECIPES / "real-data.yaml"), "--dry-run"])
    assert result.exit_code == 2
    assert "stages.collect.config.sources.files" in result.output and "c4_demo.jsonl" in result.output


def test_collect_reads_every_layout(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "lines.txt").write_text("\ufefffirst document\n\n  second document  \n")
    (src / "book.txt").write_text("Para one.\r\n\r\nPara two is here.\n\n\nPara three.\n")
    (src / "pairs.tsv").write_text("Hello.\t你好。\nno tab here\n")
    (src / "ccnet.jsonl").write_text(
        json.dumps({"raw_content": "网页正文"}) + "\n" + json.dumps({"raw_content": " "}) + "\n"
    )
    config = CollectConfig(
        sources=[
            CollectSource(name="lines", files=[str(src / "lines.txt")]),
            CollectSource(name="book", files=[str(src / "book.txt")], split="paragraphs", max_chars=20),
            CollectSource(name="pairs", files=[str(src / "pairs.tsv")], split="tab"),
            CollectSource(name="web", files=[str(src / "*.jsonl")], split="jsonl", text_field="raw_content"),
            CollectSource(name="whole", files=[str(src / "lines.txt")], split="file", max_docs=1),
        ]
    )
    summary = collect(config, tmp_path / "out")
    rows = {
        name: [json.loads(line) for line in (tmp_path / "out" / f"{name}.jsonl").read_text().splitlines()]
        for name in summary
    }
    assert [r["text"] for r in rows["lines"]] == ["first document", "second document"]  # BOM stripped
    assert [r["id"] for r in rows["lines"]] == ["lines-000001", "lines-000002"]
    assert [r["text"] for r in rows["book"]] == ["Para one.\n\nPara two is here.", "Para three."]
    assert rows["pairs"][0] == {
        "id": "pairs-000001",
        "text": "Hello.\n你好。",
        "source": "pairs",
        "lang": "zh",
    }
    assert summary["pairs"]["skipped"] == {"no_tab": 1}
    assert rows["web"][0]["text"] == "网页正文" and summary["web"]["skipped"] == {"empty_text": 1}
    assert summary["whole"]["documents"] == 1 and rows["whole"][0]["lang"] == "en"


def test_collect_names_the_missing_text_field(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"content": "x"}) + "\n")
    config = CollectConfig(
        sources=[CollectSource(name="a", files=[str(tmp_path / "a.jsonl")], split="jsonl")]
    )
    with pytest.raises(InputError, match=r"a\.jsonl.*line 1.*'text'"):
        collect(config, tmp_path / "out")
