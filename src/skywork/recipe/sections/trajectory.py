"""Report part of the ``trajectory`` stages: each milestone's figures against tokens, and the stage's own plot."""

from __future__ import annotations

from pathlib import Path

from skywork.recipe.render import Section
from skywork.recipe.report_parts import fmt, stage_plot, stage_summary

KINDS = ("trajectory",)
ORDER = 55


def section(ctx, names: list[str], img_dir: Path) -> Section | None:
    blocks: list = []
    for name in names:
        summary = stage_summary(ctx, name, "trajectory")
        if not summary or not summary.get("points"):
            continue
        metrics = summary["metrics"]
        points = summary["points"]
        blocks.append(
            (
                "p",
                f"Stage <code>{name}</code> evaluated {len(points)} checkpoints of <code>{Path(summary['run']).name}"
                "</code> (its token milestones, kept beside the rolling checkpoints and never pruned, and the final "
                "model) with the eval suite, as the report's Fig. 3 follows the released 500B ... 3.1T checkpoints. "
                "Losses are nats per token on held-out text (lower is better).",
            )
        )
        rows = [
            [p["label"], fmt(p["tokens"]), fmt(p.get("step")), *(fmt(p["metrics"].get(m)) for m in metrics)]
            for p in points
        ]
        blocks.append(("table", (["checkpoint", "tokens", "step", *metrics], rows)))
        image = stage_plot(ctx, name, summary, "trajectory", f"{name}: metrics against tokens")
        if image is not None:
            blocks.append(image)
    return Section("Capability trajectory", blocks) if blocks else None
