"""The micro recipe end to end as a real `skywork recipe run` process, uninterrupted and killed + rerun.

The killed run gets SIGKILL while stage-1 pretraining runs (right after its first checkpoint appears), so the
stage's state is left as "running" with no chance to clean up. The rerun must skip every finished stage, resume
pretraining from the checkpoint (skywork.train's exact resume: model, optimizer, scheduler, sampler and RNG
state) and end with bit-identical weights and the same evaluation results as the uninterrupted run (fp32).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

MICRO = Path(__file__).resolve().parents[2] / "recipes" / "micro.yaml"
TIMING_KEYS = {"seconds", "tokens_per_s"}


def _command(run_dir: Path) -> list[str]:
    return [sys.executable, "-m", "skywork.cli", "recipe", "run", str(MICRO), "--output", str(run_dir)]


def _env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONHASHSEED="0", COLUMNS="200")


def _run(run_dir: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(_command(run_dir), env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _squeeze(text: str) -> str:
    """Console output without whitespace, so rich's line wrapping cannot split what a test looks for."""
    return "".join(text.split())


def _state(run_dir: Path, stage: str) -> dict:
    return json.loads((run_dir / ".recipe" / f"{stage}.json").read_text())


def _without_timing(value, run_dir: Path):
    """Evaluation results with wall-clock figures dropped and the run directory written as $RUN_DIR."""
    if isinstance(value, dict):
        return {
            k.replace(str(run_dir), "$RUN_DIR"): _without_timing(v, run_dir)
            for k, v in value.items()
            if k not in TIMING_KEYS
        }
    if isinstance(value, list):
        return [_without_timing(v, run_dir) for v in value]
    if isinstance(value, str):
        return value.replace(str(run_dir), "$RUN_DIR")
    return value


def _assert_same_model(a: Path, b: Path) -> None:
    tensors_a, tensors_b = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert tensors_a.keys() == tensors_b.keys()
    for name, tensor in tensors_a.items():
        assert tensor.equal(tensors_b[name]), f"{name} differs between {a} and {b}"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[Path, str]:
    run_dir = tmp_path_factory.mktemp("micro") / "run"
    proc = _run(run_dir)
    return run_dir.resolve(), proc.stdout


def test_micro_recipe_runs_end_to_end(uninterrupted):
    run_dir, stdout = uninterrupted
    stages = ("corpus", "data", "tokenizer", "tokenize", "pretrain_stage1", "pretrain_stage2", "evaluate")
    for stage in (*stages, "report"):
        assert _state(run_dir, stage)["status"] == "done", stage
        assert (run_dir / "logs" / f"{stage}.log").stat().st_size > 0
    assert _squeeze(f"report: {run_dir / 'report.html'}") in _squeeze(stdout)
    html = (run_dir / "report.html").read_text()
    for image in ("data_funnel", "train_loss", "val_loss", "lr", "tokens_per_s", "time_per_stage"):
        assert (run_dir / "report" / f"{image}.png").stat().st_size > 1000, image
        assert f'src="report/{image}.png"' in html
    assert (run_dir / "report.md").exists()
    results = json.loads((run_dir / "evaluate" / "results.json").read_text())
    assert set(results) == {"stage-1", "stage-2"}
    for entry in results.values():
        assert set(entry["leakage"]) >= {"L_train", "L_test", "L_ref"}
        assert len(entry["domain_loss"]["files"]) == 4
    # stage 2 saw the STEM share ramp from 10% towards 40%
    rows = [
        json.loads(line) for line in (run_dir / "pretrain_stage2" / "metrics.jsonl").read_text().splitlines()
    ]
    stem = [r["shares"]["stem"] for r in rows if "shares" in r]
    assert stem[0] < 0.15 and stem[-1] > 0.3


def test_killed_during_pretraining_then_rerun_matches_uninterrupted(uninterrupted, tmp_path):
    reference, _ = uninterrupted
    run_dir = (tmp_path / "run").resolve()
    checkpoints = run_dir / "pretrain_stage1" / "checkpoints"
    proc = subprocess.Popen(_command(run_dir), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    try:
        while not (checkpoints.exists() and any(checkpoints.glob("step-*"))):
            assert proc.poll() is None, proc.stdout.read().decode()[-3000:]
            assert time.time() < deadline, "no stage-1 checkpoint appeared"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    killed = _state(run_dir, "pretrain_stage1")
    assert killed["status"] == "running" and not (run_dir / "pretrain_stage1" / "final").exists()
    assert not (run_dir / ".recipe" / "pretrain_stage2.json").exists()

    rerun = _squeeze(_run(run_dir).stdout)
    for stage in ("corpus", "data", "tokenizer", "tokenize"):
        assert _squeeze(f"{stage}: up to date, skipped") in rerun, stage
        assert _state(run_dir, stage)["attempts"] == 1
    assert _squeeze("pretrain_stage1 (pretrain) — resuming") in rerun
    resumed = _state(run_dir, "pretrain_stage1")
    assert resumed["status"] == "done" and resumed["attempts"] == 2
    assert "resumed from" in (run_dir / "logs" / "pretrain_stage1.log").read_text()

    for stage in ("pretrain_stage1", "pretrain_stage2"):
        _assert_same_model(reference / stage / "final", run_dir / stage / "final")
    same_results = [json.loads((d / "evaluate" / "results.json").read_text()) for d in (reference, run_dir)]
    assert _without_timing(same_results[0], reference) == _without_timing(same_results[1], run_dir)
    assert (run_dir / "report.html").exists() and (run_dir / "report" / "val_loss.png").exists()


def test_sigterm_during_cleaning_stops_cleanly_and_names_the_stage(tmp_path):
    """SIGTERM while the data stage's forked datatrove workers run: exit 130, the stage named, state
    'interrupted', earlier stages kept, and no process of the run left behind."""
    run_dir = (tmp_path / "run").resolve()
    proc = subprocess.Popen(
        _command(run_dir), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.time() + 120
    state_file = run_dir / ".recipe" / "data.json"
    try:
        while not (state_file.exists() and any((run_dir / "data").rglob("*"))):
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
            assert time.time() < deadline, "the data stage did not start"
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    if _state(run_dir, "data")["status"] == "done":
        pytest.skip("the data stage finished before SIGTERM arrived")  # a very fast machine
    assert proc.returncode == 130, stderr.decode()[-3000:]
    assert "interrupted" in stderr.decode() and "'data'" in stderr.decode()
    assert _state(run_dir, "data")["status"] == "interrupted"
    assert _state(run_dir, "corpus")["status"] == "done"
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):  # every process of the run's session has exited
        os.killpg(proc.pid, 0)
