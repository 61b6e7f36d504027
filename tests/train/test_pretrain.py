"""End-to-end pretraining runs on a tiny model: outputs, stage chaining, NaN handling."""

from __future__ import annotations

import json

import pytest
import torch

from tests.train.conftest import tiny_config


def test_run_writes_metrics_checkpoints_final_and_loss_drops(tmp_path, tiny_tokenizer_dir, token_streams):
    from skywork.model import load_model
    from skywork.tokenizer import load
    from skywork.train.loop import run_pretraining

    config = tiny_config(
        tmp_path / "run", tiny_tokenizer_dir, token_streams, max_steps=12, plots=True, tensorboard=True
    )
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
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    # the stage contract: summary.json with the report's figures and the plots it lists
    from skywork.utils.summary import plot_path, read_summary

    written = read_summary(run, "pretrain", max_version=1)
    assert written["steps"] == 12 and written["last_train_loss"] == train[-1]["loss"]
    assert written["last_val_loss"] == evals[-1]["val_loss"] and written["logged_steps"] == 12
    assert written["mean_tokens_per_s"] == pytest.approx(sum(r["tokens_per_s"] for r in train) / 12)
    for name in ("train_loss", "val_loss", "mixture", "lr", "tokens_per_s", "loss", "throughput"):
        assert plot_path(run, written, name).stat().st_size > 1000, name


def test_activation_checkpointing_and_accumulation_keep_the_losses(
    tmp_path, tiny_tokenizer_dir, token_streams
):
    """Recomputing activations changes nothing numerically; 2 x 1 accumulation equals 1 x 2 micro-batches."""
    from skywork.train.loop import run_pretraining

    plain = run_pretraining(tiny_config(tmp_path / "a", tiny_tokenizer_dir, token_streams, max_steps=3))
    checkpointed = run_pretraining(
        tiny_config(
            tmp_path / "b", tiny_tokenizer_dir, token_streams, max_steps=3, activation_checkpointing=True
        )
    )
    accumulated = run_pretraining(
        tiny_config(
            tmp_path / "c",
            tiny_tokenizer_dir,
            token_streams,
            max_steps=3,
            micro_batch_size=1,
            grad_accum_steps=2,
        )
    )
    assert checkpointed["final_loss"] == pytest.approx(plain["final_loss"], rel=1e-5)
    assert accumulated["final_loss"] == pytest.approx(plain["final_loss"], rel=1e-4)


def test_compiled_loop_follows_the_eager_loop(tmp_path, tiny_tokenizer_dir, token_streams):
    """compile: true (model + fused loss, auto -> eager attention on CPU) trains like the uncompiled loop."""
    from skywork.train.build import attention_kernel
    from skywork.train.loop import run_pretraining

    eager_cfg = tiny_config(tmp_path / "eager", tiny_tokenizer_dir, token_streams, max_steps=3)
    compiled_cfg = tiny_config(
        tmp_path / "compiled", tiny_tokenizer_dir, token_streams, max_steps=3, compile=True
    )
    cpu = torch.device("cpu")
    assert attention_kernel(eager_cfg, cpu) == "sdpa" and attention_kernel(compiled_cfg, cpu) == "eager"
    eager = run_pretraining(eager_cfg)
    compiled = run_pretraining(compiled_cfg)
    assert compiled["final_loss"] == pytest.approx(eager["final_loss"], rel=1e-4)
    assert compiled["val_loss"]["main"] == pytest.approx(eager["val_loss"]["main"], rel=1e-4)


@pytest.mark.shared
def test_real_data_gsm8k_training_with_jsonl_validation_sets(tmp_path, tiny_tokenizer_dir, shared_data):
    """The official pt_train.jsonl as a stream; two of the report's held-out files as .jsonl validation sets."""
    from skywork.train.loop import run_pretraining
    from skywork.train.shards import tokenize_to_shards

    skywork_data = shared_data / "SkyworkAI+Skywork" / "data"
    tokenize_to_shards(
        [skywork_data / "pt_train.jsonl"], tiny_tokenizer_dir, tmp_path / "shards", source="gsm8k"
    )
    config = tiny_config(tmp_path / "run", tiny_tokenizer_dir, tmp_path / "shards", max_steps=8, eval_every=4)
    config.data.sources = config.data.sources[:1]
    config.data.sources[0].name, config.data.sources[0].path = "gsm8k", str(tmp_path / "shards" / "gsm8k")
    config.data.sources[0].weight_end = None
    config.data.validation = {
        "mock_gsm8k": str(skywork_data / "eval_loss" / "mock_gsm8k_test_public.jsonl"),
        "zh_news": str(skywork_data / "eval_loss" / "zh_news.jsonl"),
    }
    summary = run_pretraining(config)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    first, last = (r["val_loss"] for r in rows if "val_loss" in r)
    assert set(last) == {"mock_gsm8k", "zh_news"}
    # training on GSM8K helps the GSM8K-like set more than Chinese news
    assert first["mock_gsm8k"] - last["mock_gsm8k"] > first["zh_news"] - last["zh_news"]
    assert summary["tokens"] == 8 * 2 * 64


def test_exhausted_mixture_stops_cleanly_with_a_final_model(tmp_path, tiny_tokenizer_dir, token_streams):
    from skywork.train.loop import run_pretraining
    from skywork.train.shards import TokenShards

    config = tiny_config(tmp_path / "run", tiny_tokenizer_dir, token_streams, max_steps=200, eval_every=100)
    config.data.sources = config.data.sources[1:]  # stem only, capped at one pass
    config.data.sources[0].max_epochs = 1.0
    summary = run_pretraining(config)
    expected_steps = -(
        -TokenShards(token_streams / "stem").num_tokens // (2 * 64)
    )  # ceil: the last one crosses
    assert summary["stopped_early"] and "repetition cap" in summary["stopped_early"]
    assert summary["steps"] == expected_steps
    assert (tmp_path / "run" / "final" / "model.safetensors").exists()
    assert (tmp_path / "run" / "checkpoints" / f"step-{expected_steps:07d}").exists()
