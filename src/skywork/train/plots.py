"""PNG plots of a run for the recipe report: losses (train + every held-out set), learning rate, throughput."""

from __future__ import annotations

import json
from pathlib import Path

from skywork.utils.io import save_figure


def plot_metrics(metrics_file: str | Path, out_dir: str | Path) -> list[Path]:
    """Write loss.png, lr.png and throughput.png from metrics.jsonl; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(metrics_file).read_text().splitlines() if line.strip()]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    train = [r for r in rows if "loss" in r]
    evals = [r for r in rows if "val_loss" in r]
    written = []

    fig, ax = plt.subplots(figsize=(7, 4))
    finite = [r for r in train if r["loss"] is not None]  # skipped (NaN) steps are logged as null
    ax.plot([r["tokens"] for r in finite], [r["loss"] for r in finite], label="train", alpha=0.6)
    for name in sorted({k for r in evals for k in r["val_loss"]}):
        points = [(r["tokens"], r["val_loss"][name]) for r in evals if name in r["val_loss"]]
        ax.plot(*zip(*points, strict=True), marker="o", label=f"val {name}")
    ax.set(xlabel="tokens", ylabel="loss (nats/token)", title="Pretraining loss")
    ax.legend()
    ax.grid(alpha=0.3)
    written.append(save_figure(fig, out_dir / "loss.png"))

    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot([r["step"] for r in train], [r["lr"] for r in train])
    ax.set(xlabel="step", ylabel="learning rate", title="Learning-rate schedule")
    ax.grid(alpha=0.3)
    written.append(save_figure(fig, out_dir / "lr.png"))

    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot([r["step"] for r in train], [r["tokens_per_s"] for r in train], label="tokens/s")
    ax.set(xlabel="step", ylabel="tokens/s", title="Throughput")
    ax2 = ax.twinx()
    ax2.plot([r["step"] for r in train], [100 * r["mfu"] for r in train], color="tab:orange", label="MFU %")
    ax2.set_ylabel("MFU %")
    ax.grid(alpha=0.3)
    written.append(save_figure(fig, out_dir / "throughput.png"))

    shares = [r for r in train if r.get("shares")]
    if shares and len(shares[0]["shares"]) > 1:
        fig, ax = plt.subplots(figsize=(7, 3))
        for name in shares[0]["shares"]:
            ax.plot([r["tokens"] for r in shares], [r["shares"][name] for r in shares], label=name)
        ax.set(xlabel="tokens", ylabel="sampling share", title="Mixture schedule")
        ax.legend()
        ax.grid(alpha=0.3)
        written.append(save_figure(fig, out_dir / "mixture.png"))
    return written
