"""End-to-end pretraining runs on a tiny model: outputs, stage chaining, NaN handling."""

from __future__ import annotations

import json

import pytest
import torch

from tests.train.conftest import tiny_config


def test_run_writes_metrics_checkpoints_final_and_loss_drops(tmp_path, tiny_tokenizer_dir, token_streams):
    from skywork.model import load_model
    from skywork.tokenizer import load
    from skywork.train.pretrain import run_pretraining

    config = tiny_config(tmp_path / "run", tiny_tokenizer_dir, token_streams, max_steps=12, plots=True)
    summary = run_pretraining(config)
    run = tmp_path / "run"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if "loss" in r]
    assert [r["step"] for r in train] == list(range(1, 13))
    for key in ("tokens", "loss", "lr", "grad_norm", "tokens_per_s", "mfu"):
        assert key in train[0]
    assert train[-1]["loss"] < train[0]["loss"] - 0.5
    evals = [r for r in rows if "val_loss" in r]
    assert [r["step"] for r in evals] == [3, 6, 9, 12]
    assert evals[-1]["val_loss"]["main"] < evals[0]["val_loss"]["main"]
    # the STEM share ramps linearly 0.1 -> 0.4 over the stage
    assert train[0]["shares"]["stem"] == pytest.approx(0.1 + 0.3 * (2 * 1) / 24, abs=1e-6)
    assert train[-1]["shares"]["stem"] == pytest.approx(0.4, abs=1e-6)
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert ckpts == ["step-0000006", "step-0000009", "step-0000012"]  # keep_last 3
    model = load_model(run / "final")
    tokenizer = load(run / "final")
    assert model.config.vocab_size == len(tokenizer)
    ids = torch.tensor([tokenizer("def main():")["input_ids"]])
    assert torch.isfinite(model(ids).logits).all()
    assert {p.name for p in (run / "plots").iterdir()} >= {"loss.png", "lr.png", "throughput.png"}
    assert summary["steps"] == 12 and summary["tokens"] == 12 * 2 * 64
