"""`skywork train sft` on the one loop: a tiny run end to end, exact resume, and the model directory it leaves."""

from __future__ import annotations

import json

import torch

from tests.finetune.conftest import sft_config


def _metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _losses(run_dir):
    return {r["step"]: r["loss"] for r in _metrics(run_dir) if "loss" in r}


def test_tiny_sft_run_learns_and_leaves_a_loadable_model_with_its_chat_template(
    tmp_path, base_model_dir, sft_rows_file
):
    from skywork.model import load_model
    from skywork.tokenizer import load
    from skywork.train.sft import run_sft
    from skywork.utils.summary import read_summary

    config = sft_config(tmp_path / "run", base_model_dir, [sft_rows_file], max_steps=12, save_every=12)
    summary = run_sft(config, resume="never")
    losses = _losses(tmp_path / "run")
    assert losses[12] < losses[1] * 0.8
    rows = _metrics(tmp_path / "run")
    validations = [r for r in rows if "val_loss" in r]
    assert [r["step"] for r in validations] == [4, 8, 12]
    assert validations[-1]["val_loss"]["heldout"] < validations[0]["val_loss"]["heldout"]
    assert len(validations[0]["samples"]) == 3 and all("answer" in s for s in validations[0]["samples"])
    assert all(r["supervised_tokens"] > 0 for r in rows if "loss" in r)

    saved = read_summary(tmp_path / "run", "sft")
    assert saved["data"]["examples"] == 40 and saved["data"]["heldout_examples"] == 6
    assert saved["data"]["train_examples"] == 34 and saved["lora"] is False
    final = tmp_path / "run" / "final"
    assert summary["final_dir"] == str(final)
    model = load_model(final)
    config_json = json.loads((final / "tokenizer_config.json").read_text())
    assert "[BOT]" in config_json["chat_template"]
    tokenizer = load(final)
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False
    )
    assert text.endswith("[BOT]")
    assert torch.isfinite(model(torch.tensor([tokenizer(text)["input_ids"]])).logits).all()


def test_sft_resume_follows_the_uninterrupted_trajectory(tmp_path, base_model_dir, sft_rows_file):
    from skywork.train.sft import run_sft

    reference = sft_config(tmp_path / "reference", base_model_dir, [sft_rows_file], max_steps=8, save_every=3)
    run_sft(reference, resume="never")
    first = sft_config(tmp_path / "resumed", base_model_dir, [sft_rows_file], max_steps=5, save_every=3)
    run_sft(first, resume="never")  # stops at step 5; its last checkpoint is step 5
    second = sft_config(tmp_path / "resumed", base_model_dir, [sft_rows_file], max_steps=8, save_every=3)
    run_sft(second, resume="auto")
    expected, got = _losses(tmp_path / "reference"), _losses(tmp_path / "resumed")
    assert sorted(got) == sorted(expected) == list(range(1, 9))
    for step in expected:
        assert abs(got[step] - expected[step]) < 1e-6, (step, got[step], expected[step])


def test_sft_and_cpt_are_recipe_stage_kinds():
    from skywork.recipe.kinds import KINDS
    from skywork.train.finetune_config import CPTConfig, SFTConfig

    assert KINDS["sft"].config_class() is SFTConfig and KINDS["cpt"].config_class() is CPTConfig
    assert KINDS["sft"].output_field == "output_dir"


def test_sft_without_a_base_model_fails_naming_the_key(tmp_path, sft_rows_file):
    import pytest

    from skywork.train.sft import run_sft
    from skywork.utils.io import InputError

    config = sft_config(tmp_path / "run", tmp_path / "missing", [sft_rows_file])
    with pytest.raises(InputError, match="model.init_from"):
        run_sft(config, resume="never")
