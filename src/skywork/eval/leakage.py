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
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skywork.eval.adapter import ModelAdapter
from skywork.eval.data import read_texts
from skywork.eval.loss import OFFICIAL_MAX_CHARS
from skywork.eval.requests import RollingLoss


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
) -> dict:
    """L_train, L_test, L_ref, delta1 = L_test - L_ref, delta2 = L_test - L_train, bootstrap CIs and a verdict.

    ``max_samples`` keeps the first N samples of each file (a quick check on a large train split).
    Returns ``{"L_train", "L_test", "L_ref", "delta1", "delta2", "ci": {"L_train", "L_test", "L_ref", "delta1",
    "delta2", "confidence"}, "verdict", "leak_suspected", "overfit_suspected", "samples", "tokens", "files"}``.
    """
    files = {"train": train, "test": test, "ref": ref}
    adapter = ModelAdapter(model, tokenizer, batch_size)
    per_set: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, path in files.items():
        texts = [t[:max_chars] if max_chars else t for t in read_texts(path, max_samples=max_samples)]
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
    return {
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
    }
