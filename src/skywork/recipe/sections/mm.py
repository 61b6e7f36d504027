"""The report part of Skywork-MM (issue 17): the generated images, the three training stages and the evaluation.

Lays out what the stages wrote (``mm_data``, ``mm_encoder`` / ``mm_align`` / ``mm_instruct`` and ``mm_eval``
summaries, their plots); nothing is recomputed here.
"""

from __future__ import annotations

from pathlib import Path

from skywork.recipe.render import Section
from skywork.recipe.report_parts import fmt, pct, stage_plot, stage_summary

KINDS = ("mm_data", "mm_encoder", "mm_align", "mm_instruct", "mm_eval")
ORDER = 80


def section(ctx, names: list[str], img_dir: Path) -> Section | None:
    blocks: list = []
    for name in names:
        summary = stage_summary(ctx, name)
        if summary is None:
            continue
        kind = summary.get("kind")
        if kind == "mm_data":
            images = summary.get("images", {})
            blocks.append(
                (
                    "p",
                    f"<code>{name}</code>: {fmt(images.get('train'))} training and "
                    f"{fmt(images.get('heldout'))} held-out generated images ({summary.get('image_size')} px); "
                    f"digits: {images.get('digits')}. No Chinese text inside images (no CJK font ships).",
                )
            )
        elif kind in ("mm_encoder", "mm_align", "mm_instruct"):
            data = summary.get("data", {})
            val = summary.get("val_loss") or {}
            blocks.append(
                (
                    "table",
                    (
                        [
                            "stage",
                            "trains",
                            "data",
                            "steps",
                            "final loss",
                            "held-out loss",
                            "images",
                            "tokens/s",
                        ],
                        [
                            [
                                name,
                                ", ".join(summary.get("trained_parts", [])),
                                data.get("use"),
                                fmt(summary.get("steps")),
                                fmt(summary.get("final_loss")),
                                fmt(val.get("heldout")),
                                fmt(data.get("images")),
                                fmt(summary.get("tokens_per_s")),
                            ]
                        ],
                    ),
                )
            )
            plot = stage_plot(ctx, name, summary, "loss", f"{name} loss")
            if plot:
                blocks.append(plot)
        elif kind == "mm_eval":
            rows = []
            for group, row in summary.get("kinds", {}).items():
                base = summary.get("baseline_kinds", {}).get(group, {})
                rows.append(
                    [
                        group,
                        pct(row.get("en")),
                        pct(row.get("zh")),
                        pct(row.get("all")),
                        pct(base.get("all")),
                        fmt(row.get("n")),
                    ]
                )
            blocks.append(
                (
                    "p",
                    f"<code>{name}</code>: accuracy on held-out images against the same model with the "
                    "image withheld (text only). Overall "
                    f"{pct(summary.get('overall'))} vs {pct(summary.get('baseline_overall'))}; "
                    f"{fmt(summary.get('images_per_s'))} images/s answering.",
                )
            )
            blocks.append(("table", (["question kind", "en", "zh", "all", "text only", "n"], rows)))
            mme = [
                [
                    c,
                    pct(r["accuracy"]),
                    pct(r["accuracy_plus"]),
                    fmt(r["score"]),
                    pct(summary.get("baseline_mme", {}).get(c, {}).get("accuracy")),
                ]
                for c, r in summary.get("mme", {}).items()
            ]
            blocks.append(
                ("table", (["MME-style category", "accuracy", "accuracy+", "score", "text only"], mme))
            )
            plot = stage_plot(ctx, name, summary, "accuracy", "accuracy with and without the image")
            if plot:
                blocks.append(plot)
            blocks.append(("p", f"Example images with answers: <code>{name}/examples.html</code>."))
    return Section("Skywork-MM: image question answering", blocks) if blocks else None
