"""LoRA SFT under torchrun with 2 real CPU processes (gloo): FSDP2 and DeepSpeed ZeRO-2 train the same adapter as
one process with the same global batch, rank 0 saves it in PEFT's format, and ``peft.PeftModel`` loads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from skywork.utils.config import to_dict
from tests.finetune.conftest import sft_config

# no LoRA dropout: its masks are drawn per rank, so only a dropout-free run can equal the single-process one
LORA = {"enabled": True, "r": 4, "alpha": 8, "dropout": 0.0, "modules_to_save": ["lm_head"]}
DEEPSPEED = Path(__file__).resolve().parents[2] / "configs" / "deepspeed" / "zero2.json"


def _losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


def _config(out_dir, base_dir, rows_file, **overrides):
    return sft_config(
        out_dir,
        base_dir,
        [rows_file],
        max_steps=3,
        save_every=3,
        eval_every=3,
        lora=LORA,
        **{"data.samples": 0},
        **overrides,
    )


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["fsdp", "deepspeed"])
def test_lora_sft_with_two_processes_matches_one_and_saves_a_peft_adapter(
    mode, tmp_path, base_model_dir, sft_rows_file
):
    if mode == "deepspeed":
        pytest.importorskip("deepspeed")
    from peft import PeftModel

    from skywork.model import load_model
    from skywork.train.sft import run_sft

    run_sft(_config(tmp_path / "single", base_model_dir, sft_rows_file, micro_batch_size=4), resume="never")
    extra = {"deepspeed_config": str(DEEPSPEED)} if mode == "deepspeed" else {}
    multi = _config(
        tmp_path / "multi", base_model_dir, sft_rows_file, micro_batch_size=2, distributed=mode, **extra
    )
    config_file = tmp_path / "multi.yaml"
    config_file.write_text(yaml.safe_dump(to_dict(multi)))
    env = dict(os.environ, OMP_NUM_THREADS="1", DS_ACCELERATOR="cpu")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    cmd += ["-m", "skywork.train.cli", "sft", str(config_file)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]

    summary = json.loads((tmp_path / "multi" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["distributed"] == mode and summary["lora"] is True
    assert _losses(tmp_path / "multi") == pytest.approx(_losses(tmp_path / "single"), rel=1e-4, abs=1e-4)

    final = tmp_path / "multi" / "final"
    adapter_config = json.loads((final / "adapter_config.json").read_text())
    assert adapter_config["peft_type"] == "LORA" and (final / "adapter_model.safetensors").is_file()
    assert not (final / "model.safetensors").exists()  # the adapter only, not the base weights
    ids = torch.tensor([[1, 5, 9, 13, 17, 21]])
    logits = {}
    for name in ("single", "multi"):
        model = PeftModel.from_pretrained(load_model(base_model_dir), str(tmp_path / name / "final")).eval()
        with torch.no_grad():
            logits[name] = model(ids).logits
    base = load_model(base_model_dir).eval()
    with torch.no_grad():
        change = (logits["single"] - base(ids).logits).abs().max()
    gap = (logits["multi"] - logits["single"]).abs().max()
    assert change > 1e-3  # the adapter changed the model
    if mode == "fsdp":
        torch.testing.assert_close(logits["multi"], logits["single"], atol=1e-4, rtol=1e-4)
    else:  # ZeRO steps its own flattened fp32 partitions (and clips with its own norm): close, not bitwise
        assert gap < 0.1 * change, (gap, change)
