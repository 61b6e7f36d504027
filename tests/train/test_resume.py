"""Checkpoints and recovery: SIGKILL + resume, corrupt checkpoints, NaN steps, stage chaining."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from skywork.utils.config import to_dict
from tests.train.conftest import tiny_config


def _losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def _launch(config_file):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    return subprocess.Popen(
        [sys.executable, "-m", "skywork.train.cli", "pretrain", str(config_file), "--resume", "auto"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_for_step(run_dir, proc, step, timeout=120):
    deadline = time.time() + timeout
    metrics = run_dir / "metrics.jsonl"
    while time.time() < deadline:
        if metrics.exists() and any(s >= step for s in _losses(run_dir)):
            return
        if proc.poll() is not None:
            raise AssertionError(f"run ended early: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(0.02)
    raise AssertionError("timed out waiting for the run")


@pytest.mark.slow
def test_sigkill_and_resume_follow_the_uninterrupted_trajectory(tmp_path, tiny_tokenizer_dir, token_streams):
    configs = {}
    for name in ("reference", "killed"):
        config = tiny_config(
            tmp_path / name, tiny_tokenizer_dir, token_streams, max_steps=10, save_every=2, eval_every=5
        )
        configs[name] = tmp_path / f"{name}.yaml"
        configs[name].write_text(yaml.safe_dump(to_dict(config)))
    reference = _launch(configs["reference"])
    assert reference.wait(timeout=300) == 0, reference.stderr.read().decode()[-2000:]

    for kill_after in (3, 6):  # killed twice, mid-run, then finished
        proc = _launch(configs["killed"])
        _wait_for_step(tmp_path / "killed", proc, kill_after)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not (tmp_path / "killed" / "final").exists()  # really interrupted
    final = _launch(configs["killed"])
    assert final.wait(timeout=300) == 0, final.stderr.read().decode()[-2000:]

    expected, got = _losses(tmp_path / "reference"), _losses(tmp_path / "killed")
    assert sorted(got) == list(range(1, 11))
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-6)
    assert b"resumed from" in final.stderr.read()


def test_corrupt_latest_checkpoint_falls_back_with_a_warning(
    tmp_path, tiny_tokenizer_dir, token_streams, caplog
):
    from skywork.train.loop import run_pretraining

    config = tiny_config(tmp_path / "run", tiny_tokenizer_dir, token_streams, max_steps=6, save_every=3)
    run_pretraining(config)
    first = _losses(tmp_path / "run")
    latest = tmp_path / "run" / "checkpoints" / "step-0000006" / "optimizer.pt"
    data = bytearray(latest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    latest.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        summary = run_pretraining(config, resume="auto")
    assert "step-0000006 is corrupt" in caplog.text
    assert summary["steps"] == 6
    again = _losses(tmp_path / "run")
    assert again == pytest.approx(first, rel=1e-6)  # steps 4-6 redone from step 3, same losses


def test_nan_steps_are_skipped_counted_and_abort_when_repeated(tmp_path, tiny_tokenizer_dir, token_streams):
    from skywork.train.loop import TrainingDiverged, run_pretraining

    config = tiny_config(
        tmp_path / "one", tiny_tokenizer_dir, token_streams, max_steps=4, fault_injection_nan_steps=[1]
    )
    summary = run_pretraining(config)
    assert summary["skipped_steps"] == 1 and summary["steps"] == 4
    rows = [json.loads(line) for line in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    assert rows[1]["loss"] is None and rows[1]["skipped_steps"] == 1
    assert all(r["loss"] is not None for r in rows if r["step"] != 2 and "loss" in r)

    config = tiny_config(
        tmp_path / "many",
        tiny_tokenizer_dir,
        token_streams,
        max_steps=8,
        max_bad_steps=3,
        fault_injection_nan_steps=[2, 3, 4],
    )
    with pytest.raises(TrainingDiverged, match="NaN/Inf for 3 steps in a row"):
        run_pretraining(config)


def test_stage_two_starts_from_stage_one_at_constant_lr(tmp_path, tiny_tokenizer_dir, token_streams):
    from skywork.train.loop import run_pretraining

    stage1 = tiny_config(tmp_path / "s1", tiny_tokenizer_dir, token_streams, max_steps=8, eval_every=8)
    s1 = run_pretraining(stage1)
    stage2 = tiny_config(
        tmp_path / "s2",
        tiny_tokenizer_dir,
        token_streams,
        max_steps=4,
        eval_every=4,
        **{"model.init_from": str(tmp_path / "s1" / "final"), "optim.schedule": "constant", "optim.lr": 6e-5},
    )
    stage2.optim.warmup_steps = 0
    s2 = run_pretraining(stage2)
    rows = [json.loads(line) for line in (tmp_path / "s2" / "metrics.jsonl").read_text().splitlines()]
    assert {r["lr"] for r in rows if "lr" in r} == {6e-5}
    # stage 2 continues from stage 1's weights: its first loss is near stage 1's last, far below a fresh model
    assert rows[0]["loss"] < s1["final_loss"] + 0.3
    assert s2["val_loss"]["main"] < s1["val_loss"]["main"] + 0.1
    # stage 2's summary names the stage it continues; its chain plots cover both stages
    from skywork.utils.summary import read_summary

    assert s2["continues"] == [str((tmp_path / "s1").resolve())]
    assert read_summary(tmp_path / "s2", "pretrain")["continues"] == s2["continues"]
