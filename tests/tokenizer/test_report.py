"""``skywork tokenizer report``: compression against the plain-BPE and no-words baselines, table and JSON."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from skywork.cli import app
from skywork.testing import stdlib_text
from skywork.tokenizer.report import tokenizer_report
from skywork.utils.io import InputError


@pytest.fixture
def held_out(tmp_path):
    zh = tmp_path / "zh.txt"
    zh.write_text("今天我们一起学习数学和物理，然后去公园散步。\n北京是中国的首都。\n" * 5, encoding="utf-8")
    en = tmp_path / "en.txt"
    en.write_text("The quick brown fox jumps over the lazy dog.\n" * 20, encoding="utf-8")
    code = tmp_path / "module.py"
    code.write_text(stdlib_text(max_files=40, max_chars=300_000)[-20_000:], encoding="utf-8")
    return [str(zh), str(en), str(code)]


def test_report_compares_with_both_baselines(small_tokenizer, held_out):
    out, _ = small_tokenizer
    report = tokenizer_report(out, held_out, progress=lambda m: None)
    results = report["results"]
    assert set(results) == {"ours", "plain_bpe", "no_words", "latin_only"}
    assert results["ours"]["vocab_size"] == results["plain_bpe"]["vocab_size"] == 1217
    assert results["no_words"]["vocab_size"] == 1017 and results["latin_only"]["vocab_size"] == 717
    assert set(results["ours"]["by_label"]) == {
        "chinese",
        "english",
        "code",
    }  # labelled from content / suffix
    zh = {name: res["by_label"]["chinese"] for name, res in results.items()}
    # Words can only help Chinese; without Chinese characters nearly everything falls back to bytes.
    assert (
        zh["ours"]["chars_per_token"]
        >= zh["no_words"]["chars_per_token"]
        > zh["latin_only"]["chars_per_token"]
    )
    assert zh["latin_only"]["unknown_char_rate"] > 0.5 > zh["ours"]["unknown_char_rate"]
    assert report["composition"]["chinese_words"] == 200
    coverage = [
        f["chinese_char_coverage"] for f in results["ours"]["files"].values() if f["label"] == "chinese"
    ]
    assert coverage and 0.5 < coverage[0] <= 1.0
    assert (out / "baselines" / "plain_bpe.model").exists()  # cached for the next report


def test_report_command_prints_table_and_writes_json(small_tokenizer, held_out, tmp_path):
    out, _ = small_tokenizer
    args = ["tokenizer", "report", str(out), "--out", str(tmp_path / "r.json")]
    for path in held_out:
        args += ["--text", path]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "plain_bpe" in result.output and "ours_vs_plain_bpe" in result.output
    assert json.loads((tmp_path / "r.json").read_text())["results"]["ours"]["vocab_size"] == 1217


def test_report_rejects_missing_text(small_tokenizer, tmp_path):
    out, _ = small_tokenizer
    with pytest.raises(InputError, match="not found"):
        tokenizer_report(out, [str(tmp_path / "nope.txt")])
