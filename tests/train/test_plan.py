"""The cluster plan against the report's Table 10 (spec 4.9), and the 13B config's dry run at the report's scale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skywork.train import cluster_plan
from skywork.train.cli import app

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
STAGE1 = RECIPES / "train" / "skywork-13b-stage1.yaml"


@pytest.fixture(scope="module")
def rows() -> dict[tuple[str, str], dict]:
    return {(r["model"], r["layout"]): r for r in cluster_plan.compare_to_report()}


def test_the_fitted_constants_are_what_the_fit_gives():
    compute, comm = cluster_plan.fit_to_report()
    assert cluster_plan.COMPUTE_EFFICIENCY == pytest.approx(compute, abs=5e-4)
    assert cluster_plan.TP_COMM_EFFICIENCY == pytest.approx(comm, abs=5e-4)


@pytest.mark.parametrize("model", ["skywork-13b", "llama2-13b"])
@pytest.mark.parametrize("layout", ["DP256+PP2", "DP256+TP2", "DP128+TP2+PP2", "DP128+PP4", "DP128+TP4"])
def test_every_table10_row_is_within_ten_percent(rows, model, layout):
    row = rows[(model, layout)]
    assert row["predicted"] == pytest.approx(cluster_plan.TABLE10[model][layout], rel=0.10), row


def test_only_two_skywork_rows_are_fitted(rows):
    assert {key for key, row in rows.items() if row["fitted"]} == {
        ("skywork-13b", "DP256+PP2"),
        ("skywork-13b", "DP256+TP2"),
    }


@pytest.mark.parametrize("model", ["skywork-13b", "llama2-13b"])
def test_dp512_is_out_of_memory_and_the_others_fit(rows, model):
    assert rows[(model, "DP512")]["predicted"] is None
    assert rows[(model, "DP512")]["memory_gb"] > 80
    for layout in ("DP256+PP2", "DP256+TP2", "DP128+TP2+PP2", "DP128+PP4", "DP128+TP4"):
        assert rows[(model, layout)]["memory_gb"] < 80


@pytest.mark.parametrize("model", ["skywork-13b", "llama2-13b"])
def test_memory_of_the_chosen_layout_is_near_the_report(rows, model):
    assert rows[(model, "DP256+PP2")]["memory_gb"] == pytest.approx(
        cluster_plan.TABLE10_MEMORY_GB[model], rel=0.05
    )


def test_the_report_campaign_takes_about_39_days():
    shape = cluster_plan._report_shape("skywork-13b")
    layout = cluster_plan.table10_layout("DP256+PP2")
    speed = cluster_plan.throughput(shape, layout, cluster_plan.GPUS["a800-80g"])["tokens_per_gpu_s"]
    assert cluster_plan.days(cluster_plan.REPORT_TOKENS, speed, 512) == pytest.approx(
        cluster_plan.REPORT_DAYS, rel=0.05
    )


def test_bubble_and_layout_arithmetic():
    layout = cluster_plan.table10_layout("DP128+PP4")
    assert (layout.data, layout.micro_batches, layout.name) == (128, 32, "DP128+PP4+ZeRO-1")
    speed = cluster_plan.throughput(
        cluster_plan._report_shape("skywork-13b"), layout, cluster_plan.GPUS["a800-80g"]
    )
    assert speed["bubble_fraction"] == pytest.approx(3 / 35)
    with pytest.raises(ValueError, match="multiple"):
        cluster_plan.Layout(512, 3, 1, 1, 1, 4096, 4096).check()


def test_stage1_dry_run_prints_world_layout_and_days_for_the_report_campaign():
    result = CliRunner().invoke(app, ["pretrain", str(STAGE1), "--dry-run", "--world-size", "512"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "512 x a800-80g" in out and "DP256+PP2+ZeRO-1" in out
    assert "4,096 sequences of 4096 = 16,777,216 tokens/step" in out
    assert "3.2T tokens (all stages) in 38." in out  # the report: 39 days


def test_cli_overrides_change_the_layout():
    result = CliRunner().invoke(
        app, ["pretrain", str(STAGE1), "--dry-run", "--world-size", "512", "--pp", "1", "--json"]
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert plan["cluster"]["layout"] == "DP512+ZeRO-1"
    assert not plan["cluster"]["memory_gb_per_gpu"]["fits"]
    assert any("OUT OF MEMORY" in note for note in plan["notes"])

    result = CliRunner().invoke(
        app, ["pretrain", str(STAGE1), "--dry-run", "--tp", "4", "--pp", "1", "--zero", "3", "--json"]
    )
    plan = json.loads(result.output)
    assert (plan["batch"]["world_size"], plan["cluster"]["layout"]) == (512, "DP128+TP4+ZeRO-3")
    assert plan["batch"]["tokens_per_step"] == 4096 * 4096
