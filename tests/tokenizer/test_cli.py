"""``skywork tokenizer train`` end to end through the real command line."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from skywork.cli import app

from .conftest import SMALL


def test_train_command_writes_a_loadable_directory(tmp_path, small_corpus):
    config = tmp_path / "tok.yaml"
    config.write_text(yaml.safe_dump({"inputs": [str(small_corpus)], **SMALL}))
    result = CliRunner().invoke(app, ["tokenizer", "train", str(config), "--output", str(tmp_path / "tok")])
    assert result.exit_code == 0, result.output
    assert "1,217 entries" in result.output
    report = json.loads((tmp_path / "tok" / "train_report.json").read_text())
    assert report["vocab_size"] == 1217
    assert report["composition"] == {"latin": 700, "chinese_chars": 300, "chinese_words": 200, "reserved": 17}


def test_train_command_reports_bad_config(tmp_path):
    config = tmp_path / "tok.yaml"
    config.write_text(yaml.safe_dump({"inputs": [str(tmp_path / "nothing.txt")]}))
    result = CliRunner().invoke(app, ["tokenizer", "train", str(config), "--output", str(tmp_path / "tok")])
    assert result.exit_code == 2
    assert "file not found" in result.output
