"""The report's long-context part: RoPE extension, CIP data, long-context training and the needle before/after.

Every figure comes from the stages' own ``summary.json`` and every image is the one the stage drew (the needle
heatmaps of ``skywork.eval.needle``, the loss-by-position plot of ``skywork.eval.position_loss``).
"""

from __future__ import annotations

from pathlib import Path

from skywork.recipe.render import Block, Section
from skywork.recipe.report_parts import fmt, pct, stage_plot, stage_summary

KINDS = ("longctx_extend", "cip", "long_cpt", "synl", "longctx_eval")
ORDER = 70


def _preparation(ctx, names: list[str]) -> list[Block]:
    """One table row per extension / data / training stage."""
    rows = []
    for name in names:
        summary = stage_summary(ctx, name)
        if summary is None:
            continue
        kind = summary.get("kind")
        if kind == "longctx_extend":
            what = (
                f"RoPE {summary['method']} x{fmt(summary['factor'])} from {fmt(summary['original_length'])} "
                f"tokens: max_position_embeddings {fmt(summary['max_position_embeddings'])}"
            )
        elif kind == "cip":
            samples = summary.get("samples", {})
            what = (
                f"{fmt(samples.get('cip'))} interleaved samples (mean {fmt(summary.get('mean_cip_sample_tokens'))} "
                f"tokens) + {fmt(samples.get('long'))} natural long documents, {fmt(summary.get('total_tokens'))} tokens"
            )
        elif kind == "long_cpt":
            what = (
                f"{fmt(summary.get('steps'))} steps, {fmt(summary.get('tokens'))} tokens, final loss "
                f"{fmt(summary.get('final_loss'))}, {fmt(summary.get('tokens_per_s'))} tokens/s, activation "
                f"checkpointing {summary.get('activation_checkpointing')}, context parallel "
                f"{summary.get('context_parallel')}"
            )
        elif kind == "synl":
            counts = {split: sum(k.values()) for split, k in summary.get("questions", {}).items()}
            what = (
                f"SynL tables of {', '.join(map(str, summary.get('lengths', [])))} tokens: "
                f"{fmt(counts.get('train'))} train / {fmt(counts.get('heldout'))} held-out questions"
                + (
                    f", + {fmt(summary['standard_rows'])} standard SFT rows"
                    if summary.get("standard_rows")
                    else ""
                )
            )
        else:
            continue
        rows.append([name, kind, what])
    return [("table", (["stage", "kind", "what it did"], rows))] if rows else []


def _evaluation(ctx, name: str, summary: dict) -> list[Block]:
    models = summary.get("models", {})
    blocks: list[Block] = []
    lengths = sorted(
        {int(n) for m in models.values() for n in m.get("needle", {}).get("accuracy_by_length", {})}
    )
    if lengths:
        rows = [
            [label, fmt(m.get("max_position_embeddings"))]
            + [pct(m["needle"]["accuracy_by_length"].get(str(n))) for n in lengths]
            + [pct(m["needle"]["accuracy"])]
            for label, m in models.items()
            if "needle" in m
        ]
        header = ["model", "max positions", *(f"{n} tok" for n in lengths), "mean"]
        blocks.append(("p", f"Needle in a haystack (<code>{name}</code>): accuracy by context length."))
        blocks.append(("table", (header, rows)))
        for label in models:
            plot = f"needle-{label}"
            block = stage_plot(ctx, name, summary, plot, f"needle heatmap: {label}")
            if block is not None:
                blocks.append(block)
    table_models = {label: m["longtable"] for label, m in models.items() if "longtable" in m}
    if table_models:
        kinds = sorted({k for t in table_models.values() for k in t.get("by_kind", {})})
        rows = [
            [label, fmt(t.get("questions"))]
            + [pct(t["by_kind"].get(k, {}).get("accuracy")) for k in kinds]
            + [pct(t.get("accuracy"))]
            for label, t in table_models.items()
        ]
        blocks.append(("p", "SynL held-out accuracy by question kind (greedy, the value in the answer)."))
        blocks.append(("table", (["model", "questions", *kinds, "all"], rows)))
    block = stage_plot(ctx, name, summary, "position_loss", "next-token loss by position")
    if block is not None:
        rows = [
            [label, fmt(m["position_loss"].get("trained_length")), fmt(m["position_loss"].get("mean_loss_within_trained")),
             fmt(m["position_loss"].get("mean_loss_beyond_trained"))]
            for label, m in models.items()
            if "position_loss" in m
        ]  # fmt: skip
        blocks.append(("p", "Loss by position: does it keep falling past the trained length?"))
        blocks.append(("table", (["model", "trained length", "mean loss within", "mean loss beyond"], rows)))
        blocks.append(block)
    return blocks


def section(ctx, names: list[str], img_dir: Path) -> Section | None:
    blocks = _preparation(ctx, names)
    for name in names:
        if ctx.recipe.stage(name).kind == "longctx_eval":
            summary = stage_summary(ctx, name, "longctx_eval")
            if summary is not None:
                blocks += _evaluation(ctx, name, summary)
    if not blocks:
        return None
    intro: Block = (
        "p",
        "LongSkywork's stages (docs/longctx.md): RoPE scaling, chunk-interleaved continued pretraining, the long "
        "SFT on synthetic lengthy tables, and the long-context evaluations.",
    )
    return Section("Long context", [intro, *blocks])
