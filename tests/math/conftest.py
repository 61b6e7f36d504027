"""Fixtures for the math tests: a tiny base model directory and STEM problems from the demo generator."""

from __future__ import annotations

import json
import random

import pytest


@pytest.fixture(scope="session")
def math_base_dir(tiny_tokenizer_dir, tmp_path_factory):
    from skywork.testing import build_tiny_model, write_tiny_model_dir
    from skywork.tokenizer import load

    model = build_tiny_model(len(load(tiny_tokenizer_dir)), seed=0)
    return write_tiny_model_dir(tmp_path_factory.mktemp("mathbase") / "model", model, tiny_tokenizer_dir)


@pytest.fixture(scope="session")
def stem_files(tmp_path_factory):
    """Train / held-out STEM problems (demo layout: one ``text`` field), both languages, plus one without gold."""
    from skywork.data.synth.stem import make_problem

    root = tmp_path_factory.mktemp("stem")
    rng = random.Random(5)
    files = {}
    for split, count in (("train", 6), ("heldout", 4)):
        rows = [
            {
                "id": f"{split}-{i}",
                "text": make_problem(rng, "en" if i % 2 else "zh").text,
                "lang": "en" if i % 2 else "zh",
            }
            for i in range(count)
        ]
        if split == "train":
            rows.append({"id": "no-gold", "text": "What is two plus two?\nIt is four.", "lang": "en"})
        files[split] = root / f"{split}.jsonl"
        files[split].write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    return files
