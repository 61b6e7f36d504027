"""Paired rephrase references for the leakage test: each test item against its own rephrasing.

Δ1 compares the test split with a *different* reference set, so a model that merely knows the benchmark's style
(trained on its train split, or on text like it) finds the test split easier than a reference written in another
style and gets flagged. Here every test item is compared with a rephrasing of the same item (same problem, same
answer, other words). Familiarity with the style lowers both losses about equally; exposure to the exact item
lowers the original far more. Per item::

    gap = loss(rephrasing) - loss(original)        (mean token cross-entropy, nats per token)

A large positive gap says the original wording is unusually easy for the model. An unexposed model still has a
*style offset* (the rephrasings' words are more or less familiar than the originals', for every item alike), so
the per-item score is ``gap - anchor`` with ``anchor`` the lower-quartile gap of the set (the items least easier
than their rephrasings; valid while at least a quarter of the items were not exposed). The set's ``excess`` is
``mean gap - anchor``; intervals come from a paired bootstrap over items (an item's two losses move together).

Views (what is compared, so both sides hold the same content):

- ``text``: the ``text`` (or ``question + " " + answer``) of each test record against the paired file's record.
- ``gsm8k``: the GSM8K rephrasings (lm-sys/llm-decontaminator ``rephrase_gsm8k.jsonl``) hold the question and only
  the final ``#### N``, so the original is rendered the same way (``Question: {q}\\nAnswer: \\n#### {N}``), without
  its worked solution.
- ``mcq``: a multiple-choice CSV (MMLU layout: question, A-D, answer) against rephrased questions: both sides are
  ``question + " " + text of the correct choice``.

``auto`` picks ``mcq`` for a CSV test file, ``gsm8k`` when the test records carry ``#### N`` answers and the paired
texts start with ``Question:``, else ``text``. Items whose rephrasing is empty are skipped (the MMLU rephrasings
leave a few out), as are GSM8K items whose final answers disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skywork.eval.data import read_texts, record_text
from skywork.utils.io import InputError, read_jsonl_lines

VIEWS = ("auto", "text", "gsm8k", "mcq")
GSM8K_FINAL = re.compile(r"####\s*(.+?)\s*$", re.S)
GSM8K_REPHRASED = re.compile(r"^Question:\s*(.*?)\s*\nAnswer:.*?####\s*(.+?)\s*$", re.S)
PREVIEW_CHARS = 120
ANCHOR_QUANTILE = 0.25  # the style offset: the gap of the items least easier than their rephrasings


@dataclass
class PairedItems:
    """Aligned (original, rephrasing) texts of the items kept, with their 0-based positions in the test file."""

    originals: list[str]
    rephrasings: list[str]
    indices: list[int]
    view: str
    skipped: list[int] = field(default_factory=list)  # test-file positions with no usable rephrasing


def _mcq_rows(path: Path) -> list[dict]:
    from skywork.eval.mcq import read_questions

    return read_questions(path, "mmlu")


def _mcq_text(question: str, row: dict) -> str:
    return f"{question} {row[row['answer']]}"


def benchmark_texts(path: str | Path, max_samples: int | None = None) -> list[str]:
    """The texts of a leakage split: :func:`read_texts`, or question + correct answer for an MMLU-layout CSV."""
    path = Path(path)
    if path.suffix == ".csv":
        texts = [_mcq_text(str(r["question"]), r) for r in _mcq_rows(path)]
        return texts[:max_samples] if max_samples is not None else texts
    return read_texts(path, max_samples=max_samples)


def _paired_texts(path: Path) -> list[str]:
    """One text per line of the paired file (empty allowed: that item is skipped)."""
    out = []
    for line, record in read_jsonl_lines(path):
        if "text" in record and isinstance(record["text"], str):
            out.append(record["text"])
        else:
            out.append(record_text(record, path, line))
    return out


def _choose_view(test: Path, test_records: list[dict] | None, paired: list[str]) -> str:
    if test.suffix == ".csv":
        return "mcq"
    first = next((t for t in paired if t.strip()), "")
    gsm_like = bool(test_records) and all(
        "question" in r and "####" in str(r.get("answer", "")) for r in test_records[:5]
    )
    return "gsm8k" if gsm_like and first.startswith("Question:") else "text"


def load_pairs(
    test: str | Path, paired: str | Path, view: str = "auto", max_samples: int | None = None
) -> PairedItems:
    """Align the test file with its rephrasings line by line (both must have the same number of items)."""
    if view not in VIEWS:
        raise InputError(f"unknown paired view {view!r} (one of: {', '.join(VIEWS)})", field="paired_view")
    test, paired = Path(test), Path(paired)
    for path in (test, paired):
        if not path.exists():
            raise InputError("file not found", path)
    rephrased = _paired_texts(paired)
    rows = _mcq_rows(test) if test.suffix == ".csv" else None
    records = None if rows is not None else [r for _, r in read_jsonl_lines(test)]
    n_test = len(rows if rows is not None else records)
    if n_test != len(rephrased):
        raise InputError(
            f"paired file has {len(rephrased)} items but the test file has {n_test}: they must align 1:1",
            paired,
        )
    view = _choose_view(test, records, rephrased) if view == "auto" else view
    originals, rephrasings, indices, skipped = [], [], [], []
    limit = n_test if max_samples is None else min(n_test, max_samples)
    for i in range(limit):
        pair = _pair(view, test, i, rows, records, rephrased[i])
        if pair is None:
            skipped.append(i)
        else:
            originals.append(pair[0])
            rephrasings.append(pair[1])
            indices.append(i)
    if not indices:
        raise InputError("no usable (original, rephrasing) pairs", paired)
    return PairedItems(originals, rephrasings, indices, view, skipped)


def _pair(view, test, i, rows, records, rephrased: str) -> tuple[str, str] | None:
    """The (original, rephrasing) texts of item ``i`` in ``view``; None when the item has no usable pair."""
    if not rephrased.strip():
        return None
    if view == "mcq":
        if rows is None:
            raise InputError("the mcq view needs an MMLU-layout CSV test file", test)
        return _mcq_text(str(rows[i]["question"]), rows[i]), _mcq_text(rephrased.strip(), rows[i])
    record = records[i] if records is not None else None
    if view == "gsm8k":
        if record is None or "question" not in record or "answer" not in record:
            raise InputError("the gsm8k view needs question/answer records", test, i + 1, "question")
        gold = GSM8K_FINAL.search(str(record["answer"]))
        other = GSM8K_REPHRASED.match(rephrased)
        if gold is None or other is None or gold.group(1).strip() != other.group(2).strip():
            return None
        return f"Question: {record['question']}\nAnswer: \n#### {gold.group(1).strip()}", rephrased
    if record is None:
        raise InputError("the text view needs a JSONL test file", test)
    return record_text(record, test, i + 1), rephrased


# ------------------------------------------------------------------------------------------------- scoring


def paired_bootstrap(
    gaps: np.ndarray, n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Mean gap and excess of ``n_boot`` resamples of the items (an item's two losses always move together)."""
    n = len(gaps)
    means, excess = np.empty(n_boot), np.empty(n_boot)
    step = max(1, 2_000_000 // max(n, 1))
    for start in range(0, n_boot, step):
        stop = min(n_boot, start + step)
        sample = gaps[rng.integers(0, n, size=(stop - start, n))]
        means[start:stop] = sample.mean(axis=1)
        excess[start:stop] = means[start:stop] - np.quantile(sample, ANCHOR_QUANTILE, axis=1)
    return means, excess


def item_auc(scores: list[float], positive: list[bool]) -> float:
    """Probability that a positive item outscores a negative one (ties count half): ROC AUC, no sklearn."""
    pos = [s for s, p in zip(scores, positive, strict=True) if p]
    neg = [s for s, p in zip(scores, positive, strict=True) if not p]
    if not pos or not neg:
        raise ValueError("need positive and negative items")
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def score_pairs(
    adapter,
    pairs: PairedItems,
    max_chars: int | None,
    n_bootstrap: int,
    confidence: float,
    margin: float,
    item_threshold: float,
    rng: np.random.Generator,
) -> dict:
    """Per-item losses and gaps, the mean paired gap with its bootstrap interval, and the exposure call."""
    from skywork.eval.requests import RollingLoss

    def cut(texts: list[str]) -> list[str]:
        return [t[:max_chars] if max_chars else t for t in texts]

    originals, rephrasings = cut(pairs.originals), cut(pairs.rephrasings)
    a = adapter.rolling_loss([RollingLoss(t) for t in originals])
    b = adapter.rolling_loss([RollingLoss(t) for t in rephrasings])
    items = []
    for k, index in enumerate(pairs.indices):
        if a.token_counts[k] == 0 or b.token_counts[k] == 0:
            continue
        lo, lr = a.loss_sums[k] / a.token_counts[k], b.loss_sums[k] / b.token_counts[k]
        items.append(
            {
                "index": index,
                "loss_original": lo,
                "loss_rephrased": lr,
                "gap": lr - lo,
                "tokens": [a.token_counts[k], b.token_counts[k]],
                "text": originals[k][:PREVIEW_CHARS],
            }
        )
    if not items:
        raise InputError("every paired item is empty after tokenisation")
    gaps = np.asarray([it["gap"] for it in items])
    anchor = float(np.quantile(gaps, ANCHOR_QUANTILE))
    for it in items:
        it["score"] = it["gap"] - anchor
        it["flagged"] = it["score"] > item_threshold
    boot_gap, boot_excess = paired_bootstrap(gaps, n_bootstrap, rng)
    alpha = (1.0 - confidence) / 2

    def interval(values: np.ndarray) -> list[float]:
        return [float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))]

    ci, excess_ci = interval(boot_gap), interval(boot_excess)
    gap, excess = float(gaps.mean()), float(gaps.mean() - anchor)
    flagged = sum(it["flagged"] for it in items)
    return {
        "view": pairs.view,
        "items": len(items),
        "skipped": pairs.skipped,
        "loss_original": float(np.mean([it["loss_original"] for it in items])),
        "loss_rephrased": float(np.mean([it["loss_rephrased"] for it in items])),
        "gap": gap,
        "ci": ci,
        "excess": excess,
        "excess_ci": excess_ci,
        "margin": margin,
        "item_threshold": item_threshold,
        "anchor": anchor,
        "flagged": flagged,
        "flagged_fraction": flagged / len(items),
        "exposed": excess_ci[0] > margin,
        "per_item": items,
    }


def top_items(per_item: list[dict], n: int) -> list[dict]:
    """The ``n`` items with the largest score (the most exposed-looking first)."""
    return sorted(per_item, key=lambda it: -it["score"])[:n]
