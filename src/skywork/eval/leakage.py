"""The report's benchmark-leakage test (section 5, Table 8), for any benchmark with train / test / reference files.

The LM loss (official ``eval_loss.py`` protocol: mean token cross-entropy, text cut to 1365 characters, no BOS)
of each sample, serialised as ``question + " " + answer`` (or a ``text`` field), on three sets:

- ``L_train``: the benchmark's train split; ``L_test``: its test split; ``L_ref``: a reference set written to look
  like the benchmark but never published before (the report used GPT-4-written GSM8K-like problems).

Without exposure the three are about equal. ``delta1 = L_test - L_ref`` clearly below zero suggests the test split
was seen in training; ``delta2 = L_test - L_train`` clearly above zero suggests training on the train split (or
in-domain data very close to it). Confidence intervals come from a bootstrap over samples (each set resampled
independently). The verdict thresholds are this project's design (the report flags by eye): a delta is called
only when its interval excludes zero *and* it passes a margin (defaults 0.1 for delta1 and 0.15 for delta2,
which reproduce the report's calls on Table 8: flagged ChatGLM3-6B, Qwen-7B/14B, Baichuan2-13B, Aquila2-34B).

Δ1 cannot tell *exposure* (the test items were trained on) from *familiarity* (the model knows the benchmark's
style, e.g. from its train split, and the reference set is written in another style). With a paired reference
(``paired=``: the test items rephrased, aligned 1:1; :mod:`skywork.eval.paired`) the call comes from all signals
together, by the decision table of :func:`decide` (docs/evaluation.md: the paired gaps splitting into two groups
calls exposure of a subset; Δ1 and Δ2 together, exposure of the whole split), and the plain-words verdict names
the signal that drove it. Without one, the verdict is the report's method above, unchanged.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skywork.eval.adapter import ModelAdapter
from skywork.eval.loss import OFFICIAL_MAX_CHARS
from skywork.eval.min_k import DEFAULT_K
from skywork.eval.paired import benchmark_texts, load_pairs, score_pairs
from skywork.eval.requests import RollingLoss

DECISION_VERSION = 3  # 3: two Student-t groups, bootstrap null; 2: Gaussian groups; 1: lower-quartile excess
PAIRED_ALPHA = 0.01  # significance level of the two-group test on the paired gaps
ITEM_THRESHOLD = 3.0  # sds of the unexposed group: an item this far above the style offset is flagged


def _bootstrap(sums: np.ndarray, counts: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Token-weighted mean loss of ``n_boot`` resamples (with replacement) of the samples."""
    n = len(sums)
    out = np.empty(n_boot)
    step = max(1, 2_000_000 // max(n, 1))  # bounded memory for large sets
    for start in range(0, n_boot, step):
        stop = min(n_boot, start + step)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = sums[idx].sum(axis=1) / counts[idx].sum(axis=1)
    return out


def _interval(values: np.ndarray, confidence: float) -> list[float]:
    alpha = (1.0 - confidence) / 2
    return [float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha))]


def _verdict(
    d1: float, ci1: list[float], d2: float, ci2: list[float], m1: float, m2: float
) -> tuple[str, bool, bool]:
    leak = ci1[1] < 0 and d1 < -m1
    overfit = ci2[0] > 0 and d2 > m2
    parts = []
    if leak:
        parts.append(
            f"Possible test-set leakage: the test split's loss is clearly below the reference set's "
            f"(delta1 = {d1:+.3f}, CI [{ci1[0]:+.3f}, {ci1[1]:+.3f}]); a model that never saw the test "
            f"questions should find them about as hard as the reference ones."
        )
    if overfit:
        parts.append(
            f"The train split looks seen in training: its loss is clearly below the test split's "
            f"(delta2 = {d2:+.3f}, CI [{ci2[0]:+.3f}, {ci2[1]:+.3f}]), a sign of training on the benchmark's "
            f"train data or on data very close to it."
        )
    if not parts:
        parts.append(
            f"No sign of leakage: test, reference and train losses are close "
            f"(delta1 = {d1:+.3f}, CI [{ci1[0]:+.3f}, {ci1[1]:+.3f}]; delta2 = {d2:+.3f}, "
            f"CI [{ci2[0]:+.3f}, {ci2[1]:+.3f}]; margins {m1} and {m2})."
        )
    return " ".join(parts), leak, overfit


def decide(signals: dict[str, bool | None], d1: float, d2: float, paired: dict | None) -> dict:
    """The decision table over the three signals (``paired`` None: no paired reference given).

    =======================  =======  =====  =============  ===============================================
    paired gaps              Δ1       Δ2     call           driver
    =======================  =======  =====  =============  ===============================================
    two groups (split)       any      any    test_exposure  paired gap: a subset of items is exposed
    one group, mean above 0  flagged  below  test_exposure  delta1 + delta2: the whole test split is easier
    one group                flagged  any    familiarity    delta1, cleared by the paired gaps
    one group                not      flag   train_seen     delta2
    one group                not      not    none           -
    (none given)             flagged  any    test_leak      delta1 (the report's method)
    (none given)             not      flag   train_seen     delta2
    (none given)             not      not    none           -
    =======================  =======  =====  =============  ===============================================

    "two groups" is :func:`skywork.eval.paired.two_group_test`: the per-item paired gaps split into an unexposed
    group (the style offset) and a clearly higher one, which exposure to a subset of the items produces and a style
    shift (it moves every gap alike) does not. Version 3 of the table: the groups are Student-t groups and the null
    is one group with the gaps' own fitted tail weight (parametric bootstrap), so a heavy-tailed single group is
    not split (version 2 used Gaussian groups and a Gaussian null; version 1 an excess over the lower quartile).
    Exposure to *every* test item moves all gaps alike too, so the
    second row catches it from the splits instead: familiarity with train-style data makes the train split the
    easier one (delta2 > 0), exposure to the test items the test split ("below": delta2's interval below zero and
    delta2 < -delta2 margin), while the items are still easier than their rephrasings (the gap's interval above 0).
    Rows are tried in order. ``test_leak`` is true for ``test_exposure`` and ``test_leak`` only: a model trained on
    train-style data whose test items' gaps form one group gets no test-leakage call.
    """
    exposed, d1_flag, d2_flag = signals["paired"], signals["delta1"], signals["delta2"]
    below_train = bool(signals.get("test_below_train"))
    if exposed:
        call, driver = "test_exposure", "paired gap (two groups)"
    elif d1_flag and exposed is False and below_train and paired is not None and paired["ci"][0] > 0:
        call, driver = "test_exposure", "delta1 and delta2 (test easier than train), paired gap above 0"
    elif d1_flag and exposed is False:
        call, driver = "familiarity", "delta1 (cleared by the paired gaps)"
    elif d1_flag:
        call, driver = "test_leak", "delta1"
    elif d2_flag:
        call, driver = "train_seen", "delta2"
    else:
        call, driver = "none", None
    decision = {
        "version": DECISION_VERSION,
        "call": call,
        "driver": driver,
        "test_leak": call in ("test_exposure", "test_leak"),
        "signals": dict(signals),
    }
    if paired is not None:
        decision["verdict"] = _paired_verdict(call, driver, d1, d2, d2_flag, paired)
    return decision


def _paired_verdict(call: str, driver: str | None, d1: float, d2: float, d2_flag: bool, paired: dict) -> str:
    """The plain-words verdict when a paired reference was given; it says which signal drove the call."""
    g = paired["groups"]
    lo, hi = paired["ci"]
    pair = (
        f"mean paired gap {paired['gap']:+.3f}, CI [{lo:+.3f}, {hi:+.3f}]; two-group test p = {g['p_value']:.3f}, "
        f"separation {g['separation']:.1f} sd"
    )
    if g["split"]:
        pair += (
            f"; {round(g['exposed_share'] * paired['items'])} of {paired['items']} items sit {g['shift']:+.3f} "
            f"nats/token above the style offset {g['style_offset']:+.3f}"
        )
    train = (
        f" The train split also looks seen (delta2 = {d2:+.3f})." if d2_flag and call != "train_seen" else ""
    )
    if call == "test_exposure" and driver != "paired gap (two groups)":
        return (
            f"Test-set exposure (driven by delta1 and delta2): the test split is easier than both the reference "
            f"set (delta1 = {d1:+.3f}) and the train split (delta2 = {d2:+.3f}), and easier than its own "
            f"rephrasings ({pair}); familiarity with train-style data would make the train split the easier one."
        )
    if call == "test_exposure":
        return (
            f"Test-set exposure (driven by the paired gaps): part of the test items are far easier than their own "
            f"rephrasings while the rest are not ({pair}); a style shift would move every item alike. "
            f"delta1 = {d1:+.3f}.{train}"
        )
    if call == "familiarity":
        return (
            f"Familiarity, not exposure (delta1 = {d1:+.3f} is cleared by the paired gaps): the test split is "
            f"easier than the reference set, but its items' gaps to their own rephrasings form one group around "
            f"the style offset ({pair}), so the model knows the benchmark's style or domain, not the test "
            f"items.{train}"
        )
    if call == "train_seen":
        return (
            f"The train split looks seen in training (driven by delta2 = {d2:+.3f}); the test items' gaps to "
            f"their rephrasings form one group ({pair})."
        )
    return (
        f"No sign of leakage: the test items' gaps to their rephrasings form one group ({pair}); "
        f"delta1 = {d1:+.3f}, delta2 = {d2:+.3f}."
    )


def leakage_test(
    model,
    tokenizer,
    train: str | Path,
    test: str | Path,
    ref: str | Path,
    max_chars: int | None = OFFICIAL_MAX_CHARS,
    batch_size: int = 16,
    max_samples: int | None = None,
    n_bootstrap: int = 1000,
    confidence: float = 0.95,
    delta1_margin: float = 0.1,
    delta2_margin: float = 0.15,
    seed: int = 0,
    paired: str | Path | None = None,
    paired_view: str = "auto",
    paired_alpha: float = PAIRED_ALPHA,
    item_threshold: float = ITEM_THRESHOLD,
    min_k: float = DEFAULT_K,
) -> dict:
    """L_train, L_test, L_ref, delta1 = L_test - L_ref, delta2 = L_test - L_train, bootstrap CIs and a verdict.

    ``max_samples`` keeps the first N samples of each file (a quick check on a large train split).
    Returns ``{"L_train", "L_test", "L_ref", "delta1", "delta2", "ci": {"L_train", "L_test", "L_ref", "delta1",
    "delta2", "confidence"}, "verdict", "leak_suspected", "overfit_suspected", "samples", "tokens", "files",
    "decision"}``; with ``paired`` (the test items rephrased, aligned 1:1) also ``"paired"`` (per-item scores in
    ``paired["per_item"]``), and ``verdict`` / ``leak_suspected`` then come from :func:`decide`.
    A CSV file (MMLU layout) is read as question + correct answer text.
    """
    files = {"train": train, "test": test, "ref": ref}
    adapter = ModelAdapter(model, tokenizer, batch_size)
    per_set: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, path in files.items():
        texts = [t[:max_chars] if max_chars else t for t in benchmark_texts(path, max_samples=max_samples)]
        scored = adapter.rolling_loss([RollingLoss(t) for t in texts])
        counts = np.asarray(scored.token_counts, dtype=np.float64)
        sums = np.asarray(scored.loss_sums, dtype=np.float64)
        keep = counts > 0
        per_set[name] = (sums[keep], counts[keep])

    losses = {name: float(s.sum() / c.sum()) for name, (s, c) in per_set.items()}
    rng = np.random.default_rng(seed)
    boots = {name: _bootstrap(s, c, n_bootstrap, rng) for name, (s, c) in per_set.items()}
    delta1 = losses["test"] - losses["ref"]
    delta2 = losses["test"] - losses["train"]
    ci = {f"L_{name}": _interval(b, confidence) for name, b in boots.items()}
    ci["delta1"] = _interval(boots["test"] - boots["ref"], confidence)
    ci["delta2"] = _interval(boots["test"] - boots["train"], confidence)
    ci["confidence"] = confidence
    verdict, leak, overfit = _verdict(
        delta1, ci["delta1"], delta2, ci["delta2"], delta1_margin, delta2_margin
    )
    pair_result = None
    if paired is not None:
        pairs = load_pairs(test, paired, paired_view, max_samples=max_samples)
        pair_result = score_pairs(
            adapter, pairs, max_chars, n_bootstrap, confidence, paired_alpha, item_threshold, rng, min_k
        )
        pair_result["file"] = str(paired)
    below_train = ci["delta2"][1] < 0 and delta2 < -delta2_margin
    signals = {
        "delta1": leak,
        "delta2": overfit,
        "test_below_train": below_train,
        "paired": pair_result["exposed"] if pair_result else None,
    }
    decision = decide(signals, delta1, delta2, pair_result)
    if pair_result is not None:
        verdict, leak = decision["verdict"], decision["test_leak"]
    result = {
        "L_train": losses["train"],
        "L_test": losses["test"],
        "L_ref": losses["ref"],
        "delta1": delta1,
        "delta2": delta2,
        "ci": ci,
        "verdict": verdict,
        "leak_suspected": leak,
        "overfit_suspected": overfit,
        "samples": {name: len(s) for name, (s, _) in per_set.items()},
        "tokens": {name: int(c.sum()) for name, (_, c) in per_set.items()},
        "files": {name: str(p) for name, p in files.items()},
        "max_chars": max_chars,
        "decision": decision,
    }
    if pair_result is not None:
        result["paired"] = pair_result
        result["files"]["paired"] = str(paired)
    return result
