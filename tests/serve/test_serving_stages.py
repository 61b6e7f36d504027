"""The recipe's serving stages on a tiny model: quantize (int8 + table), serve_check (a real server, the
official client), and their part of the report."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from skywork.recipe.kinds import KINDS
from skywork.recipe.loading import load_recipe
from skywork.recipe.runner import run_recipe
from skywork.utils.summary import read_summary

pytest.importorskip(
    "openai", reason="the serving check uses the official client: pip install 'skywork[serve]'"
)
pytest.importorskip("fastapi", reason="the builtin server needs the serve extra")


def test_quantize_and_serve_check_stages_write_summaries_and_report(served_model, tmp_path):
    model_dir, _ = served_model
    texts = tmp_path / "en.jsonl"
    texts.write_text(
        "".join(json.dumps({"text": f"Line {i}: a few words to score."}) + "\n" for i in range(8))
    )
    recipe = tmp_path / "serving.yaml"
    recipe.write_text(
        f"""name: serving
stages:
  quantize:
    kind: quantize
    config:
      model: {model_dir}
      validation: {{en: {texts}}}
      max_docs: 4
  serve_check:
    kind: serve_check
    config:
      model: ${{quantize}}/int8
      max_tokens: 4
  report:
    kind: report
    config:
      title: serving
"""
    )
    run_dir = tmp_path / "run"
    run_recipe(load_recipe(recipe, KINDS, run_dir), run_dir, KINDS, console=Console(quiet=True))

    table = read_summary(run_dir / "quantize", kind="quantize")
    assert [row["variant"] for row in table["rows"]] == ["bf16", "int8"]
    assert table["int8_vs_bf16"]["weight_ratio"] < 1 and abs(table["int8_vs_bf16"]["loss_change"]) < 0.05
    assert (run_dir / "quantize" / "int8" / "config.json").exists()

    check = read_summary(run_dir / "serve_check", kind="serve_check")
    assert check["ok"] and check["engine"] == "builtin" and check["health_status"] == 200
    assert check["usage"]["prompt_tokens"] == check["prompt_tokens_expected"]
    assert check["usage"]["completion_tokens"] <= 4 and check["role"] == "assistant"

    report = (run_dir / "report.md").read_text()
    assert "Serving and int8" in report and "| int8 |" in report and "skywork-13b (official README)" in report
    assert "official <code>openai</code> client" in report or "official `openai` client" in report
