"""``self_compare`` as a recipe stage (with its report part) and as ``skywork train self-compare``."""

from __future__ import annotations

import json

import yaml
from rich.console import Console
from typer.testing import CliRunner

from skywork.cli import app
from skywork.recipe.kinds import KINDS
from skywork.recipe.runner import load_recipe, run_recipe

TRAIN = {
    "max_steps": 1,
    "micro_batch_size": 1,
    "device": "cpu",
    "progress": False,
    "plots": False,
    "data": {"max_seq_len": 256, "seq_len": 256},
}


def test_recipe_stage_and_report_part(tmp_path, math_base_dir, stem_files):
    recipe = tmp_path / "r.yaml"
    config = {
        "model": str(math_base_dir),
        "problems": [str(stem_files["train"])],
        "device": "cpu",
        "sampling": {"k": 2, "max_new_tokens": 8},
        "eval": {"files": [str(stem_files["heldout"])], "max_new_tokens": 8},
        "train": TRAIN,
    }
    stages = {"math": {"kind": "self_compare", "config": config}, "report": {"kind": "report", "config": {}}}
    recipe.write_text(yaml.safe_dump({"name": "math", "description": "self-compare only", "stages": stages}))
    run_dir = tmp_path / "run"
    run_recipe(load_recipe(recipe, KINDS, run_dir), run_dir, KINDS, console=Console(quiet=True))
    summary = json.loads((run_dir / "math" / "summary.json").read_text())
    assert summary["schema"] == "skywork.self_compare/v1" and summary["plots"]["accuracy"] == "accuracy.png"
    html = (run_dir / "report.html").read_text()
    assert "Self-compare fine-tuning (SkyMath)" in html and "comparison example 1" in html
    assert "held-out accuracy per round" in html and (run_dir / "report" / "math_accuracy.png").exists()


def test_cli_runs_rounds_and_lists_keys(tmp_path, math_base_dir, stem_files):
    config = tmp_path / "sc.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "output_dir": str(tmp_path / "out"),
                "model": str(math_base_dir),
                "problems": [str(stem_files["train"])],
                "problem_limit": 2,
                "device": "cpu",
                "sampling": {"k": 2, "max_new_tokens": 8},
                "train": TRAIN,
            }
        )
    )
    result = CliRunner().invoke(app, ["train", "self-compare", str(config)])
    assert result.exit_code == 0, result.output
    assert "final model" in result.output and (tmp_path / "out" / "round_1" / "data.jsonl").exists()
    keys = CliRunner().invoke(app, ["train", "keys", "self-compare"])
    assert keys.exit_code == 0 and "build.mix_ratio" in keys.output and "sampling.k" in keys.output
