"""torchrun with 2 real CPU processes (gloo): DDP and FSDP2 match one process with the same global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from skywork.utils.config import to_dict
from tests.train.conftest import tiny_config


def _losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


def _run(cmd, timeout=300):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["ddp", "fsdp"])
def test_two_processes_match_one_with_the_same_global_batch(
    mode, tmp_path, tiny_tokenizer_dir, token_streams
):
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
        micro_batch_size=2,
        distributed=mode,
    )
    config_file = tmp_path / "multi.yaml"
    config_file.write_text(yaml.safe_dump(to_dict(multi)))
    _run(
        [
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
    )
    summary = json.loads((tmp_path / "multi" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["distributed"] == mode
    assert _losses(tmp_path / "multi") == pytest.approx(_losses(tmp_path / "single"), rel=1e-4, abs=1e-4)
    # the checkpoint holds the full (unsharded) model and loads as a plain HF directory
    from skywork.model import load_model

    model = load_model(tmp_path / "multi" / "final")
    assert sum(p.numel() for p in model.parameters()) > 0
