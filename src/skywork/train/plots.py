"""PNG plots of a run, the ones the recipe report embeds: losses, held-out losses, mixture, LR, throughput.

A stage that continues another (``model.init_from`` = an earlier run's ``final/``) draws its curves over the whole
chain: the x axis counts tokens over every stage and a dotted line marks each boundary.

``plots/``: ``train_loss.png``, ``val_loss.png`` (one colour per held-out set), ``mixture.png`` (source shares, the
stage-2 STEM ramp), ``lr.png``, ``tokens_per_s.png`` over the chain; ``loss.png`` (this stage: train + every
held-out set) and ``throughput.png`` (this stage: tokens/s and MFU per step).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from skywork.train.metrics import read_metrics
from skywork.utils.plotting import pyplot, save_figure

Series = dict[str, list[tuple[str, list[float], list[float]]]]  # key -> [(stage, xs, ys)] per stage


def plot_run(out_dir: str | Path, previous: list[Path] = ()) -> dict[str, Path]:
    """Draw every plot of the run in ``out_dir`` (after the stages in ``previous``); returns {name: png}."""
    out_dir = Path(out_dir)
    plots_dir = out_dir / "plots"
    plots_dir.mkdir(parents=True, exist_ok=True)
    stages = [(Path(d).name, read_metrics(Path(d) / "metrics.jsonl")) for d in previous]
    stages.append((out_dir.name, read_metrics(out_dir / "metrics.jsonl")))
    series, boundaries = _chain_series([(name, rows) for name, rows in stages if rows])
    plt = pyplot()
    written: dict[str, Path] = {}
    charts = [
        ("train_loss", ["loss"], "training loss", "loss"),
        ("val_loss", sorted(k for k in series if k.startswith("val:")), "validation loss per domain", "loss"),
        (
            "mixture",
            sorted(k for k in series if k.startswith("share:")),
            "mixture share per source (the stage-2 STEM ramp)",
            "share of tokens",
        ),
        ("lr", ["lr"], "learning rate", "lr"),
        ("tokens_per_s", ["tokens_per_s"], "throughput", "tokens / s"),
    ]
    for name, keys, title, ylabel in charts:
        if keys and all(series.get(k) for k in keys):
            written[name] = _chain_plot(
                plt, series, boundaries, keys, title, ylabel, plots_dir / f"{name}.png"
            )
    rows = stages[-1][1]
    if rows:
        written["loss"] = _stage_loss(plt, rows, plots_dir / "loss.png")
        written["throughput"] = _stage_throughput(plt, rows, plots_dir / "throughput.png")
    return written


def _chain_series(stages: list[tuple[str, list[dict]]]) -> tuple[Series, list[float]]:
    """Every curve per stage with x = tokens counted over the chain, and the x of each stage's end."""
    series: Series = defaultdict(list)
    offset, boundaries = 0.0, []
    for name, rows in stages:
        xs = [offset + float(r.get("tokens", r.get("step", i))) for i, r in enumerate(rows)]
        points: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for x, r in zip(xs, rows, strict=True):
            for metric in ("loss", "lr", "tokens_per_s"):
                if isinstance(r.get(metric), (int, float)):
                    points[metric].append((x, float(r[metric])))
            for domain, value in (r.get("val_loss") or {}).items():
                if isinstance(value, (int, float)):
                    points[f"val:{domain}"].append((x, float(value)))
            for source, value in (r.get("shares") or {}).items():
                if isinstance(value, (int, float)):
                    points[f"share:{source}"].append((x, value))
        for key, pts in points.items():
            series[key].append((name, [p[0] for p in pts], [p[1] for p in pts]))
        offset = xs[-1]
        boundaries.append(offset)
    return series, boundaries


def _chain_plot(plt, series: Series, boundaries, keys, title: str, ylabel: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for index, key in enumerate(keys):
        for part, (name, xs, ys) in enumerate(series[key]):
            if len(keys) > 1:  # one colour and one legend entry per domain / source, across stages
                color, label = f"C{index % 10}", key.split(":", 1)[-1] if part == 0 else None
            else:
                color, label = f"C{part % 10}", name
            ax.plot(xs, ys, label=label, color=color, linewidth=1.3)
    for b in boundaries[:-1]:
        ax.axvline(b, color="gray", linestyle=":", linewidth=1)
    ax.set(xlabel="tokens", ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return save_figure(fig, path)


def _stage_loss(plt, rows: list[dict], path: Path) -> Path:
    train = [r for r in rows if "loss" in r]
    evals = [r for r in rows if "val_loss" in r]
    fig, ax = plt.subplots(figsize=(7, 4))
    finite = [r for r in train if r["loss"] is not None]  # skipped (NaN) steps are logged as null
    ax.plot([r["tokens"] for r in finite], [r["loss"] for r in finite], label="train", alpha=0.6)
    for name in sorted({k for r in evals for k in r["val_loss"]}):
        points = [(r["tokens"], r["val_loss"][name]) for r in evals if name in r["val_loss"]]
        ax.plot(*zip(*points, strict=True), marker="o", label=f"val {name}")
    ax.set(xlabel="tokens", ylabel="loss (nats/token)", title="Pretraining loss")
    ax.legend()
    return save_figure(fig, path)


def _stage_throughput(plt, rows: list[dict], path: Path) -> Path:
    train = [r for r in rows if "loss" in r]
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot([r["step"] for r in train], [r["tokens_per_s"] for r in train], label="tokens/s")
    ax.set(xlabel="step", ylabel="tokens/s", title="Throughput")
    ax2 = ax.twinx()
    ax2.plot([r["step"] for r in train], [100 * r["mfu"] for r in train], color="tab:orange", label="MFU %")
    ax2.set_ylabel("MFU %")
    return save_figure(fig, path)


def earlier_stages(init_from: str | None) -> list[Path]:
    """Run directories this stage continues, oldest first: ``init_from``'s parent when it is a pretraining run
    (it holds metrics.jsonl), after the stages that one continued (its summary's ``continues``)."""
    from skywork.utils.io import InputError
    from skywork.utils.summary import read_summary

    if not init_from:
        return []
    parent = Path(init_from).resolve().parent
    if not (parent / "metrics.jsonl").exists():
        return []
    try:
        before = [Path(p) for p in read_summary(parent, "pretrain").get("continues", [])]
    except InputError:
        before = []
    return [*before, parent]
