"""The long-context recipes: the micro one end to end (a real `skywork recipe run`), the demo-scale and
full-scale ones validate, and the 13B long stage's plan fits per GPU only with context parallel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skywork.recipe.cli import app

RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "longctx"


def _state(run_dir: Path, stage: str) -> dict:
    return json.loads((run_dir / ".recipe" / f"{stage}.json").read_text())


@pytest.mark.slow
def test_micro_long_context_recipe_runs_end_to_end(tmp_path):
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "skywork.cli",
        "recipe",
        "run",
        str(RECIPES / "micro.yaml"),
        "-o",
        str(run_dir),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", COLUMNS="200")
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for stage in ("extend", "cip", "long_cpt", "synl", "long_sft", "longctx_eval", "report"):
        assert _state(run_dir, stage)["status"] == "done", stage
    extended = json.loads((run_dir / "extend" / "model" / "config.json").read_text())
    assert (
        extended["max_position_embeddings"] == 512 and extended["longctx_extension"]["original_length"] == 128
    )
    cpt = json.loads((run_dir / "long_cpt" / "summary.json").read_text())
    assert cpt["kind"] == "long_cpt" and cpt["activation_checkpointing"] is True and cpt["steps"] == 6
    rows = [json.loads(x) for x in (run_dir / "long_cpt" / "metrics.jsonl").read_text().splitlines()]
    assert set(rows[0]["shares"]) == {"cip", "main"}  # CIP mixed with ordinary documents
    sft = json.loads((run_dir / "long_sft" / "summary.json").read_text())
    assert sft["data"]["by_format"] == {"messages": 24, "alpaca": 24}  # SynL (chat) mixed with instructions
    evaluation = json.loads((run_dir / "longctx_eval" / "summary.json").read_text())
    for label in ("before", "after"):
        model = evaluation["models"][label]
        assert set(model["needle"]["accuracy_by_length"]) == {"128", "512"}
        assert set(model["longtable"]["by_kind"]) == {"retrieval", "cot", "global"}
    assert evaluation["models"]["after"]["position_loss"]["trained_length"] == 128
    html = (run_dir / "report.html").read_text()
    assert "Long context" in html
    for image in (
        "longctx_eval_needle-before.png",
        "longctx_eval_needle-after.png",
        "longctx_eval_position_loss.png",
    ):
        assert (run_dir / "report" / image).stat().st_size > 1000, image
        assert f'src="report/{image}"' in html


def _base_run(tmp_path: Path, monkeypatch) -> None:
    """The inputs of the 13B long recipe, empty (the layout its header documents)."""
    base = tmp_path / "base"
    for sub in ("pretrain_stage2/final", "tokenize/en_web", "tokenizer", "long", "sft"):
        (base / sub).mkdir(parents=True)
    (base / "valid.jsonl").write_text('{"text": "x"}\n')
    for key, value in {"BASE_RUN": base, "LONG_DOCS": base / "long", "SFT_DATA": base / "sft",
                       "LONG_VALID": base / "valid.jsonl"}.items():  # fmt: skip
        monkeypatch.setenv(key, str(value))


def _dry_run(recipe: Path, run_dir: Path) -> str:
    result = CliRunner().invoke(app, ["run", str(recipe), "--output", str(run_dir), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "is valid" in result.output and "unavailable" not in result.output, result.output
    return result.output


def test_demo_scale_and_full_scale_recipes_validate(tmp_path, monkeypatch):
    demo = tmp_path / "demo"  # the layout of a finished demo run, empty
    for sub in ("sft/final", "tokenize/main", "tokenizer", "corpus/valid"):
        (demo / sub).mkdir(parents=True)
    (demo / "corpus" / "valid" / "en.jsonl").write_text('{"text": "x"}\n')
    monkeypatch.setenv("DEMO_RUN", str(demo))
    _dry_run(RECIPES / "demo.yaml", tmp_path / "run-demo")
    _base_run(tmp_path, monkeypatch)
    _dry_run(RECIPES / "skywork-13b.yaml", tmp_path / "run-13b")


def test_full_scale_long_stage_plans_context_parallel(tmp_path, monkeypatch):
    from skywork.recipe.kinds import KINDS
    from skywork.recipe.runner import load_recipe
    from skywork.train.plan import plan

    _base_run(tmp_path, monkeypatch)
    recipe = load_recipe(RECIPES / "skywork-13b.yaml", KINDS, tmp_path / "run")
    config = recipe.stage("longctx_cpt").config
    config.model.init_from = None  # not built here: the plan takes the preset's shape
    config.model.preset = "skywork-13b"
    result = plan(config)
    cluster = result["cluster"]
    assert cluster["layout"] == "DP64+CP8+ZeRO-3" and cluster["memory_gb_per_gpu"]["fits"]
    assert result["batch"]["tokens_per_step"] == 64 * 32768
