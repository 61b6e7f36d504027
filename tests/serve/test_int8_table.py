"""The int8 table: bf16 and int8 of the same model measured in their own processes (loss, weights, peak RSS)."""

from __future__ import annotations

import json

import pytest

from skywork.model.quantize import quantize_checkpoint
from skywork.serve.int8_table import compare, markdown_table
from skywork.testing import build_tiny_model, write_tiny_model_dir


@pytest.fixture(scope="module")
def model_and_texts(tmp_path_factory, tiny_tokenizer_dir):
    root = tmp_path_factory.mktemp("int8table")
    model_dir = write_tiny_model_dir(root / "m", build_tiny_model(vocab_size=1000), tiny_tokenizer_dir)
    texts = root / "en.jsonl"
    lines = [
        json.dumps({"text": f"The {i}th line of plain text, with some words to score."}) for i in range(12)
    ]
    texts.write_text("\n".join(lines) + "\n")
    return model_dir, texts


def test_compare_measures_both_variants_in_their_own_process(model_and_texts, tmp_path):
    model_dir, texts = model_and_texts
    int8_dir = quantize_checkpoint(model_dir, tmp_path / "int8")
    result = compare(model_dir, [texts], max_docs=8, batch_size=4, int8_dir=int8_dir)
    rows = {row["variant"]: row for row in result["rows"]}
    assert set(rows) == {"bf16", "int8"}
    for row in rows.values():
        assert row["domain_tokens"] > 0 and row["domain_loss"] > 0
        assert 0 <= row["load_peak_rss_bytes"] <= row["peak_rss_bytes"]
    assert rows["int8"]["weight_bytes"] < rows["bf16"]["weight_bytes"]
    summary = result["int8_vs_bf16"]
    assert summary["weight_ratio"] == rows["int8"]["weight_bytes"] / rows["bf16"]["weight_bytes"]
    assert abs(summary["loss_change"]) < 0.05  # random tiny weights: int8 moves the loss a little
    assert [r["model"] for r in result["meta_rows"]][0] == "skywork-13b"
    table = markdown_table(result)
    assert "| bf16 |" in table and "| int8 |" in table and "skywork-13b (official README)" in table


def test_a_failing_variant_reports_the_child_traceback(model_and_texts, tmp_path):
    model_dir, texts = model_and_texts
    with pytest.raises(RuntimeError, match="not a skywork-int8-weight-only checkpoint"):
        compare(model_dir, [texts], max_docs=2, variants=("int8",), int8_dir=model_dir)
