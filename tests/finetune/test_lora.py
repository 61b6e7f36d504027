"""LoRA on the one loop: PEFT-format adapters, exact resume, merge-lora logits equal base+adapter, QLoRA on CPU."""

from __future__ import annotations

import json

import pytest
import torch

from tests.finetune.conftest import sft_config

LORA = {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.1, "modules_to_save": ["lm_head"]}


def _losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def test_lora_adapter_resumes_exactly_and_merges_to_the_same_logits(tmp_path, base_model_dir, sft_rows_file):
    from peft import PeftModel

    from skywork.finetune.lora import merge_lora
    from skywork.model import load_model
    from skywork.train.sft import run_sft

    def config(name, steps):
        return sft_config(
            tmp_path / name,
            base_model_dir,
            [sft_rows_file],
            max_steps=steps,
            save_every=2,
            lora=LORA,
            eval_every=100,
            **{"data.samples": 0},
        )

    run_sft(config("reference", 4), resume="never")
    run_sft(config("resumed", 2), resume="never")
    run_sft(config("resumed", 4), resume="auto")
    expected, got = _losses(tmp_path / "reference"), _losses(tmp_path / "resumed")
    assert sorted(got) == [1, 2, 3, 4]
    for step in expected:
        assert abs(got[step] - expected[step]) < 1e-6, (step, got[step], expected[step])

    adapter = tmp_path / "reference" / "final"
    adapter_config = json.loads((adapter / "adapter_config.json").read_text())
    assert adapter_config["r"] == 4 and adapter_config["lora_alpha"] == 8
    assert set(adapter_config["target_modules"]) == {"q_proj", "v_proj"}
    assert (adapter / "adapter_model.safetensors").exists()
    assert "chat_template" in json.loads((adapter / "tokenizer_config.json").read_text())

    base = load_model(base_model_dir, dtype=torch.float32)
    with_adapter = PeftModel.from_pretrained(base, str(adapter)).eval()
    ids = torch.tensor([[1, 5, 9, 33, 70, 2, 18, 400]])
    with torch.no_grad():
        adapted = with_adapter(input_ids=ids).logits
        plain = load_model(base_model_dir, dtype=torch.float32).eval()(input_ids=ids).logits
    assert (adapted - plain).abs().max() > 1e-4  # the adapter changed something

    merged_dir = merge_lora(adapter, tmp_path / "merged")
    merged = load_model(merged_dir, dtype=torch.float32).eval()
    with torch.no_grad():
        torch.testing.assert_close(merged(input_ids=ids).logits, adapted, atol=1e-5, rtol=0)
    assert (merged_dir / "tokenizer_config.json").exists()


def test_merge_lora_command(tmp_path, base_model_dir, sft_rows_file):
    from typer.testing import CliRunner

    from skywork.cli import app
    from skywork.train.sft import run_sft

    run_sft(
        sft_config(
            tmp_path / "run", base_model_dir, [sft_rows_file], max_steps=1, lora=LORA, **{"data.samples": 0}
        ),
        resume="never",
    )
    result = CliRunner().invoke(
        app, ["export", "merge-lora", str(tmp_path / "run" / "final"), "-o", str(tmp_path / "m")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "config.json").exists()


def test_qlora_on_cpu_fails_with_a_clear_message(tmp_path, base_model_dir, sft_rows_file):
    from skywork.train.sft import run_sft

    config = sft_config(tmp_path / "run", base_model_dir, [sft_rows_file], lora={**LORA, "quantize": "4bit"})
    with pytest.raises(RuntimeError, match="QLoRA.*needs a CUDA GPU"):
        run_sft(config, resume="never")
