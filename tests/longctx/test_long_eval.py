"""SynL accuracy (skywork eval longtable), loss by position (skywork eval position-loss) and both long-context
evaluators inside `skywork eval run` suites, on a tiny real model."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from skywork.cli import app
from skywork.data.synth.long_tables import LongTables, LongTablesConfig
from skywork.eval.longtable import load_questions, score
from skywork.eval.position_loss import PositionLossConfig, run_position_loss
from skywork.model import load_model, save_model_dir
from skywork.testing import build_tiny_model
from skywork.utils.io import InputError, write_jsonl

TEXT = " ".join(f"Line {i} says the river runs past stone {i % 7}." for i in range(120))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_tokenizer_dir):
    model = build_tiny_model(vocab_size=1003)
    out = tmp_path_factory.mktemp("longeval") / "model"
    save_model_dir(out, model.config, model.state_dict(), tokenizer_dir=tiny_tokenizer_dir)
    return out


@pytest.fixture(scope="module")
def synl(tmp_path_factory, tiny_tokenizer_dir):
    out = tmp_path_factory.mktemp("synl")
    config = LongTablesConfig(
        lengths=[150, 300], train_tables=6, heldout_tables=4, tokenizer=str(tiny_tokenizer_dir)
    )
    LongTables(config).generate(out)
    return out


def test_the_programs_own_answers_score_correct_and_near_misses_do_not(synl):
    rows = load_questions(synl / "train.jsonl") + load_questions(synl / "heldout.jsonl")
    assert {r["kind"] for r in rows} == {"retrieval", "cot", "global"}
    for row in rows:  # the assistant turn written by the generator is a right answer by the scorer
        assert score(row["kind"], row["messages"][-1]["content"], str(row["answer"])), row
    assert not score("retrieval", "The amount is 1234.", "123")  # not inside a longer number
    assert score("retrieval", "The amount is 123.", "123")
    # cot: the final "the answer is" decides, not a matching intermediate step
    assert not score("cot", "12 + 30 = 42\nSo the answer is 40.", "42")
    assert score("cot", "12 + 30 = 42\nSo the answer is 42.", "42")


def test_bad_rows_are_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    write_jsonl(path, [{"messages": [{"role": "user", "content": "q"}], "kind": "cot", "answer": "1"}])
    with pytest.raises(InputError, match="assistant") as err:
        load_questions(path)
    assert err.value.line == 1


def test_longtable_command_reports_accuracy_by_kind_and_length(tmp_path, model_dir, synl):
    out = tmp_path / "lt"
    result = CliRunner().invoke(
        app, ["eval", "longtable", str(model_dir), "--data", str(synl / "heldout.jsonl"), "--max-new-tokens", "4",
              "-o", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "longtable" and summary["questions"] == 12
    assert set(summary["by_kind"]) == {"retrieval", "cot", "global"}
    assert set(summary["by_length"]) == {"150", "300"}
    assert sum(v["n"] for v in summary["by_kind_length"].values()) == 12
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 12 and all(s["prompt_tokens"] > 100 for s in samples)
    assert "SynL held-out accuracy" in result.output


def test_position_loss_is_the_models_loss_split_by_position(tmp_path, model_dir, tiny_tokenizer):
    docs = tmp_path / "docs.jsonl"
    write_jsonl(docs, [{"text": TEXT}, {"text": TEXT[::-1]}])
    model = load_model(model_dir, dtype=torch.float32)
    config = PositionLossConfig(files=[str(docs)], max_len=256, bucket=32, max_rows=2)
    res = run_position_loss(model, tiny_tokenizer, config)
    assert res["rows"] == 2 and [c["start"] for c in res["curve"]] == list(range(0, 255, 32))
    assert sum(c["tokens"] for c in res["curve"]) == 2 * 255
    # token-weighted mean of the curve == the model's own mean next-token loss over the same rows
    from skywork.eval.position_loss import document_rows

    rows = torch.as_tensor(__import__("numpy").stack(document_rows(config, tiny_tokenizer)))
    with torch.no_grad():
        expected = model(input_ids=rows, labels=rows).loss.item()
    mean = sum(c["loss"] * c["tokens"] for c in res["curve"]) / sum(c["tokens"] for c in res["curve"])
    assert mean == pytest.approx(expected, rel=1e-5)
    too_long = PositionLossConfig(files=[str(docs)], max_len=100_000)
    with pytest.raises(InputError, match="fewer than one row"):
        run_position_loss(model, tiny_tokenizer, too_long)


def test_position_loss_command_writes_plot_and_json(tmp_path, model_dir):
    docs = tmp_path / "doc.txt"
    docs.write_text(TEXT * 3)
    out = tmp_path / "pl"
    result = CliRunner().invoke(
        app, ["eval", "position-loss", str(model_dir), str(docs), "--max-len", "128", "--bucket", "16", "--no-join",
              "-o", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "position_loss" and summary["rows"] == 1 and len(summary["curve"]) == 8
    assert (out / summary["plots"]["position_loss"]).stat().st_size > 1000


def test_needle_and_longtable_inside_an_eval_suite(tmp_path, model_dir, synl):
    hay = tmp_path / "hay.txt"
    hay.write_text(TEXT)
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        f"models: {{tiny: {model_dir}}}\n"
        f"needle: {{lengths: [96], depths: [0, 100], max_new_tokens: 4, haystack: [{hay}]}}\n"
        f"longtable: {{data: {synl / 'heldout.jsonl'}, limit: 3, max_new_tokens: 4}}\n"
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["eval", "run", str(suite), "-o", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    tiny = summary["models"]["tiny"]
    assert set(tiny["needle"]["accuracy_by_length"]) == {"96"}
    assert tiny["longtable"]["questions"] == 3
    assert (out / summary["plots"]["needle-tiny"]).stat().st_size > 1000
    assert json.loads((out / "longtable-tiny" / "summary.json").read_text())["kind"] == "longtable"
