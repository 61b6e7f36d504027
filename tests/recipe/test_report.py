"""The report of a real (corpus + report) run renders in headless Chromium with its images."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rich.console import Console

from skywork.recipe.kinds import KINDS
from skywork.recipe.runner import load_recipe, read_state, run_recipe
from tests.recipe import browser


@pytest.fixture(scope="module")
def small_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("report")
    recipe = root / "r.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "name": "corpus-report",
                "description": "Corpus and report only.",
                "stages": {
                    "corpus": {
                        "kind": "demo_corpus",
                        "config": {"size_mb": 0.3, "valid_docs": 10, "leakage_problems": 10},
                    },
                    "report": {"kind": "report", "config": {"defect_labels": "${corpus}/labels.jsonl"}},
                },
            }
        )
    )
    run_dir = root / "run"
    run_recipe(load_recipe(recipe, KINDS, run_dir), run_dir, KINDS, console=Console(quiet=True))
    return run_dir


def test_report_files_and_sections(small_run):
    html = (small_run / "report.html").read_text()
    md = (small_run / "report.md").read_text()
    for title in ("Run overview", "Corpus", "Exact configs"):
        assert title in html and f"## {title}" in md
    assert (
        'src="report/time_per_stage.png"' in html and (small_run / "report" / "time_per_stage.png").exists()
    )
    assert "size_mb: 0.3" in md  # the exact config
    result = read_state(small_run.resolve(), "report")["result"]
    assert result["images"] == ["time_per_stage.png"]


def test_report_renders_in_chromium(small_run):
    if browser.chromium() is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium; .ci/run installs it)")
    seen = browser.render(small_run / "report.html")
    assert seen["images"] >= 1 and seen["loaded"] == seen["images"], seen
    assert seen["tables"] >= 3
