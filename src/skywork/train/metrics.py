"""What a run measures: the metrics.jsonl / TensorBoard / wandb writer, throughput and MFU, the run's totals.

MFU = train FLOPs per token (``skywork.model.flops_per_token``) x tokens/s / (bf16 matmul FLOP/s measured at the
start of the same run on the same device x world size), the PaLM / Megatron convention (matmul FLOPs only).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from skywork.train.config import PretrainConfig
from skywork.train.runtime import synchronize
from skywork.utils.config import to_dict
from skywork.utils.io import atomic_write_text, read_jsonl

log = logging.getLogger("skywork.train")


class MetricsLog:
    """metrics.jsonl (append, flushed per row) + optional TensorBoard / wandb, main process only."""

    def __init__(self, out_dir: Path, enabled: bool, config: PretrainConfig, resume_step: int):
        self.enabled = enabled
        self.path = out_dir / "metrics.jsonl"
        self.tb = self.wandb = None
        if not enabled:
            return
        # A killed run may have logged steps past its last checkpoint: drop them, they will be redone.
        if self.path.exists():
            kept = [
                line
                for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line)["step"] <= resume_step
            ]
            atomic_write_text(self.path, "".join(line + "\n" for line in kept))
        self.handle = self.path.open("a", encoding="utf-8")
        if config.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out_dir / "tensorboard"), purge_step=resume_step + 1)
            except ImportError:
                log.warning(
                    "tensorboard is not installed; skipping TensorBoard logs (pip install tensorboard)"
                )
        if config.wandb:
            try:
                import wandb

                self.wandb = wandb.init(
                    project="skywork",
                    dir=str(out_dir),
                    config=to_dict(config),
                    mode="offline",
                    resume="allow",
                )
            except ImportError:
                log.warning("wandb is not installed; skipping wandb logging")

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        # NaN/Inf (a skipped step) are written as null so the file stays strict JSON
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        self.handle.write(json.dumps(clean) + "\n")
        self.handle.flush()
        scalars = {k: v for k, v in clean.items() if isinstance(v, (int, float)) and k != "step"}
        for name, value in row.get("val_loss", {}).items():
            scalars[f"val_loss/{name}"] = value
        for name, value in row.get("shares", {}).items():
            scalars[f"share/{name}"] = value
        if self.tb is not None:
            for key, value in scalars.items():
                self.tb.add_scalar(key, value, row["step"])
        if self.wandb is not None:
            self.wandb.log(scalars, step=row["step"])

    def close(self) -> None:
        if not self.enabled:
            return
        self.handle.close()
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()


_PEAK_CACHE: dict[str, float] = {}


def measure_matmul_peak(device: torch.device, size: int = 2048, seconds: float = 0.3) -> float:
    """bf16 matmul FLOP/s on this device, measured now (MFU's denominator, as the bench and report use).

    The best of several short windows, so a moment of contention on a shared machine does not lower the peak.
    """
    key = str(device)
    if key in _PEAK_CACHE:
        return _PEAK_CACHE[key]
    own = torch.Generator(device=device).manual_seed(0)  # leave the global RNG (dropout, resume) untouched
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16, generator=own)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16, generator=own)
    for _ in range(2):
        a @ b
    synchronize(device)
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline or best == 0.0:
        start = time.perf_counter()
        for _ in range(3):
            a @ b
        synchronize(device)
        best = max(best, 3 * 2 * size**3 / (time.perf_counter() - start))
    _PEAK_CACHE[key] = best
    return best


class Throughput:
    """Tokens/s and MFU per step; the run's figure is the median over the second half (after warm-up/compile)."""

    def __init__(self, tokens_per_step: int, flops_per_token: float, peak_flops: float):
        self.tokens_per_step, self.flops_per_token, self.peak_flops = (
            tokens_per_step,
            flops_per_token,
            peak_flops,
        )
        self.rates: list[float] = []
        self.mfus: list[float] = []

    def record(self, seconds: float) -> tuple[float, float]:
        """(tokens/s, MFU) of a step that took ``seconds``."""
        tokens_per_s = self.tokens_per_step / seconds
        mfu = self.flops_per_token * tokens_per_s / self.peak_flops
        self.rates.append(tokens_per_s)
        self.mfus.append(mfu)
        return tokens_per_s, mfu

    def median_tokens_per_s(self) -> float:
        return float(np.median(self.rates[len(self.rates) // 2 :] or [0.0]))

    def median_mfu(self) -> float:
        return float(np.median(self.mfus[len(self.mfus) // 2 :] or [0.0]))


def read_metrics(path: Path) -> list[dict]:
    """The rows of a metrics.jsonl (empty when the run logged nothing yet)."""
    return [row for row in read_jsonl(path) if isinstance(row, dict)] if path.exists() else []


def history_totals(rows: list[dict]) -> dict:
    """What the whole metrics.jsonl says (every attempt of a resumed run): the summary's history keys."""
    losses = [r["loss"] for r in rows if isinstance(r.get("loss"), (int, float))]
    rates = [r["tokens_per_s"] for r in rows if isinstance(r.get("tokens_per_s"), (int, float))]
    last_val: dict[str, float] = {}
    for row in rows:
        last_val.update(
            {k: float(v) for k, v in (row.get("val_loss") or {}).items() if isinstance(v, (int, float))}
        )
    return {
        "last_train_loss": losses[-1] if losses else None,
        "last_val_loss": last_val,
        "mean_tokens_per_s": sum(rates) / len(rates) if rates else None,
        "logged_steps": len(rates),
    }
