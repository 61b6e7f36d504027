"""C-Eval / CMMLU / MMLU: official prompt strings, the shared-prefix cache, batching, averaging, bad input."""

from __future__ import annotations

import pytest

from skywork.eval.mcq import (
    choice_token_ids,
    evaluate_mcq,
    evaluate_subject,
    few_shot_prefix,
    format_example,
    load_subject_tables,
    read_questions,
)
from skywork.utils.io import InputError

ROW = {"question": "Q?", "A": "a1", "B": "b2", "C": "c3", "D": "d4", "answer": "B"}


def _dirs(shared_data):
    return {
        "cmmlu": shared_data / "haonan-li+CMMLU/data",
        "ceval": shared_data / "hiyouga+LLaMA-Factory/evaluation/ceval",
        "mmlu": shared_data / "hiyouga+LLaMA-Factory/evaluation/mmlu/data",
    }


def test_official_prompt_strings(shared_data):
    ceval, cmmlu, mmlu = (load_subject_tables(b) for b in ("ceval", "cmmlu", "mmlu"))
    assert format_example("ceval", ROW, "logic", ceval, True) == (
        "以下是中国关于逻辑学考试的单项选择题，请选出其中的正确答案。\n\nQ?\nA. a1\nB. b2\nC. c3\nD. d4\n答案：B\n\n"
    )
    assert format_example("ceval", ROW, "logic", ceval, False).endswith("\nD. d4\n答案：")
    assert format_example("cmmlu", ROW, "agronomy", cmmlu, True) == (
        "以下是关于农学的单项选择题，请直接给出正确答案的选项。\n\n题目：Q?\nA. a1\nB. b2\nC. c3\nD. d4\n答案：B\n\n"
    )
    assert few_shot_prefix("mmlu", [ROW], "college_computer_science", mmlu) == (
        "The following are multiple choice questions (with answers) about college computer science.\n\n"
        "Question: Q?\nChoices:\nA. a1\nB. b2\nC. c3\nD. d4\nAnswer: B\n\n"
    )
    assert (
        format_example("mmlu", ROW, "x", mmlu, False)
        == "Question: Q?\nChoices:\nA. a1\nB. b2\nC. c3\nD. d4\nAnswer:"
    )


def test_categories_from_official_tables(shared_data):
    ceval = load_subject_tables("ceval")
    assert len(ceval.hard) == 8 and "discrete_mathematics" in ceval.hard
    assert sum(len(v) for v in ceval.categories.values()) == 52
    cmmlu = load_subject_tables("cmmlu")
    assert "chinese_history" in cmmlu.categories["China specific"]
    assert "chinese_history" in cmmlu.categories["Humanities"]  # a subject can count in two categories


@pytest.mark.parametrize(
    "bench,subject", [("cmmlu", "agronomy"), ("ceval", "middle_school_physics"), ("mmlu", "anatomy")]
)
def test_prefix_cache_and_batching_do_not_change_predictions(
    shared_data, tiny_model, tiny_tokenizer, bench, subject
):
    data = _dirs(shared_data)[bench]
    split = {"cmmlu": "test", "ceval": "val", "mmlu": "test"}[bench]
    name = f"{subject}.csv" if bench == "cmmlu" else f"{subject}_{split}.csv"
    dev_name = f"{subject}.csv" if bench == "cmmlu" else f"{subject}_dev.csv"
    tables = load_subject_tables(bench)
    dev = read_questions(data / "dev" / dev_name, bench)
    questions = read_questions(data / split / name, bench)[:6]
    args = (tiny_model, tiny_tokenizer, bench, subject, dev, questions, tables)
    plain = evaluate_subject(*args, batch_size=1, use_cache=False)
    cached = evaluate_subject(*args, batch_size=1, use_cache=True)
    batched = evaluate_subject(*args, batch_size=8, use_cache=True)
    for other in (cached, batched):
        assert other["predictions"] == plain["predictions"]
        for a, b in zip(other["choice_logprobs"], plain["choice_logprobs"], strict=True):
            assert a == pytest.approx(b, abs=1e-4)


def test_averages(shared_data, tiny_model, tiny_tokenizer):
    dirs = _dirs(shared_data)
    ceval = evaluate_mcq(
        tiny_model, tiny_tokenizer, "ceval", dirs["ceval"], subjects=["logic", "college_chemistry"], limit=4
    )
    subjects = ceval["subjects"]
    assert ceval["accuracy"] == pytest.approx(
        (subjects["logic"]["accuracy"] + subjects["college_chemistry"]["accuracy"]) / 2
    )
    assert ceval["hard"] == subjects["college_chemistry"]["accuracy"]
    assert set(ceval["categories"]) == {"Humanities", "STEM", "Hard"}
    mmlu = evaluate_mcq(
        tiny_model, tiny_tokenizer, "mmlu", dirs["mmlu"], subjects=["anatomy", "virology"], limit=3
    )
    correct = sum(s["correct"] for s in mmlu["subjects"].values())
    assert mmlu["accuracy"] == pytest.approx(correct / 6) and mmlu["average"] == "micro"
    for key in ("bench", "accuracy", "subjects", "categories"):
        assert key in mmlu


def test_choice_ids_are_the_official_ones(tiny_tokenizer):
    assert choice_token_ids(tiny_tokenizer) == [tiny_tokenizer(c)["input_ids"][-1] for c in "ABCD"]


def _bench_dir(tmp_path, bench, dev_text, test_text):
    (tmp_path / "dev").mkdir(parents=True)
    (tmp_path / "test").mkdir()
    (tmp_path / "dev" / "agronomy.csv").write_text(dev_text, encoding="utf-8")
    (tmp_path / "test" / "agronomy.csv").write_text(test_text, encoding="utf-8")
    return tmp_path


GOOD = ",Question,A,B,C,D,Answer\n" + "".join(f"{i},q{i},a,b,c,d,A\n" for i in range(5))


@pytest.mark.parametrize(
    "test_text,match",
    [
        (",Question,A,B,C,Answer\n0,q,a,b,c,A\n", r"test/agronomy.csv, line 1, field 'D': missing column"),
        (",Question,A,B,C,D,Answer\n0,q,a,b,c,d,A\n1,q,a,b,c,d,E\n", r"test/agronomy.csv.*row 2: answer 'E'"),
        ("", r"test/agronomy.csv.*empty file"),
        (",Question,A,B,C,D,Answer\n", r"test/agronomy.csv.*no rows"),
    ],
)
def test_bad_csv_names_file_and_row(tmp_path, shared_data, tiny_model, tiny_tokenizer, test_text, match):
    data = _bench_dir(tmp_path, "cmmlu", GOOD, test_text)
    with pytest.raises(InputError, match=match):
        evaluate_mcq(tiny_model, tiny_tokenizer, "cmmlu", data)
