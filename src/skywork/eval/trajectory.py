"""The capability trajectory of a pretraining run: every milestone checkpoint through the eval suite, each metric
plotted against tokens (report Fig. 3; the official release keeps checkpoints at 500B, 1T, ... 3.1T tokens).

``skywork eval trajectory RUN_DIR [--suite SUITE.yaml]`` and the recipe stage kind ``trajectory`` call
:func:`run_trajectory`. The models are the run's ``milestones/tokens-*/model`` (written when the pretraining
config sets ``milestone_tokens``) and, with ``include_final``, ``final/`` at the run's last token count. Each one
is evaluated by :func:`skywork.eval.suite.run_suite` (domain loss, MCQ and GSM8K as configured; without domains
the run's own validation sets) into ``OUT/points/<label>/``; a point whose model and suite did not change is
read back, so an interrupted trajectory resumes. ``OUT`` then holds:

- ``trajectory.json``: ``{"run", "points": [{"label", "tokens", "step", "model_dir", "metrics": {name: value}}],
  "metrics": [names]}``, metric names ``loss/<domain>``, ``loss/pooled``, ``bits_per_char/pooled``,
  ``<bench>/accuracy`` (C-Eval, CMMLU, MMLU) and ``gsm8k/accuracy``;
- ``trajectory.png``: one panel per metric against tokens;
- ``summary.json`` (kind ``trajectory``): the same payload and the plot, for the recipe report.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from skywork.eval.suite import SuiteConfig
from skywork.utils.config import field
from skywork.utils.io import InputError, atomic_write_json

SUMMARY_KIND = "trajectory"


@dataclass
class TrajectoryConfig(SuiteConfig):
    """The eval suite's keys (without models: the run's milestones are the models) plus the run to follow."""

    models: dict[str, str] = field(
        default_factory=dict, help="Not set here: the models are the run's milestones (and final/)."
    )
    run: str = field("", help="Pretraining output directory holding milestones/ (and final/, config.yaml).")
    include_final: bool = field(True, help="Add final/ as the last point (at the run's total tokens).")

    def validate(self) -> None:
        super().validate()
        if not self.run:
            raise InputError("the pretraining run directory is required", field="run")
        if self.models:
            raise InputError("the models are the run's milestones; leave models unset", field="models")


def load_suite(path: str | Path, run: str | Path) -> TrajectoryConfig:
    """A suite YAML (``models`` may be missing and is ignored) as the trajectory config of ``run``."""
    import yaml

    from skywork.utils.config import from_dict

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise InputError(f"invalid YAML ({err})", path) from None
    if not isinstance(data, dict):
        raise InputError("expected a mapping of suite keys", path)
    data = {k: v for k, v in data.items() if k != "models"}
    data["run"] = str(run)
    return from_dict(TrajectoryConfig, data, source=str(path))


def trajectory_points(run_dir: Path, include_final: bool = True) -> list[dict]:
    """The models to evaluate, fewest tokens first: milestones, then final/ (when present and asked for)."""
    from skywork.train.checkpoint import list_milestones

    points = [
        {
            "label": _token_label(m["tokens"]),
            "tokens": m["tokens"],
            "step": m["step"],
            "model_dir": m["model_dir"],
        }
        for m in list_milestones(run_dir)
    ]
    final = run_dir / "final"
    if include_final and (final / "config.json").exists():
        summary_file = run_dir / "summary.json"
        info = json.loads(summary_file.read_text()) if summary_file.exists() else {}
        tokens = info.get("tokens")
        if tokens is not None and not any(p["tokens"] == tokens for p in points):
            points.append(
                {"label": "final", "tokens": tokens, "step": info.get("steps"), "model_dir": str(final)}
            )
    return points


def _token_label(tokens: int) -> str:
    for unit, size in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if tokens >= size:
            return f"{tokens / size:.4g}{unit}"
    return str(tokens)


def _default_domains(run_dir: Path) -> dict[str, str]:
    """The run's own validation sets (``config.yaml`` -> ``data.validation``), when the suite names no domains."""
    import yaml

    config_file = run_dir / "config.yaml"
    if not config_file.exists():
        return {}
    config = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    validation = (config.get("data") or {}).get("validation") or {}
    if not isinstance(validation, dict):
        return {}
    # JSONL files only: a validation entry may also be a token stream directory, which the suite cannot read.
    return {str(k): str(v) for k, v in validation.items() if Path(str(v)).is_file()}


def point_metrics(model_summary: dict) -> dict[str, float]:
    """The plotted figures of one model's entry in the suite's summary.json."""
    metrics: dict[str, float] = {}
    for name, entry in (model_summary.get("domains") or {}).items():
        metrics[f"loss/{name}"] = entry["loss"]
    pooled = model_summary.get("pooled")
    if pooled:
        metrics["loss/pooled"] = pooled["loss"]
        if pooled.get("bits_per_char") is not None:
            metrics["bits_per_char/pooled"] = pooled["bits_per_char"]
    for name, entry in (model_summary.get("benchmarks") or {}).items():
        metrics[f"{name}/accuracy"] = entry["accuracy"]
    if model_summary.get("gsm8k"):
        metrics["gsm8k/accuracy"] = model_summary["gsm8k"]["accuracy"]
    return metrics


def run_trajectory(config: TrajectoryConfig, out_dir: str | Path, console=None) -> dict:
    """Evaluate every milestone of ``config.run`` and write trajectory.json, trajectory.png and summary.json."""
    from rich.console import Console

    from skywork.eval.suite import check_inputs, run_suite
    from skywork.utils.digest import json_digest
    from skywork.utils.summary import write_summary

    console = console or Console()
    config.validate()
    run_dir = Path(config.run)
    if not run_dir.is_dir():
        raise InputError("pretraining run directory not found", run_dir, field="run")
    points = trajectory_points(run_dir, config.include_final)
    if not points:
        raise InputError(
            "no milestones/ (set milestone_tokens in the pretraining config) and no final/ model", run_dir
        )
    domains = config.domains or _default_domains(run_dir)
    if not (domains or config.mcq or config.gsm8k):
        raise InputError("nothing to evaluate: no domains, mcq or gsm8k (and no validation sets in the run)")
    out_dir = Path(out_dir)
    for point in points:
        suite = _suite_for(config, domains, point)
        check_inputs(suite)
        suite_keys = {k: v for k, v in asdict(suite).items() if k != "models"}
        fingerprint = json_digest({"suite": suite_keys, "model": _model_digest(Path(point["model_dir"]))})
        point_dir = out_dir / "points" / point["label"]
        summary_file = point_dir / "summary.json"
        cached = json.loads(summary_file.read_text()) if summary_file.exists() else {}
        if cached.get("trajectory_fingerprint") != fingerprint:
            console.print(f"trajectory point {point['label']} ({point['tokens']:,} tokens)")
            run_suite(suite, point_dir, console=console)
            cached = json.loads(summary_file.read_text())
            cached["trajectory_fingerprint"] = fingerprint
            atomic_write_json(summary_file, cached)
        point["metrics"] = point_metrics(cached["models"][point["label"]])
    names = list(dict.fromkeys(name for p in points for name in p["metrics"]))  # domains in config order
    payload: dict[str, Any] = {"run": str(run_dir), "points": points, "metrics": names}
    atomic_write_json(out_dir / "trajectory.json", payload)
    plot = plot_trajectory(payload, out_dir / "trajectory.png")
    summary = write_summary(out_dir, SUMMARY_KIND, payload, plots={"trajectory": plot})
    return {**payload, "summary": str(summary)}


def _model_digest(model_dir: Path) -> str:
    """A milestone's manifest already holds every file's sha256 (cheap to hash); final/ is read in full."""
    from skywork.utils.digest import directory_digest, file_sha256

    manifest = model_dir.parent / "manifest.json"
    return file_sha256(manifest) if manifest.exists() else directory_digest(model_dir)


def _suite_for(config: TrajectoryConfig, domains: dict[str, str], point: dict) -> SuiteConfig:
    keys = {f: getattr(config, f) for f in SuiteConfig.__dataclass_fields__ if f != "models"}
    return SuiteConfig(**{**keys, "domains": domains, "models": {point["label"]: point["model_dir"]}})


def plot_trajectory(payload: dict, path: Path) -> Path:
    """One panel per metric: its value at each point against tokens (losses: lower is better)."""
    from skywork.utils.plotting import pyplot, save_figure

    plt = pyplot()
    names = payload["metrics"]
    cols = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        xs = [p["tokens"] for p in payload["points"] if name in p["metrics"]]
        ys = [p["metrics"][name] for p in payload["points"] if name in p["metrics"]]
        ax.plot(xs, ys, marker="o")
        ax.set_title(name)
        ax.set_xlabel("tokens")
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.suptitle(f"capability trajectory: {Path(payload['run']).name}")
    fig.tight_layout()
    return save_figure(fig, path)


def run_trajectory_command(run_dir: Path, suite: Path | None, out_dir: Path, console) -> dict:
    """``skywork eval trajectory``: a clear message and exit code 2 on bad input."""
    import typer

    try:
        config = load_suite(suite, run_dir) if suite else TrajectoryConfig(run=str(run_dir))
        return run_trajectory(config, out_dir, console=console)
    except InputError as error:
        console.print(f"[red]trajectory of {run_dir}[/red]: {error}")
        raise typer.Exit(2) from None


def print_trajectory(result: dict, console) -> None:
    from rich.table import Table

    table = Table("point", "tokens", *result["metrics"], title="capability trajectory")
    for point in result["points"]:
        cells = [f"{point['metrics'][m]:.4f}" if m in point["metrics"] else "" for m in result["metrics"]]
        table.add_row(point["label"], f"{point['tokens']:,}", *cells)
    console.print(table)
    console.print(f"[dim]summary and trajectory.png in {Path(result['summary']).parent}[/dim]")
