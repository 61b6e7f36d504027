"""The shipped recipes validate (`--dry-run`), and the collect stage reads every layout it documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skywork.data.collect import CollectConfig, CollectSource, collect
from skywork.recipe.cli import app
from skywork.utils.io import InputError

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def _dry_run(recipe: Path, run_dir: Path) -> str:
    result = CliRunner().invoke(app, ["run", str(recipe), "--output", str(run_dir), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output and "unavailable" not in result.output, result.output
    assert not run_dir.exists() or not any(run_dir.iterdir())  # nothing was run
    return result.output


def test_demo_recipe_validates(tmp_path):
    _dry_run(RECIPES / "demo.yaml", tmp_path / "run")


def test_real_data_recipe_validates(shared_data, tmp_path):
    """Every input path of the real-data recipe exists under ../shared/data (the dry run checks them all)."""
    output = _dry_run(RECIPES / "real-data.yaml", tmp_path / "run")
    assert "(10 stages)" in output


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


SKYPILE_SOURCES = (
    "en_books",
    "en_papers",
    "en_encyclopedia",
    "en_misc",
    "zh_encyclopedia",
    "zh_misc",
    "other_encyclopedia",
    "code",
    "stem",
)


def test_skywork_13b_recipe_validates_with_the_report_settings(shared_data, tmp_path, monkeypatch):
    """The 13B recipe is checked, not run: its layout validates and its pretraining plans match the report."""
    from skywork.recipe.kinds import KINDS
    from skywork.recipe.runner import load_recipe
    from skywork.train.plan import plan

    skypile = tmp_path / "skypile"  # the documented layout, empty
    for sub in ("raw/en_web", "raw/zh_web", "raw/zh_social", *(f"curated/{s}" for s in SKYPILE_SOURCES)):
        (skypile / sub).mkdir(parents=True)
    (skypile / "validation").mkdir()
    for name in ("code", "academic", "social", "zh_web", "en_web", "stem"):
        (skypile / "validation" / f"{name}.jsonl").write_text('{"text": "x"}\n')
    monkeypatch.setenv("SKYPILE_DIR", str(skypile))
    _dry_run(RECIPES / "skywork-13b.yaml", tmp_path / "run")

    recipe = load_recipe(RECIPES / "skywork-13b.yaml", KINDS, tmp_path / "run")
    stage1 = plan(recipe.stage("pretrain_stage1").config, world_size=512)
    assert stage1["batch"]["tokens_per_step"] == 4096 * 4096  # 16M tokens, context 4096
    assert stage1["model"]["params"] == pytest.approx(13.85e9, rel=0.01)
    assert stage1["schedule"]["total_tokens"] == pytest.approx(3e12, rel=1e-3)
    optim = recipe.stage("pretrain_stage1").config.optim
    assert (optim.schedule, optim.lr, optim.min_lr) == ("cosine", 6e-4, 6e-5)
    assert stage1["schedule"]["lr_at_end"] == pytest.approx(6e-5)

    stage2 = recipe.stage("pretrain_stage2").config
    assert (stage2.optim.schedule, stage2.optim.lr, stage2.data.seq_len) == ("constant", 6e-5, 4096)
    start = sum(s.weight for s in stage2.data.sources)
    end = sum(s.weight_end for s in stage2.data.sources)
    stem = next(s for s in stage2.data.sources if s.name == "stem")
    assert stem.weight / start == pytest.approx(0.10, abs=1e-3) and stem.weight_end / end == pytest.approx(
        0.40, abs=1e-3
    )
    assert plan(stage2, world_size=512)["batch"]["tokens_per_step"] == 4096 * 4096


def test_skywork_13b_recipe_names_its_missing_data(shared_data, tmp_path, monkeypatch):
    monkeypatch.delenv("SKYPILE_DIR", raising=False)
    result = CliRunner().invoke(app, ["run", str(RECIPES / "skywork-13b.yaml"), "--dry-run"])
    assert result.exit_code == 2 and "SKYPILE_DIR" in result.output, result.output


def test_unknown_benchmark_fails_before_any_work(tmp_path):
    (tmp_path / "model").mkdir()
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "stages:\n  evaluate:\n    kind: evaluate\n    config:\n"
        f"      models: {{m: {tmp_path / 'model'}}}\n"
        f"      mcq: [{{bench: mmlu}}, {{bench: agieval, data_dir: {tmp_path}}}]\n"
    )
    result = CliRunner().invoke(app, ["run", str(recipe), "--dry-run"])
    assert result.exit_code == 2 and "mcq[0].data_dir" in result.output  # a required key is missing
    recipe.write_text(recipe.read_text().replace("{bench: mmlu}", f"{{bench: mmlu, data_dir: {tmp_path}}}"))
    result = CliRunner().invoke(app, ["run", str(recipe), "--dry-run"])
    assert result.exit_code == 2, result.output
    assert "stages.evaluate.config.mcq[1].bench" in result.output and "agieval" in result.output
