"""`skywork train pretrain`: dry-run plans of the report's recipes, and a real tiny run through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from skywork.train.cli import app
from skywork.utils.config import to_dict
from tests.train.conftest import tiny_config

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def test_dry_run_of_the_13b_recipe_matches_the_report():
    result = CliRunner().invoke(
        app,
        [
            "pretrain",
            str(RECIPES / "train" / "skywork-13b-stage1.yaml"),
            "--dry-run",
            "--world-size",
            "512",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["model"]["params"] == pytest.approx(13.85e9, rel=0.01)
    assert plan["batch"]["tokens_per_step"] == 4096 * 4096  # 16M tokens per batch (Table 3)
    assert plan["schedule"]["total_tokens"] == pytest.approx(3e12, rel=1e-3)
    assert plan["schedule"]["lr_at_end"] == pytest.approx(6e-5)
    # the report took 39 days for 3.2T tokens at 56.5% MFU on 512 A800s: 3T should need about 36
    assert 30 < plan["flops"]["days_on_512_a800"] < 40
    assert {s["name"] for s in plan["mixture"]} >= {"en_web", "zh_web", "code"}


def test_dry_run_of_stage_two_before_stage_one_exists():
    result = CliRunner().invoke(
        app,
        ["pretrain", str(RECIPES / "train" / "skywork-13b-stage2.yaml"), "--dry-run", "--world-size", "512"],
    )
    assert result.exit_code == 0, result.output
    assert "constant 6e-05" in result.output and "not built yet" in result.output


def test_unknown_key_is_reported_with_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("out_dir: x\ntokenizer: y\noptim: {learning_rate: 1}\n")
    result = CliRunner().invoke(app, ["pretrain", str(bad), "--dry-run"])
    assert result.exit_code != 0
    assert "optim.learning_rate" in str(result.exception)


def test_pretrain_command_runs_a_tiny_stage(tmp_path, tiny_tokenizer_dir, token_streams):
    config = tiny_config(tmp_path / "run", tiny_tokenizer_dir, token_streams, max_steps=2, eval_every=2)
    config_file = tmp_path / "c.yaml"
    config_file.write_text(yaml.safe_dump(to_dict(config)))
    result = CliRunner().invoke(app, ["pretrain", str(config_file)])
    assert result.exit_code == 0, result.output
    assert "done: 2 steps" in result.output
    assert (tmp_path / "run" / "final" / "model.safetensors").exists()
