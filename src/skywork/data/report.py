"""``skywork data report RUN_DIR``: the funnel (PNG + markdown table) and example documents per rule."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from pathlib import Path

import orjson

from skywork.utils.io import InputError, atomic_write_json, atomic_write_text, save_figure


def examples_per_reason(
    run_dir: Path, per_reason: int = 3, preview_chars: int = 300
) -> dict[str, list[dict]]:
    examples: dict[str, list[dict]] = defaultdict(list)
    for file in sorted((run_dir / "excluded").glob("*/*.jsonl.gz")):
        with gzip.open(file, "rb") as handle:
            for line in handle:
                doc = orjson.loads(line)
                reason = doc["metadata"].get("filter_reason", "unknown")
                if len(examples[reason]) < per_reason:
                    examples[reason].append(
                        {"id": doc["id"], "step": file.parent.name, "text": doc["text"][:preview_chars]}
                    )
    return dict(sorted(examples.items()))


def render_report(run_dir: str | Path, per_reason: int = 3) -> dict:
    """Writes ``report/funnel.png``, ``report/report.md`` and ``report/examples.json``; returns the paths."""
    run_dir = Path(run_dir)
    summary_path = run_dir / "summary.json"
    if not summary_path.exists():
        raise InputError("no summary.json: is this a finished `skywork data run` output directory?", run_dir)
    summary = json.loads(summary_path.read_text())
    out = run_dir / "report"
    out.mkdir(exist_ok=True)
    funnel = summary["funnel"]

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 0.5 * len(funnel) + 1.5))
    names = [row["step"] for row in funnel][::-1]
    remaining = [row["remaining"] for row in funnel][::-1]
    ax.barh(names, remaining, color="#4c72b0")
    for y, value in enumerate(remaining):
        ax.text(value, y, f" {value:,}", va="center", fontsize=9)
    ax.set_xlabel("documents remaining")
    ax.set_title(f"Pipeline funnel: {summary['input']:,} records -> {summary['kept']:,} kept")
    fig.tight_layout()
    save_figure(fig, out / "funnel.png", dpi=120)

    examples = examples_per_reason(run_dir, per_reason)
    lines = [
        "# Data pipeline report",
        "",
        f"Input records: {summary['input']:,}  ",
        f"Kept: {summary['kept']:,}  ",
        f"Balanced (input = kept + excluded): {summary['balanced']}",
        "",
        "| step | removed | remaining |",
        "|---|---:|---:|",
    ]
    for row in funnel:
        lines.append(f"| {row['step']} | {row.get('removed', '')} | {row['remaining']} |")
    lines += ["", "| step | rule | removed |", "|---|---|---:|"]
    for step, reasons in summary["excluded_by_step"].items():
        for reason, count in reasons.items():
            lines.append(f"| {step} | {reason} | {count} |")
    lines += ["", "## Examples per rule", ""]
    for reason, docs in examples.items():
        lines.append(f"### {reason}")
        for doc in docs:
            preview = doc["text"].replace("\n", " ⏎ ")[:200]
            lines.append(f"- `{doc['id']}`: {preview}")
        lines.append("")
    atomic_write_text(out / "report.md", "\n".join(lines) + "\n")
    atomic_write_json(out / "examples.json", examples)
    return {
        "png": str(out / "funnel.png"),
        "markdown": str(out / "report.md"),
        "examples": str(out / "examples.json"),
    }
