"""Domain loss: the official protocol (truncation, no BOS, summed CE over 1..n), batching invariance, pooling."""

from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from skywork.eval.loss import evaluate_loss
from skywork.utils.io import InputError

TEXTS = [
    "def main():\n    return 42\n",
    "import os\nprint(os.getcwd())",
    "机器学习是人工智能的一个重要分支。" * 3,
    "x",
    "class A:\n    pass\n" * 7,
    "今天天气很好，我们一起去公园散步。",
]


def _write(path, texts, key="text"):
    path.write_text("".join(json.dumps({key: t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    return path


def _reference_loss(model, tokenizer, texts, max_chars):
    """Straight from the definition: full logits of one unpadded document at a time."""
    total, tokens = 0.0, 0
    for text in texts:
        ids = tokenizer(text[:max_chars], add_special_tokens=False)["input_ids"]
        if len(ids) < 2:
            continue
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, :-1].float()
        total += F.cross_entropy(logits, torch.tensor(ids[1:]), reduction="sum").item()
        tokens += len(ids) - 1
    return total / tokens, tokens


def test_matches_definition_and_batch_invariant(tmp_path, tiny_model, tiny_tokenizer):
    a = _write(tmp_path / "a.jsonl", TEXTS[:3])
    b = _write(tmp_path / "b.jsonl", TEXTS[3:])
    r1 = evaluate_loss(tiny_model, tiny_tokenizer, [a, b], max_chars=40, batch_size=1)
    r8 = evaluate_loss(tiny_model, tiny_tokenizer, [a, b], max_chars=40, batch_size=8)
    for path, texts in ((a, TEXTS[:3]), (b, TEXTS[3:])):
        want, tokens = _reference_loss(tiny_model, tiny_tokenizer, texts, 40)
        for res in (r1, r8):
            got = res["files"][str(path)]
            assert got["tokens"] == tokens
            assert got["loss"] == pytest.approx(want, abs=1e-4)
            assert got["ppl"] == pytest.approx(math.exp(want), rel=1e-4)
    pooled, tokens = _reference_loss(tiny_model, tiny_tokenizer, TEXTS, 40)
    assert r8["pooled"]["loss"] == pytest.approx(pooled, abs=1e-4)
    assert r8["pooled"]["tokens"] == tokens
    assert r8["pooled"]["documents"] == len(TEXTS)


def test_truncates_to_first_characters(tmp_path, tiny_model, tiny_tokenizer):
    long = _write(tmp_path / "long.jsonl", [TEXTS[4]])
    cut = _write(tmp_path / "cut.jsonl", [TEXTS[4][:25]])
    r_long = evaluate_loss(tiny_model, tiny_tokenizer, long, max_chars=25)
    r_cut = evaluate_loss(tiny_model, tiny_tokenizer, cut, max_chars=None)
    assert r_long["files"][str(long)]["loss"] == pytest.approx(r_cut["files"][str(cut)]["loss"], abs=1e-6)
    assert r_long["files"][str(long)]["chars"] == 25


def test_reference_tokenizer_normalisation(tmp_path, tiny_model, tiny_tokenizer, tiny_tokenizer_dir):
    from skywork.testing import build_tiny_tokenizer
    from skywork.tokenizer import load

    other = load(build_tiny_tokenizer(tmp_path / "tok600", vocab_size=600))
    path = _write(tmp_path / "a.jsonl", TEXTS)
    res = evaluate_loss(tiny_model, tiny_tokenizer, path, reference_tokenizer=other)
    for entry in (res["files"][str(path)], res["pooled"]):
        ref_tokens = sum(max(len(other(t, add_special_tokens=False)["input_ids"]) - 1, 0) for t in TEXTS)
        assert entry["reference_tokens"] == ref_tokens
        assert entry["normalized_loss"] == pytest.approx(entry["loss"] * entry["tokens"] / ref_tokens)
        chars = sum(len(t) for t in TEXTS)
        assert entry["bits_per_char"] == pytest.approx(entry["loss"] * entry["tokens"] / math.log(2) / chars)
    same = evaluate_loss(tiny_model, tiny_tokenizer, path, reference_tokenizer=tiny_tokenizer)
    assert same["pooled"]["normalized_loss"] == pytest.approx(same["pooled"]["loss"])


def test_gsm8k_style_records_are_question_space_answer(tmp_path, tiny_model, tiny_tokenizer):
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "How many?", "answer": "Two.\n#### 2"}) + "\n")
    text = _write(tmp_path / "text.jsonl", ["How many? Two.\n#### 2"])
    r_qa = evaluate_loss(tiny_model, tiny_tokenizer, qa)["pooled"]["loss"]
    r_text = evaluate_loss(tiny_model, tiny_tokenizer, text)["pooled"]["loss"]
    assert r_qa == pytest.approx(r_text, abs=1e-6)


def test_official_domain_file_batch_1_vs_8(shared_data, tiny_model, tiny_tokenizer):
    path = shared_data / "SkyworkAI+Skywork/data/eval_loss/zh_general.jsonl"
    r1 = evaluate_loss(tiny_model, tiny_tokenizer, path, batch_size=1, max_samples=10, max_chars=300)
    r8 = evaluate_loss(tiny_model, tiny_tokenizer, path, batch_size=8, max_samples=10, max_chars=300)
    assert r1["pooled"]["tokens"] == r8["pooled"]["tokens"] > 0
    assert r1["pooled"]["loss"] == pytest.approx(r8["pooled"]["loss"], abs=1e-4)
    # an untrained model is close to uniform over the vocabulary
    assert abs(r8["pooled"]["loss"] - math.log(len(tiny_tokenizer))) < 1.0


def test_bad_input_names_file_and_line(tmp_path, tiny_model, tiny_tokenizer):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(InputError, match="empty.jsonl.*no documents"):
        evaluate_loss(tiny_model, tiny_tokenizer, empty)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "ok"}) + "\n" + json.dumps({"body": "no text"}) + "\n")
    with pytest.raises(InputError, match="bad.jsonl, line 2"):
        evaluate_loss(tiny_model, tiny_tokenizer, bad)
