"""Needle in a haystack: cell construction (lengths, depths, sentence ends), scoring, outputs and the command."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from skywork.cli import app
from skywork.eval.needle import NeedleBuilder, NeedleConfig, load_haystack, run_needle, write_needle_results
from skywork.model import save_model_dir
from skywork.testing import build_tiny_model

HAYSTACK = " ".join(f"Sentence number {i} talks about rivers and stones." for i in range(200))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_tokenizer_dir):
    model = build_tiny_model(vocab_size=1003)
    out = tmp_path_factory.mktemp("needle") / "model"
    save_model_dir(out, model.config, model.state_dict(), tokenizer_dir=tiny_tokenizer_dir)
    return out


def test_cells_have_the_length_and_put_the_needle_at_its_depth(tiny_tokenizer):
    builder = NeedleBuilder(tiny_tokenizer, HAYSTACK, seed=1)
    for depth in (0.0, 50.0, 100.0):
        cell = builder.cell(300, depth, needles=1, depth_index=0)
        prompt = cell.context + cell.questions[0]
        assert len(prompt) <= 300 and len(prompt) >= 290
        position = cell.positions[0]
        needle = builder.encode(f" The special magic number for {cell.keys[0]} is {cell.values[0]}.")
        hay_tokens = len(cell.context) - 1 - len(needle)
        assert 0 <= 1 + hay_tokens * depth / 100 - position < 20  # moved back to a sentence end, never far
        if 1 < position < len(cell.context):  # (position 1: right after BOS)
            assert builder.is_end[cell.context[position - 1]]  # right after a sentence end
        text = tiny_tokenizer.decode(cell.context)
        assert f"The special magic number for {cell.keys[0]} is {cell.values[0]}." in text
    reserved = NeedleBuilder(tiny_tokenizer, HAYSTACK, seed=1, answer_room=12).cell(300, 50.0, 1, 0)
    assert 278 <= len(reserved.context + reserved.questions[0]) <= 288  # 12 tokens kept for the answer
    several = builder.cell(400, 20.0, needles=3, depth_index=1)
    assert len(set(several.keys)) == 3 and several.positions == sorted(several.positions)
    assert (
        builder.cell(300, 50.0, 1, 0).values
        == NeedleBuilder(tiny_tokenizer, HAYSTACK, 1).cell(300, 50.0, 1, 0).values
    )


def test_run_scores_the_value_in_the_answer_and_writes_outputs(
    tmp_path, model_dir, tiny_tokenizer, monkeypatch
):
    from skywork.model import load_model

    (tmp_path / "hay.txt").write_text(HAYSTACK)
    config = NeedleConfig(
        lengths=[128, 256], depths=[0.0, 100.0], needles=2, haystack=[str(tmp_path / "hay.txt")]
    )
    model = load_model(model_dir)
    results = run_needle(model, tiny_tokenizer, config)
    assert len(results["cells"]) == 4 and len(results["samples"]) == 8
    for sample in results["samples"]:  # deterministic scoring: found iff the value is in the answer
        assert sample["found"] == (sample["value"] in sample["answer"])
        # the answer budget fits inside the length (a model trained at L must answer inside its window)
        assert sample["prompt_tokens"] + config.max_new_tokens <= sample["length"]
    assert [len(row) for row in results["grid"]] == [2, 2]
    # an oracle model: the engine's answers replaced by the true values -> accuracy 1
    import skywork.inference.engine as engine

    def oracle(self, prompts, params=None, shared_prefix=None):
        text = tiny_tokenizer.decode(list(prompts[0]))
        return [
            [engine.Completion(text.split(f"number for {k} is ")[1].split(".")[0], [], "stop", 0)]
            for k in (
                tiny_tokenizer.decode(list(p)[len(shared_prefix) :]).split("for ")[1].split("?")[0]
                for p in prompts
            )
        ]

    monkeypatch.setattr(engine.GenerationEngine, "generate", oracle)
    perfect = run_needle(model, tiny_tokenizer, config)
    assert perfect["accuracy"] == 1.0 and perfect["grid"] == [[1.0, 1.0], [1.0, 1.0]]
    summary = json.loads(write_needle_results(tmp_path / "out", perfect, model="m").read_text())
    assert summary["kind"] == "needle" and summary["accuracy"] == 1.0
    assert (tmp_path / "out" / summary["plots"]["heatmap"]).stat().st_size > 1000
    assert len((tmp_path / "out" / "samples.jsonl").read_text().splitlines()) == 8


def test_haystack_from_jsonl_and_a_bad_grid(tmp_path):
    (tmp_path / "zh.jsonl").write_text(
        json.dumps({"text": "今天天气很好。"}) + "\n" + json.dumps({"text": "我们去公园。"})
    )
    assert load_haystack([tmp_path / "zh.jsonl"]) == "今天天气很好。\n\n我们去公园。"
    with pytest.raises(ValueError, match="depths"):
        NeedleConfig(depths=[150.0]).validate()


def test_cli_needle(tmp_path, model_dir):
    (tmp_path / "hay.txt").write_text(HAYSTACK)
    out = tmp_path / "run"
    args = [
        "eval",
        "needle",
        str(model_dir),
        "--lengths",
        "96,160",
        "--depths",
        "0,50",
        "--max-new-tokens",
        "4",
    ]
    result = CliRunner().invoke(app, [*args, "--haystack", str(tmp_path / "hay.txt"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["lengths"] == [96, 160] and summary["depths"] == [0.0, 50.0]
    assert (out / "needle_heatmap.png").exists()
