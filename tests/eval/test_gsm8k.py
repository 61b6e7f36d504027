"""GSM8K: the official answer extraction, and batched cached generation equal to plain greedy generation."""

from __future__ import annotations

import json

import pytest

from skywork.eval.gsm8k import (
    build_prompt,
    cut_completion,
    evaluate_gsm8k,
    extract_gold,
    extract_prediction,
    greedy_generate,
    is_correct,
    load_fewshot,
)
from skywork.utils.io import InputError


@pytest.mark.parametrize(
    "completion,expected",
    [
        ("She pays 3*4=12 dollars.\nThe answer is 12", 12),
        ("The answer is 1,234.00", 1234),
        ("The answer is 5.", 5),
        ("The answer is 3.5", 3.5),
        ("so 2+3 = 5 apples and 7 pears", 5),  # the "=" match wins over the last number
        ("The answer is $18", 18),
        ("x = $-4.0 in total 9", -4),
        ("答案是 42", 42),
        ("no number here", None),
        ("The answer is 1.2.3", None),  # not a number literal (official eval would crash)
    ],
)
def test_official_extraction(completion, expected):
    assert extract_prediction(completion) == expected


def test_cut_and_gold():
    assert cut_completion("a = 3\nThe answer is 3\n\nQuestion: next") == "a = 3\nThe answer is 3"
    assert cut_completion("x</s>y") == "x"
    assert cut_completion("The answer is 4Question: 5") == "The answer is 4"
    assert extract_gold("steps <<2*3=6>>6\n#### 1,000") == 1000
    assert is_correct("The answer is 1000.0\n\nThe answer is 7", "#### 1,000")
    assert not is_correct("The answer is 7", "#### 8")


def test_official_prompt(shared_data):
    fewshot = load_fewshot(None, 8)
    raw = (shared_data / "SkyworkAI+Skywork/data/gsm8k_prompt.txt").read_text(encoding="utf-8")
    assert fewshot == raw and fewshot.count("Let's think step by step") == 8
    assert build_prompt(fewshot, "Q?") == raw + "\nQuestion: Q?\nLet's think step by step\n"
    assert load_fewshot(None, 2).count("Question: ") == 2


@pytest.fixture(scope="module")
def sharp_model(tiny_tokenizer):
    """A random model with larger weights, so greedy outputs depend on the prompt (a real test of batching)."""
    from skywork.testing import build_tiny_model

    return build_tiny_model(len(tiny_tokenizer), seed=3, initializer_range=0.3, max_position_embeddings=4096)


def test_batched_cached_generation_equals_plain_greedy(shared_data, sharp_model, tiny_tokenizer):
    import torch

    fewshot = load_fewshot(None, 2)
    questions = ["Tom has 3 apples.", "A train leaves at 9 and arrives at 11. How long?", "What is 7*8?"]
    prompts = [build_prompt(fewshot, q) for q in questions]
    ours = greedy_generate(
        sharp_model,
        tiny_tokenizer,
        prompts,
        fewshot + "\nQuestion: ",
        max_new_tokens=12,
        batch_size=8,
        stop_strings=(),
    )
    for prompt, text in zip(prompts, ours, strict=True):
        ids = tiny_tokenizer(prompt, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            ref = sharp_model.generate(ids, do_sample=False, max_new_tokens=12, pad_token_id=2)
        assert text == tiny_tokenizer.decode(ref[0, ids.shape[1] :])
    assert len(set(ours)) == 3


def test_evaluate_writes_log_and_schema(tmp_path, shared_data, sharp_model, tiny_tokenizer):
    src = shared_data / "openai+grade-school-math/grade_school_math/data/test.jsonl"
    log = tmp_path / "samples.jsonl"
    res = evaluate_gsm8k(sharp_model, tiny_tokenizer, src, shots=2, max_new_tokens=8, limit=3, log_path=log)
    assert res["n"] == 3 and 0 <= res["accuracy"] <= 1
    rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 3 and {"completion", "prediction", "gold", "acc"} <= set(rows[0])
    assert rows[0]["gold"] == extract_gold(json.loads(src.read_text().splitlines()[0])["answer"])


def test_bad_gsm8k_file(tmp_path, sharp_model, tiny_tokenizer, shared_data):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"question": "q", "answer": "a\n#### 3"}) + "\n" + json.dumps({"question": "q"}) + "\n"
    )
    with pytest.raises(InputError, match="bad.jsonl, line 2, field 'answer'"):
        evaluate_gsm8k(sharp_model, tiny_tokenizer, bad, shots=1)
    nogold = tmp_path / "nogold.jsonl"
    nogold.write_text(json.dumps({"question": "q", "answer": "no gold"}) + "\n")
    with pytest.raises(InputError, match="nogold.jsonl, line 1, field 'answer'"):
        evaluate_gsm8k(sharp_model, tiny_tokenizer, nogold, shots=1)


def _stem_file(tmp_path, count=4):
    import random

    from skywork.data.synth.stem import make_problem

    rng = random.Random(1)
    path = tmp_path / "stem.jsonl"
    rows = [{"text": make_problem(rng, "zh" if i % 2 else "en").text} for i in range(count)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_math_chat_format_is_zero_shot_greedy_chat(tmp_path, sharp_model, tiny_tokenizer):
    import torch

    from skywork.math.prompts import trim_solution
    from skywork.tokenizer.chat import encode_turn

    data = _stem_file(tmp_path)
    log = tmp_path / "chat.jsonl"
    res = evaluate_gsm8k(
        sharp_model, tiny_tokenizer, data, max_new_tokens=6, log_path=log, prompt_format="math-chat"
    )
    assert res["format"] == "math-chat" and res["shots"] == 0 and res["n"] == 4
    assert (
        set(res["by_lang"]) == {"en", "zh"} and res["by_lang"]["zh"]["n"] == 2
    )  # Chinese problems, same way
    rows = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    question = rows[0]["question"]
    ids = torch.tensor([encode_turn(tiny_tokenizer, question)])
    with torch.no_grad():
        ref = sharp_model.generate(ids, do_sample=False, max_new_tokens=6, pad_token_id=2)
    text = tiny_tokenizer.decode(ref[0, ids.shape[1] :], skip_special_tokens=True)
    assert rows[0]["completion"] == trim_solution(text)  # the [USER]q[SEP][BOT] prompt, greedy
    assert {"reason", "first_wrong_step", "steps"} <= set(rows[0]["grade"])  # graded steps in the log
    assert sum(res["reasons"].values()) == 4


def test_samples_give_pass_at_k_and_majority_vote(tmp_path, sharp_model, tiny_tokenizer):
    data = _stem_file(tmp_path, 2)
    log = tmp_path / "k.jsonl"
    res = evaluate_gsm8k(
        sharp_model, tiny_tokenizer, data, max_new_tokens=4, log_path=log, prompt_format="math-chat",
        samples=3, temperature=1.0, seed=1,
    )  # fmt: skip
    assert res["samples_per_question"] == 3 and 0 <= res["pass@3"] <= 1 and 0 <= res["majority_vote"] <= 1
    row = json.loads(log.read_text(encoding="utf-8").splitlines()[0])
    assert len(row["samples"]) == 3 and len(row["sample_grades"]) == 3 and "majority" in row
    again = evaluate_gsm8k(
        sharp_model, tiny_tokenizer, data, max_new_tokens=4, prompt_format="math-chat", samples=3,
        temperature=1.0, seed=1,
    )  # fmt: skip
    assert [s["samples"] for s in again["samples"]] == [s["samples"] for s in res["samples"]]  # seeded
    with pytest.raises(InputError, match="unknown format"):
        evaluate_gsm8k(sharp_model, tiny_tokenizer, data, prompt_format="chat")


def test_pass_at_k_and_majority():
    from skywork.math.solve import majority_answer, pass_at_k

    assert pass_at_k(8, 0, 8) == 0 and pass_at_k(8, 1, 8) == 1 and pass_at_k(4, 2, 1) == 0.5
    assert majority_answer(["3", None, "4", "4"]) == "4" and majority_answer(["3", "4"]) == "3"
    assert majority_answer([None, None]) is None
