"""Fixtures for the pretraining tests: tiny JSONL corpora tokenized into real token streams."""

from __future__ import annotations

import json

import pytest


def _write_jsonl(path, texts):
    path.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)))
    return path


def _stdlib_docs(offset: int, count: int, size: int = 600) -> list[str]:
    from skywork.testing import stdlib_text

    text = stdlib_text(max_files=8)
    return [text[offset + i * size : offset + (i + 1) * size] for i in range(count)]


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory):
    """Two training sources (code-like 'main', Chinese+arithmetic 'stem') and a held-out file each."""
    root = tmp_path_factory.mktemp("corpus")
    _write_jsonl(root / "main.jsonl", _stdlib_docs(0, 60))
    stem = [
        f"小明有{i}个苹果，又买了{i + 3}个，一共有{2 * i + 3}个苹果。答案是 {2 * i + 3}。" * 3
        for i in range(60)
    ]
    _write_jsonl(root / "stem.jsonl", stem)
    _write_jsonl(root / "val_main.jsonl", _stdlib_docs(60 * 600, 8))
    _write_jsonl(root / "val_stem.jsonl", [f"{i} 加 {i + 1} 等于 {2 * i + 1}。" * 4 for i in range(100, 108)])
    return root


@pytest.fixture(scope="session")
def token_streams(corpus_dir, tiny_tokenizer_dir, tmp_path_factory):
    from skywork.train.shards import tokenize_to_shards

    out = tmp_path_factory.mktemp("shards")
    tokenize_to_shards(
        {"main": [corpus_dir / "main.jsonl"], "stem": [corpus_dir / "stem.jsonl"]}, tiny_tokenizer_dir, out
    )
    tokenize_to_shards([corpus_dir / "val_main.jsonl"], tiny_tokenizer_dir, out, source="val_main")
    return out


def tiny_config(out_dir, tokenizer_dir, streams, **overrides):
    """A PretrainConfig for a 2-layer hidden-64 model on the fixture streams (fp32, no progress bar)."""
    from skywork.train.config import PretrainConfig
    from skywork.utils.config import from_dict

    data = {
        "output_dir": str(out_dir),
        "tokenizer": str(tokenizer_dir),
        "model": {"preset": "skywork-tiny"},
        "data": {
            "sources": [
                {"name": "main", "path": str(streams / "main"), "weight": 0.9, "weight_end": 0.6},
                {"name": "stem", "path": str(streams / "stem"), "weight": 0.1, "weight_end": 0.4},
            ],
            "validation": {"main": str(streams / "val_main")},
            "seq_len": 64,
            "eval_sequences": 4,
        },
        "optim": {"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 2},
        "max_steps": 6,
        "micro_batch_size": 2,
        "precision": "fp32",
        "device": "cpu",
        "eval_every": 3,
        "save_every": 3,
        "progress": False,
        "tensorboard": False,
        "plots": False,
    }
    for key, value in overrides.items():
        section, _, sub = key.partition(".")
        if sub:
            data[section][sub] = value
        else:
            data[key] = value
    return from_dict(PretrainConfig, data)
