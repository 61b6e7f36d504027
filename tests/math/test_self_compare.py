"""Self-compare fine-tuning end to end on a tiny model: every round's files, counts, resume, bad input."""

from __future__ import annotations

import json

import pytest

from skywork.math.compare import build_round_data, describe_error
from skywork.math.config import BuildSection, SelfCompareConfig
from skywork.math.data import read_problems
from skywork.math.grade import grade_solution
from skywork.math.self_compare import run_self_compare
from skywork.utils.config import from_dict
from skywork.utils.io import InputError


def _config(tmp_path, base, files, **over):
    data = {
        "output_dir": str(tmp_path / "run"),
        "model": str(base),
        "problems": [str(files["train"])],
        "device": "cpu",
        "sampling": {"k": 2, "max_new_tokens": 12, "temperature": 1.0},
        "eval": {"files": [str(files["heldout"])], "max_new_tokens": 12},
        "train": {
            "max_steps": 2,
            "data": {"max_seq_len": 256, "seq_len": 256},
            "micro_batch_size": 1,
            "device": "cpu",
            "progress": False,
            "plots": False,
        },
    }
    data.update(over)
    return from_dict(SelfCompareConfig, data)


def test_rounds_write_everything_and_resume(tmp_path, math_base_dir, stem_files):
    config = _config(tmp_path, math_base_dir, stem_files, rounds=2)
    summary = run_self_compare(config)
    out = tmp_path / "run"
    assert summary["problems"]["no_gold"] == 1 and summary["problems"]["problems"] == 6
    assert [c["round"] for c in summary["accuracy_by_round"]] == [0, 1, 2]
    for r in (1, 2):
        round_dir = out / f"round_{r}"
        samples = [json.loads(line) for line in (round_dir / "samples.jsonl").read_text().splitlines()]
        assert len(samples) == 6 * 2 and {"solution", "grade"} <= set(samples[0])
        data = [json.loads(line) for line in (round_dir / "data.jsonl").read_text().splitlines()]
        assert data and all(row["kind"] in ("correct", "comparison") for row in data)
        assert (round_dir / "train" / "final" / "config.json").exists()
        round_summary = json.loads((round_dir / "summary.json").read_text())
        assert round_summary["kind"] == "self_compare_round" and round_summary["samples"] == 12
        assert round_summary["data"]["examples"] == len(data)
        assert round_summary["heldout"]["n"] == 4 and set(round_summary["heldout"]["by_lang"]) == {"en", "zh"}
    # round 2 started from round 1's model
    train2 = json.loads((out / "round_2" / "train" / "summary.json").read_text())
    assert train2["base_model"].endswith("round_1/train/final")
    assert (out / "accuracy.png").exists()
    stamp = (out / "round_1" / "samples.jsonl").stat().st_mtime_ns
    again = run_self_compare(config)  # everything exists: nothing is redone
    assert (out / "round_1" / "samples.jsonl").stat().st_mtime_ns == stamp
    assert again["accuracy_by_round"] == summary["accuracy_by_round"]
    changed = _config(tmp_path, math_base_dir, stem_files, rounds=3)
    with pytest.raises(InputError, match="another config"):
        run_self_compare(changed)


def _sample(problem, solution, index):
    return {
        "problem_id": problem.id,
        "index": index,
        "solution": solution,
        "grade": grade_solution(solution, problem.gold).as_dict(),
    }


def test_build_data_dedups_mixes_and_explains(stem_files):
    problems, _ = read_problems(stem_files["train"])
    p = problems[0]
    steps = p.solution.splitlines()
    right = p.solution
    reworded = "So: " + right
    wrong = right.replace(f"#### {p.gold.answer}", f"#### {p.gold.answer + 1}")
    broken = "<<3*(=1>>1\n#### 1"
    samples = [_sample(p, s, i) for i, s in enumerate([right, reworded, wrong, broken])]
    rows, counts = build_round_data(problems[:1], samples, BuildSection(dedup="steps", mix_ratio=0.5), seed=0)
    assert counts["duplicates_removed"] == 1 and counts["correct_examples"] == 1
    assert counts["comparison_examples"] == 1 and counts["comparisons_available"] == 1
    comparison = next(r for r in rows if r["kind"] == "comparison")
    assert p.question in comparison["instruction"] and comparison["output"].endswith(right)
    rows_all, counts_all = build_round_data(
        problems[:1], samples, BuildSection(dedup="none", comparisons_per_problem=2, mix_ratio=1.0), seed=0
    )
    assert counts_all["correct_examples"] == 2 and counts_all["comparison_examples"] == 2
    rs, counts_rs = build_round_data(problems[:1], samples, BuildSection(mix_ratio=0.0), seed=0)
    assert counts_rs["comparison_examples"] == 0 and all(r["kind"] == "correct" for r in rs)
    assert len(steps) >= 2


def test_error_descriptions_in_both_languages(stem_files):
    problems, _ = read_problems(stem_files["train"])
    zh = next(p for p in problems if p.lang == "zh")
    en = next(p for p in problems if p.lang == "en")
    bad_zh = grade_solution("<<2*3=7>>7\n#### 7", zh.gold).as_dict()
    assert describe_error(bad_zh, "zh").startswith("第一个错误的步骤是第1步") and "2*3=6" in describe_error(
        bad_zh, "zh"
    )
    bad_en = grade_solution("#### 99999", en.gold).as_dict()
    assert "final answer 99999 is wrong" in describe_error(bad_en, "en")


def test_no_problem_with_gold_is_a_clear_error(tmp_path, math_base_dir):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"question": "q?", "answer": "no gold"}) + "\n")
    config = _config(tmp_path, math_base_dir, {"train": bad, "heldout": bad})
    with pytest.raises(InputError, match="no training problem"):
        run_self_compare(config)
    wrong_layout = tmp_path / "layout.jsonl"
    wrong_layout.write_text(json.dumps({"prompt": "q"}) + "\n")
    with pytest.raises(InputError, match="layout.jsonl, line 1"):
        read_problems(wrong_layout)


def test_a_lora_round_merges_its_adapter_for_the_next_round(tmp_path, math_base_dir, stem_files):
    pytest.importorskip("peft")
    config = _config(tmp_path, math_base_dir, stem_files, rounds=1, problem_limit=2)
    config.train["lora"] = {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.0}
    config.eval.files = []
    summary = run_self_compare(config)
    model_dir = tmp_path / "run" / "round_1" / "model"
    assert summary["final_model"] == str(model_dir) and (model_dir / "config.json").exists()
    assert (tmp_path / "run" / "round_1" / "train" / "final" / "adapter_config.json").exists()
    assert summary["accuracy_by_round"] == []
