"""`skywork eval mm`: MME's accuracy / accuracy+ arithmetic, and a real run with its outputs and baseline."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from skywork.eval.mm import MMEvalConfig, evaluate_mm, mme_scores, normalise, reading_split


def test_mme_scores_accuracy_plus_needs_both_questions_of_an_image_right():
    items = [
        {"group": "count", "id": "a", "lang": "en", "correct": True},
        {"group": "count", "id": "a", "lang": "en", "correct": True},
        {"group": "count", "id": "b", "lang": "en", "correct": True},
        {"group": "count", "id": "b", "lang": "en", "correct": False},
    ]
    score = mme_scores(items, "correct")["count"]
    assert score["accuracy"] == 0.75 and score["accuracy_plus"] == 0.5
    assert score["score"] == 125.0 and score["images"] == 2


def test_reading_is_split_into_words_and_numbers():
    items = [
        {"group": "reading", "gold": "cat", "correct": True, "baseline_correct": False},
        {"group": "reading", "gold": "47", "correct": False, "baseline_correct": False},
        {"group": "reading", "gold": "5", "correct": True, "baseline_correct": False},
        {"group": "color", "gold": "red", "correct": False},
    ]
    split = reading_split(items)
    assert split == {"numbers": {"accuracy": 0.5, "n": 2}, "words": {"accuracy": 1.0, "n": 1}}
    assert reading_split(items, "baseline_correct")["words"]["accuracy"] == 0.0


def test_answers_are_compared_on_their_first_line_without_final_punctuation():
    assert normalise(" Red.\nmore") == "red"
    assert normalise("是。") == "是"
    assert normalise("") == ""


def test_eval_writes_summary_results_page_and_baseline(mm_model_dir, mm_data, tmp_path):
    from skywork.utils.summary import read_summary

    out = tmp_path / "eval"
    payload = evaluate_mm(
        MMEvalConfig(model=str(mm_model_dir), data_dir=str(mm_data), output_dir=str(out), limit=3)
    )
    summary = read_summary(out, kind="mm_eval")
    assert summary["questions"] == payload["questions"] > 0
    assert {"color", "count", "digit", "parity"} <= set(summary["kinds"])
    assert set(summary["kinds"]) == set(summary["baseline_kinds"])
    assert set(summary["mme"]) >= {"existence", "ocr"}
    assert set(summary["reading_split"]) <= {"words", "numbers"}
    results = json.loads((out / "results.json").read_text())
    assert all("answer" in r and "baseline_answer" in r for r in results)
    page = (out / "examples.html").read_text()
    assert page.count("<img src='data:image/png;base64,") >= 4
    assert (out / "plots" / "accuracy.png").is_file()


def test_eval_command_prints_the_table(mm_model_dir, mm_data, tmp_path):
    from skywork.cli import app

    result = CliRunner().invoke(
        app,
        ["eval", "mm", str(mm_model_dir), "--data", str(mm_data), "-o", str(tmp_path / "e"), "--limit", "1"],
    )
    assert result.exit_code == 0, result.output
    assert "text only" in result.output and "MME" in result.output
