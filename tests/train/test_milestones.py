"""Milestone checkpoints (kept at token counts, never pruned) and the capability trajectory evaluated on them."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from skywork.train.checkpoint import list_checkpoints, list_milestones, milestones_due
from tests.train.conftest import tiny_config

# tiny_config: 2 rows x 64 tokens = 128 tokens per step, 6 steps = 768 tokens
MILESTONES = [200, 384, 10_000]


def _losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r.get("loss"), json.dumps(r.get("val_loss"))) for r in rows]


def test_milestones_due_counts_the_step_that_reaches_each():
    assert milestones_due([200, 384], 128, 256) == [200]
    assert milestones_due([200, 384], 256, 384) == [384]
    assert milestones_due([200, 384], 384, 512) == []
    assert milestones_due([100, 200, 200], 0, 256) == [100, 200]  # one step may reach several


@pytest.fixture(scope="module")
def milestone_run(tmp_path_factory, tiny_tokenizer_dir, token_streams):
    from skywork.train.loop import run_pretraining

    root = tmp_path_factory.mktemp("milestones")
    plain = root / "plain"
    run_pretraining(tiny_config(plain, tiny_tokenizer_dir, token_streams, keep_last=1))
    run = root / "run"
    summary = run_pretraining(
        tiny_config(run, tiny_tokenizer_dir, token_streams, keep_last=1, milestone_tokens=MILESTONES)
    )
    return plain, run, summary


def test_milestones_are_kept_beside_pruned_checkpoints_and_change_nothing(milestone_run):
    from skywork.model import load_model

    plain, run, summary = milestone_run
    assert _losses(run) == _losses(plain)  # same seeds, same data order, same numbers
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["step-0000006"]  # keep_last=1 pruned
    milestones = list_milestones(run)
    assert [(m["tokens"], m["step"], m["tokens_seen"]) for m in milestones] == [(200, 2, 256), (384, 3, 384)]
    assert summary["tokens"] == 768  # 10,000 was never reached, so it has no directory
    model = load_model(milestones[0]["model_dir"])
    assert sum(p.numel() for p in model.parameters()) > 0
    assert (run / "milestones" / "tokens-000000000200" / "model" / "tokenizer_config.json").exists()
    assert not (plain / "milestones").exists()


def test_trajectory_evaluates_every_milestone_and_resumes(milestone_run, corpus_dir, tmp_path):
    from skywork.eval.trajectory import TrajectoryConfig, run_trajectory

    _, run, _ = milestone_run
    domains = {"main": str(corpus_dir / "val_main.jsonl"), "stem": str(corpus_dir / "val_stem.jsonl")}
    config = TrajectoryConfig(run=str(run), domains=domains, max_docs=2, device="cpu")
    out = tmp_path / "trajectory"
    result = run_trajectory(config, out)
    assert [(p["label"], p["tokens"]) for p in result["points"]] == [
        ("200", 200),
        ("384", 384),
        ("final", 768),
    ]
    assert result["metrics"] == ["loss/main", "loss/stem", "loss/pooled", "bits_per_char/pooled"]
    losses = [p["metrics"]["loss/pooled"] for p in result["points"]]
    assert all(0 < x < 20 for x in losses)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "trajectory" and (out / summary["plots"]["trajectory"]).stat().st_size > 1000
    assert json.loads((out / "trajectory.json").read_text())["points"] == summary["points"]
    # a second run reads every point back instead of evaluating again
    stamps = {p: (out / "points" / p / "summary.json").stat().st_mtime_ns for p in ("200", "384", "final")}
    again = run_trajectory(config, out)
    assert [p["metrics"] for p in again["points"]] == [p["metrics"] for p in result["points"]]
    assert stamps == {p: (out / "points" / p / "summary.json").stat().st_mtime_ns for p in stamps}

    # the command: a suite YAML (its models key ignored), a table and the same files
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"models": {"x": "ignored"}, **config_keys(config)}))
    from skywork.cli import app

    res = CliRunner().invoke(app, ["eval", "trajectory", str(run), "--suite", str(suite), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "capability trajectory" in res.output and "loss/pooled" in res.output


def config_keys(config) -> dict:
    return {"domains": config.domains, "max_docs": config.max_docs, "device": config.device}


def test_trajectory_without_milestones_or_final_names_the_run(tmp_path):
    from skywork.eval.trajectory import TrajectoryConfig, run_trajectory
    from skywork.utils.io import InputError

    (tmp_path / "run").mkdir()
    with pytest.raises(InputError, match="milestone_tokens"):
        run_trajectory(TrajectoryConfig(run=str(tmp_path / "run"), domains={"x": "y"}), tmp_path / "out")
    with pytest.raises(InputError, match="run"):
        TrajectoryConfig().validate()


def test_recipe_stage_and_report_part(milestone_run, corpus_dir, tmp_path):
    """Stage kind `trajectory` in a recipe, and the report's "Capability trajectory" part with its plot."""
    from skywork.recipe.cli import app as recipe_app

    _, run, _ = milestone_run
    recipe = {
        "name": "trajectory-test",
        "stages": {
            "trajectory": {
                "kind": "trajectory",
                "config": {
                    "run": str(run),
                    "domains": {"main": str(corpus_dir / "val_main.jsonl")},
                    "max_docs": 2,
                    "device": "cpu",
                },
            },
            "report": {"kind": "report", "config": {"title": "trajectory test"}},
        },
    }
    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(yaml.safe_dump(recipe, sort_keys=False))  # the report stage comes last
    out = tmp_path / "out"
    res = CliRunner().invoke(recipe_app, ["run", str(recipe_file), "--output", str(out)])
    assert res.exit_code == 0, res.output
    report = (out / "report.md").read_text()
    assert "Capability trajectory" in report and "loss/main" in report
    assert "| final | 768 |" in report.replace("\u00a0", " ")
    assert (out / "report" / "trajectory_trajectory.png").exists()
