"""What a data run is worth: the removal funnel, the catch rate of planted defects, example documents per rule.

``run_pipeline`` calls :func:`plot_removed_per_step` and :func:`defect_catch_rates` for its ``summary.json``;
``skywork data report RUN_DIR`` adds the remaining-documents funnel (PNG + markdown table) and examples per rule.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter, defaultdict
from pathlib import Path

import orjson

from skywork.utils.io import InputError, atomic_write_json, atomic_write_text, read_jsonl
from skywork.utils.plotting import pyplot, save_figure


def removal_steps(summary: dict) -> list[tuple[str, int]]:
    """``(step, documents removed)`` in pipeline order, from a summary's funnel."""
    return [(row["step"], row["removed"]) for row in summary.get("funnel", []) if "removed" in row]


def plot_removed_per_step(summary: dict, path: str | os.PathLike) -> Path | None:
    """Bar chart of input, the documents each step removed, and kept (None when no step removed anything)."""
    steps = removal_steps(summary)
    if not steps:
        return None
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 0.4 * len(steps) + 1.5))
    labels = ["input", *(s for s, _ in steps), "kept"]
    values = [summary.get("input") or 0, *(c for _, c in steps), summary.get("kept") or 0]
    colors = ["#4c72b0"] + ["#dd8452"] * len(steps) + ["#55a868"]
    ax.barh(labels[::-1], values[::-1], color=colors[::-1])
    ax.set_xlabel("documents")
    ax.set_title("data funnel: documents removed per step")
    fig.tight_layout()
    return save_figure(fig, path)


def excluded_reasons(run_dir: str | os.PathLike) -> dict[str, str]:
    """id -> filter reason of every document under a run's ``excluded/`` directory."""
    from skywork.data.io import read_documents

    excluded = Path(run_dir) / "excluded"
    reasons: dict[str, str] = {}
    if not excluded.exists():
        return reasons
    for step_dir in sorted(p for p in excluded.iterdir() if p.is_dir()):
        for doc in read_documents(step_dir):
            meta = doc.get("metadata") or {}
            reasons[str(doc.get("id"))] = str(meta.get("filter_reason") or step_dir.name)
    return reasons


def defect_catch_rates(run_dir: str | os.PathLike, labels_path: str | os.PathLike, n_input: int) -> dict:
    """How many planted defects of each kind (labels ``{"id", "defect"}``) the run excluded, and by which rules
    (the three most frequent); ``clean`` is the price: unlabelled documents the rules removed too."""
    labels = list(read_jsonl(labels_path, required=("id", "defect")))
    reasons = excluded_reasons(run_dir)
    by_defect: dict[str, list[str]] = defaultdict(list)
    for row in labels:
        by_defect[row["defect"]].append(str(row["id"]))
    kinds = {}
    for defect, ids in by_defect.items():
        caught = [reasons[i] for i in ids if i in reasons]
        kinds[defect] = {
            "planted": len(ids),
            "removed": len(caught),
            "by_rule": [[rule, n] for rule, n in Counter(caught).most_common(3)],
        }
    labelled = {str(row["id"]) for row in labels}
    false_pos = Counter(r for i, r in reasons.items() if i not in labelled)
    clean = {
        "documents": n_input - len(labelled),
        "removed": sum(false_pos.values()),
        "by_rule": [[rule, n] for rule, n in false_pos.most_common(3)],
    }
    return {"labels": str(labels_path), "by_defect": kinds, "clean": clean}


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

    plt = pyplot()
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
