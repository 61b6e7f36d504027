"""The leakage verdicts of the evaluation stage: which signal drove each model's call, and its most exposed-looking
test items (``summary.json`` ``models.<label>.leakage``; docs/evaluation.md, "Paired references").

The built-in evaluation part shows Table 8 (L_test, L_train, L_ref, Δ1, Δ2); this part lays out the decision
table's inputs per model (Δ1 and Δ2 flags, the two-group test on the paired gaps) next to the call and its driver,
and the top items with their paired score, z, membership of the exposed group and min-k% prob.
"""

from __future__ import annotations

from typing import Any

from skywork.recipe.render import Section
from skywork.recipe.report_parts import fmt, stage_summary

KINDS = ("evaluate",)
ORDER = 52


def _flag(value: Any) -> str:
    return "–" if value is None else ("yes" if value else "no")


def _null(groups: dict) -> str:
    """The one-group null of the two-group test: Student-t at the fitted tail weight, or Gaussian."""
    if "tail_df" not in groups:  # decision table v2 summaries: a Gaussian null
        return "Gaussian"
    return "Gaussian" if groups["tail_df"] is None else f"t({groups['tail_df']:g})"


def section(ctx, names: list[str], img_dir) -> Section | None:
    """One table of signals and calls, one of top items, for every evaluation stage with a paired leakage test."""
    signal_rows, item_rows, threshold, k = [], [], "–", 0.2
    for name in names:
        summary = stage_summary(ctx, name, kind="eval")
        for label, entry in ((summary or {}).get("models") or {}).items():
            leak = entry.get("leakage") or {}
            paired, decision = leak.get("paired"), leak.get("decision") or {}
            if not paired or "groups" not in paired:
                continue
            signals, groups = decision.get("signals") or {}, paired["groups"]
            threshold, k = fmt(paired.get("item_threshold"), 3), paired.get("min_k_fraction", k)
            who = label if len(names) == 1 else f"{name}/{label}"
            exposed_items = round(groups["exposed_share"] * paired["items"])
            signal_rows.append(
                [
                    who,
                    f"{fmt(leak.get('delta1'), 3)} ({_flag(signals.get('delta1'))})",
                    f"{fmt(leak.get('delta2'), 3)} ({_flag(signals.get('delta2'))})",
                    f"{paired['gap']:+.3f} [{paired['ci'][0]:+.3f}, {paired['ci'][1]:+.3f}]",
                    f"p = {groups['p_value']:.3f}, D = {groups['separation']:.1f}, null {_null(groups)}",
                    f"{exposed_items} / {paired['items']}" if groups["split"] else "one group",
                    str(decision.get("call", "–")),
                    str(decision.get("driver") or "–"),
                ]
            )
            for it in paired.get("top_items") or []:
                item_rows.append(
                    [
                        who,
                        str(it["index"]),
                        f"{it['score']:+.3f}",
                        fmt(it.get("z"), 3),
                        fmt(it.get("p_exposed"), 2),
                        fmt(it.get("min_k"), 3),
                        "yes" if it["flagged"] else "",
                        it["text"].replace("\n", " ")[:80],  # table cells are escaped by the renderer
                    ]
                )
    if not signal_rows:
        return None
    return Section(
        "Leakage verdicts",
        [
            (
                "p",
                "The call comes from the decision table (docs/evaluation.md): the per-item paired gaps "
                "(loss of the rephrasing − loss of the original) splitting into an unexposed group and a clearly "
                "higher one calls exposure of those items (likelihood ratio of two Student-t groups against one, "
                "null bootstrapped at the gaps' own tail weight; p ≤ α, two modes at least D = 2 scales apart); "
                "Δ1 and Δ2 together call exposure of the whole split; Δ1 alone, when the gaps form one group, is "
                "familiarity with the benchmark's style, not leakage.",
            ),
            (
                "table",
                (
                    [
                        "model",
                        "Δ1 (flag)",
                        "Δ2 (flag)",
                        "paired gap [CI]",
                        "two-group test",
                        "exposed group",
                        "call",
                        "driven by",
                    ],
                    signal_rows,
                ),
            ),  # fmt: skip
            (
                "p",
                f"Most exposed-looking test items: score = gap − style offset (nats/token), z in sds of the "
                f"unexposed group, P(exposed) from the two-group fit, min-k% prob (mean log-prob of the {k:.0%} least "
                f"likely tokens, higher = more member-like); flagged when z > {threshold} or in the exposed group.",
            ),
            (
                "table",
                (["model", "item", "score", "z", "P(exposed)", "min-k%", "flagged", "text"], item_rows),
            ),
        ],
    )
