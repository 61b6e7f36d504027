"""The leakage test: near-equal losses for an unexposed model, a clear delta1 once the test split is learned."""

from __future__ import annotations

import json

import pytest
import torch

from skywork.eval.data import read_texts
from skywork.eval.leakage import leakage_test


def _subset(src, dst, n):
    rows = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines()[:n]]
    dst.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return dst


def test_schema_and_no_flag_for_unexposed_model(tmp_path, gsm8k_files, tiny_model, tiny_tokenizer):
    files = {k: _subset(v, tmp_path / f"{k}.jsonl", 24) for k, v in gsm8k_files.items()}
    res = leakage_test(
        tiny_model, tiny_tokenizer, files["train"], files["test"], files["ref"], n_bootstrap=200
    )
    for key in ("L_train", "L_test", "L_ref", "delta1", "delta2", "ci", "verdict"):
        assert key in res
    assert res["delta1"] == res["L_test"] - res["L_ref"]
    assert res["delta2"] == res["L_test"] - res["L_train"]
    lo, hi = res["ci"]["delta1"]
    assert lo <= res["delta1"] <= hi
    assert not res["leak_suspected"] and not res["overfit_suspected"]
    assert res["verdict"].startswith("No sign of leakage")
    assert res["samples"] == {"train": 24, "test": 24, "ref": 24}


@pytest.mark.parametrize("learned", ["test", "train"])
def test_learning_a_split_is_flagged(tmp_path, gsm8k_files, tiny_tokenizer, learned):
    from skywork.testing import build_tiny_model

    files = {k: _subset(v, tmp_path / f"{k}.jsonl", 16) for k, v in gsm8k_files.items()}
    model = build_tiny_model(vocab_size=len(tiny_tokenizer), seed=1).train()
    ids = [tiny_tokenizer(t[:300], add_special_tokens=False)["input_ids"] for t in read_texts(files[learned])]
    width = max(len(x) for x in ids)
    batch = torch.tensor([x + [0] * (width - len(x)) for x in ids])
    labels = torch.tensor([x + [-100] * (width - len(x)) for x in ids])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(40):
        loss = model(input_ids=batch, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    res = leakage_test(
        model, tiny_tokenizer, files["train"], files["test"], files["ref"], max_chars=300, n_bootstrap=200
    )
    if learned == "test":  # the test split is easier than the reference: delta1 clearly negative
        assert res["delta1"] < -0.5 and res["ci"]["delta1"][1] < 0
        assert res["leak_suspected"] and not res["overfit_suspected"]
        assert "Possible test-set leakage" in res["verdict"]
    else:  # the train split is easier than the test split: delta2 clearly positive
        assert res["delta2"] > 0.5 and res["ci"]["delta2"][0] > 0
        assert res["overfit_suspected"] and not res["leak_suspected"]
        assert "train split looks seen" in res["verdict"]
