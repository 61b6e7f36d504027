"""Fixtures for the fine-tuning tests."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def write_jsonl(tmp_path):
    """Write rows (dicts, or raw strings for broken lines) to ``tmp_path/name`` and return the path."""

    def write(name: str, rows: list) -> object:
        path = tmp_path / name
        lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def base_model_dir(tiny_tokenizer_dir, tmp_path_factory):
    """A tiny random model directory with its tokenizer: the base every fine-tuning test starts from."""
    from skywork.testing import build_tiny_model, write_tiny_model_dir
    from skywork.tokenizer import load

    model = build_tiny_model(len(load(tiny_tokenizer_dir)), seed=0)
    out = tmp_path_factory.mktemp("base") / "model"
    write_tiny_model_dir(out, model, tiny_tokenizer_dir)
    return out


@pytest.fixture(scope="session")
def sft_rows_file(tmp_path_factory):
    """Forty small bilingual instruction rows whose answers follow from the prompt (learnable in a few steps)."""
    path = tmp_path_factory.mktemp("sft") / "sft.jsonl"
    rows = []
    for i in range(40):
        a, b = i % 7 + 1, i % 5 + 2
        if i % 2:
            rows.append(
                {"instruction": f"{a} 加 {b} 等于几？", "input": "", "output": f"{a} 加 {b} 等于 {a + b}。"}
            )
        else:
            rows.append({"instruction": f"Add {a} and {b}.", "input": "", "output": f"{a} + {b} = {a + b}."})
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def sft_config(out_dir, base_dir, files, **overrides):
    """An SFTConfig for the tiny base (fp32, CPU, no progress bar); dotted overrides like 'data.packing'."""
    from skywork.train.finetune_config import SFTConfig
    from skywork.utils.config import from_dict

    data = {
        "output_dir": str(out_dir),
        "model": {"init_from": str(base_dir)},
        "data": {"files": [str(f) for f in files], "max_seq_len": 64, "seq_len": 128, "heldout_examples": 6},
        "optim": {"lr": 3e-3, "warmup_steps": 2},
        "max_steps": 8,
        "micro_batch_size": 2,
        "precision": "fp32",
        "device": "cpu",
        "eval_every": 4,
        "save_every": 4,
        "progress": False,
        "tensorboard": False,
        "plots": False,
    }
    for key, value in overrides.items():
        section, _, sub = key.partition(".")
        if sub:
            data.setdefault(section, {})[sub] = value
        else:
            data[key] = value
    return from_dict(SFTConfig, data)
