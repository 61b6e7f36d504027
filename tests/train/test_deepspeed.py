"""DeepSpeed ZeRO-2 under torchrun (optional extra: skipped when deepspeed is not installed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from skywork.utils.config import to_dict
from tests.train.conftest import tiny_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "deepspeed"


def _losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


@pytest.mark.slow
def test_zero2_with_two_processes_matches_one_process_and_resumes(
    tmp_path, tiny_tokenizer_dir, token_streams
):
    pytest.importorskip("deepspeed")
    from skywork.train.loop import run_pretraining

    single = tiny_config(
        tmp_path / "single", tiny_tokenizer_dir, token_streams, max_steps=4, micro_batch_size=4
    )
    run_pretraining(single)

    multi = tiny_config(
        tmp_path / "multi",
        tiny_tokenizer_dir,
        token_streams,
        max_steps=4,
        save_every=2,
        micro_batch_size=2,
        distributed="deepspeed",
        deepspeed_config=str(CONFIGS / "zero2.json"),
    )
    config_file = tmp_path / "multi.yaml"
    config_file.write_text(yaml.safe_dump(to_dict(multi)))
    env = dict(os.environ, OMP_NUM_THREADS="1", DS_ACCELERATOR="cpu")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "skywork.train.cli",
        "pretrain",
        str(config_file),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert _losses(tmp_path / "multi") == pytest.approx(_losses(tmp_path / "single"), rel=1e-4, abs=1e-4)
    assert (tmp_path / "multi" / "checkpoints" / "step-0000004" / "deepspeed").is_dir()
    from skywork.model import load_model

    assert load_model(tmp_path / "multi" / "final") is not None
    # resume from DeepSpeed's own checkpoint files for two more steps
    multi.max_steps = 6
    config_file.write_text(yaml.safe_dump(to_dict(multi)))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "resumed from" in proc.stderr
    assert len(_losses(tmp_path / "multi")) == 6
