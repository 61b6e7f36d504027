"""Report part of the serving stages: the int8 memory / quality table (``quantize``) and the serving smoke
check (``serve_check``). Both only lay out what the stages wrote in their ``summary.json``."""

from __future__ import annotations

from pathlib import Path

from skywork.recipe.render import Section
from skywork.recipe.report_parts import fmt, stage_summary

KINDS = ("quantize", "serve_check")
ORDER = 75


def _mib(value: int | None) -> str:
    return "–" if value is None else f"{value / 2**20:,.1f}"


def _quantize_blocks(summary: dict, name: str) -> list:
    rows = summary.get("rows", [])
    base = next((r for r in rows if r["variant"] == "bf16"), None)
    header = ["variant", "weights MiB", "peak RSS loading MiB", "peak RSS loading + eval MiB", "domain loss",
              "vs bf16", "MCQ accuracy"]  # fmt: skip
    table_rows = []
    for row in rows:
        change = (row["domain_loss"] - base["domain_loss"]) / base["domain_loss"] if base else None
        acc = f"{100 * row['mcq_accuracy']:.1f}% (n={row['mcq_n']})" if "mcq_accuracy" in row else "–"
        table_rows.append(
            [row["variant"], _mib(row.get("weight_bytes")), _mib(row.get("load_peak_rss_bytes")),
             _mib(row.get("peak_rss_bytes")), fmt(row["domain_loss"]),
             "–" if change is None else f"{100 * change:+.2f}%", acc]
        )  # fmt: skip
    ratio = summary.get("int8_vs_bf16", {})
    domains = ", ".join(summary.get("domains", []))
    text = (
        f"Stage <code>{name}</code> quantized <code>{summary.get('model')}</code> to int8 weight-only "
        f"(per-channel symmetric; embeddings, norms and the head stay bf16) in {fmt(summary.get('quantize_s'), 3)} s. "
        f"Each variant was loaded and evaluated in its own process: weights are the stored tensors, the peaks "
        f"are resident memory added while loading and while scoring {summary.get('max_docs')} documents per "
        f"domain ({domains}). int8 weights are {fmt(ratio.get('weight_ratio'), 3)}x bf16; the domain loss "
        f"moved {100 * ratio.get('loss_change', float('nan')):+.2f}% (goal: within 1%)."
    )
    meta = [
        [row["model"], f"{row['bf16_gib']:.2f}", f"{row['int8_gib']:.2f}", f"{row['ratio']:.3f}"]
        for row in summary.get("meta_rows", [])
    ]
    return [
        ("p", text),
        ("table", (header, table_rows)),
        (
            "p",
            "Weight memory computed on the meta device (GiB; the official README prints GB but means GiB):",
        ),
        ("table", (["model", "bf16 GiB", "int8 GiB", "ratio"], meta)),
    ]


def _serve_blocks(summary: dict, name: str) -> list:
    usage = summary.get("usage", {})
    verdict = "passed" if summary.get("ok") else "FAILED"
    text = (
        f"Stage <code>{name}</code> ({verdict}): the {summary.get('engine')} server started in "
        f"{fmt(summary.get('start_s'), 3)} s (health {summary.get('health_status')}), answered one chat request "
        f"sent with the official <code>openai</code> client in {fmt(summary.get('request_s'), 3)} s and stopped. "
        f"Prompt tokens {usage.get('prompt_tokens')} (the official chat encoding gives "
        f"{summary.get('prompt_tokens_expected')}), {usage.get('completion_tokens')} completion tokens, finish "
        f"reason <code>{summary.get('finish_reason')}</code>."
    )
    request = summary.get("request", {})
    message = (request.get("messages") or [{}])[-1].get("content", "")
    exchange = f"user: {message}\nassistant: {summary.get('reply')}"
    return [("p", text), ("details", ("the request and the reply", exchange))]


def section(ctx, names: list[str], img_dir: Path) -> Section | None:
    blocks: list = []
    for name in names:
        summary = stage_summary(ctx, name)
        if summary is None or summary.get("kind") not in KINDS:
            continue
        if summary["kind"] == "quantize":
            blocks += _quantize_blocks(summary, name)
        else:
            blocks += _serve_blocks(summary, name)
    return Section("Serving and int8", blocks) if blocks else None
