"""The report of a real (corpus + report) run renders in headless Chromium with its images."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from skywork.recipe.kinds import KINDS
from skywork.recipe.runner import load_recipe, read_state, run_recipe
from skywork.utils.summary import plot_path, read_summary
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
    previous = os.umask(0o022)  # a usual login umask: files the report writes must be readable by others
    try:
        run_recipe(load_recipe(recipe, KINDS, run_dir), run_dir, KINDS, console=Console(quiet=True))
    finally:
        os.umask(previous)
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


def test_report_writes_its_summary_through_the_stage_contract(small_run):
    summary = read_summary(small_run / "report", kind="report", max_version=1)
    assert summary["schema"] == "skywork.report/v1"
    assert summary["sections"][0] == "Run overview" and summary["sections"][-1] == "Exact configs"
    assert plot_path(small_run / "report", summary, "time_per_stage").exists()
    assert summary["html"].endswith("report.html")


def test_report_files_keep_the_umask(small_run):
    """Written under umask 022 the report is 0644 like any file the user writes (atomic writes made it 0600)."""
    for path in (small_run / "report.html", small_run / "report.md", small_run / "report" / "summary.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_report_renders_in_chromium(small_run):
    if browser.chromium() is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium; .ci/run installs it)")
    seen = browser.render(small_run / "report.html")
    assert seen["images"] >= 1 and seen["loaded"] == seen["images"], seen
    assert seen["tables"] >= 3
