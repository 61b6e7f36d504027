"""The report's fine-tuning part: SFT curves and data counts, and the chat evaluation before and after SFT.

Everything comes from what the stages wrote: the ``sft`` stage's summary.json (its data counts, losses, plots) and
metrics.jsonl (the answers sampled at each validation), and the ``chat_eval`` stage's summary.json and
``<model>/answers.jsonl``. Nothing is recomputed or redrawn here.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from skywork.recipe.render import Block, Section
from skywork.recipe.report_parts import fmt, pct, stage_plot, stage_summary
from skywork.recipe.runner import StageContext

KINDS = ("sft", "chat_eval")
ORDER = 60

_CHAT_METRICS = (
    ("stopped", "stopped by itself", pct),
    ("language_match", "language match", pct),
    ("exact", "exact answer", pct),
    ("length", "mean length (chars)", lambda v: fmt(v, 3)),
    ("repeated_4gram", "repeated 4-grams", pct),
    ("distinct_2", "distinct-2", lambda v: fmt(v, 3)),
    ("judge_grade", "judge grade (1-10)", lambda v: fmt(v, 3)),
)
_SHOWN_ANSWERS = 4
_ANSWER_CHARS = 160


def _clip(text: str, limit: int = _ANSWER_CHARS) -> str:
    for marker in ("</s>", "<s>", "[USER]", "[SEP]", "[BOT]"):  # the chat encoding's markers, for reading
        text = str(text).replace(marker, " ")
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind_of(ctx: StageContext, name: str) -> str:
    return ctx.recipe.stage(name).kind


def _sft_blocks(ctx: StageContext, name: str) -> list[Block]:
    summary = stage_summary(ctx, name, "sft")
    if summary is None:
        return [("p", f"Stage <code>{html.escape(name)}</code> wrote no summary.json.")]
    data = summary.get("data", {})
    skipped = data.get("skipped") or {}
    packing = data.get("packing") or {}
    first_val, last_val = _first_and_last_val(ctx.run_dir / name / "metrics.jsonl")
    rows = [
        ["base model", html.escape(Path(summary.get("base_model", "")).parent.name or "–")],
        ["method", "LoRA adapter" if summary.get("lora") else "full fine-tuning"],
        ["template", fmt(data.get("template"))],
        ["rows read", fmt(data.get("rows_read"))],
        ["examples kept", fmt(data.get("examples"))],
        [
            "rows skipped",
            ", ".join(f"{reason} {fmt(n)}" for reason, n in sorted(skipped.items())) or "none",
        ],
        ["truncated (answer cut)", f"{fmt(data.get('truncated'))} ({fmt(data.get('answer_truncated'))})"],
        [
            "train / held-out examples",
            f"{fmt(data.get('train_examples'))} / {fmt(data.get('heldout_examples'))}",
        ],
        ["supervised / all tokens", f"{fmt(data.get('supervised_tokens'))} / {fmt(data.get('tokens'))}"],
        [
            "packing",
            f"{fmt(packing.get('rows'))} rows, {_mean_per_row(packing.get('examples_per_row'))} examples per row, "
            f"fill {pct(packing.get('fill'))}",
        ],
        ["steps", fmt(summary.get("steps"))],
        ["training loss (last)", fmt(summary.get("last_train_loss", summary.get("final_loss")))],
    ]
    for set_name in sorted(last_val):
        before = first_val.get(set_name)
        rows.append(
            [
                f"held-out loss '{set_name}' (first → last validation)",
                f"{fmt(before)} → {fmt(last_val[set_name])}",
            ]
        )
    blocks: list[Block] = [
        (
            "p",
            f"Stage <code>{html.escape(name)}</code>: supervised fine-tuning on the one training loop, examples "
            "packed with a block-diagonal mask (no example sees another), loss on the answers and their "
            "end-of-sequence token only. Nothing is dropped silently: every skipped row is counted by reason.",
        ),
        ("table", (["", name], rows)),
    ]
    for plot, alt in (
        ("sft", "SFT losses and supervised tokens/s"),
        ("loss", "loss"),
        ("val_loss", "validation"),
    ):
        block = stage_plot(ctx, name, summary, plot, f"{name}: {alt}")
        if block is not None:
            blocks.append(block)
            if plot == "sft":
                break  # the SFT plot holds the training and held-out curves already
    samples = _last_samples(ctx.run_dir / name / "metrics.jsonl")
    if samples:
        step, answers = samples
        table = [
            [html.escape(_clip(s["prompt"], 80)), html.escape(_clip(s["answer"])), s.get("finish", "")]
            for s in answers
        ]
        blocks.append(("p", f"Greedy answers to held-out prompts at the last validation (step {step}):"))
        blocks.append(("table", (["prompt", "answer", "finish"], table)))
    return blocks


def _mean_per_row(histogram) -> str:
    """The mean of the packing's {examples in a row: rows} histogram."""
    if not isinstance(histogram, dict) or not histogram:
        return fmt(histogram, 3)
    rows = sum(histogram.values())
    return fmt(sum(int(k) * v for k, v in histogram.items()) / max(1, rows), 3)


def _metric_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn last line of a killed run
    return rows


def _first_and_last_val(path: Path) -> tuple[dict, dict]:
    evals = [r["val_loss"] for r in _metric_rows(path) if isinstance(r.get("val_loss"), dict)]
    return (evals[0], evals[-1]) if evals else ({}, {})


def _last_samples(path: Path) -> tuple[int, list[dict]] | None:
    rows = [r for r in _metric_rows(path) if r.get("samples")]
    return (rows[-1]["step"], rows[-1]["samples"]) if rows else None


def _chat_blocks(ctx: StageContext, name: str) -> list[Block]:
    summary = stage_summary(ctx, name, "chat_eval_models")
    if summary is None:
        return [("p", f"Stage <code>{html.escape(name)}</code> wrote no summary.json.")]
    models = summary.get("models", {})
    if not models:
        return []
    present = [m for m in _CHAT_METRICS if any(m[0] in r["overall"] for r in models.values())]
    header = ["model", "answers", *(label for _, label, _ in present)]
    rows = [
        [model, fmt(r["overall"].get("answers")), *(show(r["overall"].get(key)) for key, _, show in present)]
        for model, r in models.items()
    ]
    prompts = Path(summary.get("prompts_file", "")).name
    blocks: list[Block] = [
        (
            "p",
            f"Stage <code>{html.escape(name)}</code>: the same prompts (<code>{html.escape(prompts)}</code>, "
            f"{html.escape(str(summary.get('sampling')))} sampling) answered by each model through the generation "
            "engine. Stopped by itself: the answer ended with the end-of-sequence token before the token limit; "
            "language match: a Chinese prompt answered in Chinese (and English in English); exact answer: the "
            "reference answer appears in the answer (generated prompts only).",
        ),
        ("table", (header, rows)),
    ]
    answers = {model: _metric_rows(ctx.run_dir / name / model / "answers.jsonl") for model in models}
    names = list(answers)
    if names and answers[names[0]]:
        table = []
        for i, first in enumerate(answers[names[0]][:_SHOWN_ANSWERS]):
            cells = [html.escape(_clip(first["prompt"], 80))]
            for model in names:
                row = answers[model][i] if i < len(answers[model]) else None
                cells.append(
                    "–"
                    if row is None
                    else html.escape(_clip(row["answer"]))
                    + (" ⏎" if row.get("finish_reason") == "stop" else " …")
                )
            table.append(cells)
        blocks.append(
            (
                "p",
                "Sample answers (⏎: stopped by itself, …: cut at the token limit); all of them in "
                f"<code>{html.escape(name)}/MODEL/answers.html</code>.",
            )
        )
        blocks.append(("table", (["prompt", *names], table)))
    return blocks


def section(ctx: StageContext, names: list[str], img_dir: Path) -> Section | None:
    """One part for every sft and chat_eval stage of the run, in recipe order."""
    blocks: list[Block] = []
    for name in names:
        kind = _kind_of(ctx, name)
        blocks += _sft_blocks(ctx, name) if kind == "sft" else _chat_blocks(ctx, name)
    return Section("Fine-tuning", blocks) if blocks else None
