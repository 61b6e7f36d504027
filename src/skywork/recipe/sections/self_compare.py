"""Report part of the ``self_compare`` stages: held-out accuracy per round, what each round sampled and built,
and examples of graded samples and comparison examples (all read from the stage's summary.json)."""

from __future__ import annotations

import html
from pathlib import Path

from skywork.recipe.render import Section
from skywork.recipe.report_parts import fmt, pct, stage_plot, stage_summary

KINDS = ("self_compare",)
ORDER = 65


def _accuracy_rows(summary: dict) -> list[list[str]]:
    rows = []
    for point in summary.get("accuracy_by_round", []):
        rows.append(
            [
                str(point["round"]) + (" (start)" if point["round"] == 0 else ""),
                fmt(point.get("n")),
                pct(point.get("accuracy")),
                pct(point.get("accuracy_en")),
                pct(point.get("accuracy_zh")),
            ]
        )
    return rows


def _round_rows(summary: dict) -> list[list[str]]:
    rows = []
    for r in summary.get("rounds", []):
        data, train = r.get("data", {}), r.get("train", {})
        rows.append(
            [
                str(r["round"]),
                r.get("prompt_format", ""),
                fmt(r.get("problems")),
                fmt(r.get("samples")),
                pct(r.get("correct_share")),
                fmt(data.get("correct_examples")),
                fmt(data.get("comparison_examples")),
                fmt(data.get("duplicates_removed")),
                fmt(r.get("unparsable_steps")),
                fmt(train.get("steps")),
                fmt(train.get("final_loss")),
            ]
        )
    return rows


def _examples(name: str, summary: dict) -> list:
    blocks = []
    last = (summary.get("rounds") or [{}])[-1]
    for i, example in enumerate(last.get("graded_examples", [])):
        verdict = (
            "correct"
            if example["correct"]
            else f"wrong ({example['reason']}, step {example['first_wrong_step']})"
        )
        text = f"{example['solution']}\n\n-> answer {example['answer']}, gold {example['gold']}: {verdict}"
        if example.get("explanation"):
            text += f"\n   {example['explanation']}"
        blocks.append(("details", (f"{name}: graded sample {i + 1} ({example['lang']}, {verdict})", text)))
    for i, example in enumerate(last.get("comparison_examples", [])):
        text = f"PROMPT\n{example['instruction']}\n\nTARGET\n{example['output']}"
        blocks.append(("details", (f"{name}: comparison example {i + 1} ({example.get('lang', '')})", text)))
    return blocks


def section(ctx, names: list[str], img_dir: Path) -> Section | None:
    blocks: list = []
    for name in names:
        summary = stage_summary(ctx, name, "self_compare")
        if summary is None:
            continue
        blocks.append(
            (
                "p",
                f"<code>{html.escape(name)}</code>: self-compare fine-tuning from "
                f"<code>{html.escape(str(summary.get('start_model')))}</code>, {summary.get('k')} samples per "
                f"problem, comparison share {summary.get('mix_ratio')}, format "
                f"<code>{html.escape(str(summary.get('prompt_format')))}</code> (docs/math.md).",
            )
        )
        if summary.get("accuracy_by_round"):
            header = ["round", "held-out problems", "accuracy", "en", "zh"]
            blocks.append(("table", (header, _accuracy_rows(summary))))
        header = [
            "round",
            "format",
            "problems",
            "samples",
            "correct",
            "SFT targets",
            "comparisons",
            "duplicates",
            "unparsable steps",
            "SFT steps",
            "final loss",
        ]
        blocks.append(("table", (header, _round_rows(summary))))
        plot = stage_plot(ctx, name, summary, "accuracy", "held-out accuracy per round")
        if plot:
            blocks.append(plot)
        blocks.extend(_examples(name, summary))
    return Section("Self-compare fine-tuning (SkyMath)", blocks) if blocks else None
