"""The synthetic instruction set: deterministic, bilingual, answers correct, train and held-out disjoint."""

from __future__ import annotations

import json


def test_instruction_generator_is_deterministic_and_correct(tmp_path, tiny_tokenizer):
    from skywork.data.synth.instructions import InstructionConfig, InstructionGenerator
    from skywork.finetune import build_sft_dataset

    first = InstructionGenerator(InstructionConfig(train_rows=60, heldout_rows=10)).generate(tmp_path / "a")
    second = InstructionGenerator(InstructionConfig(train_rows=60, heldout_rows=10)).generate(tmp_path / "b")
    assert first["files"] == second["files"] and first["rows"] == {"train": 60, "heldout": 10}
    train = [json.loads(x) for x in (tmp_path / "a" / "train.jsonl").read_text().splitlines()]
    held = [json.loads(x) for x in (tmp_path / "a" / "heldout.jsonl").read_text().splitlines()]
    assert not {r["instruction"] for r in train} & {r["instruction"] for r in held}
    assert {r["lang"] for r in train} == {"zh", "en"}
    for row in train:
        assert row["answer"] in row["output"]
        if row["instruction"].startswith("What is") and "plus" in row["instruction"]:
            a, b = (int(x) for x in row["instruction"][8:-1].split(" plus "))
            assert row["answer"] == str(a + b)
    examples, counts = build_sft_dataset([tmp_path / "a" / "train.jsonl"], tiny_tokenizer)
    assert counts["examples"] == 60 and counts["by_format"] == {"alpaca": 60}
