"""Paired rephrase references for the leakage test: each test item against its own rephrasing.

Δ1 compares the test split with a *different* reference set, so a model that merely knows the benchmark's style
(trained on its train split, or on text like it) finds the test split easier than a reference written in another
style and gets flagged. Here every test item is compared with a rephrasing of the same item (same problem, same
answer, other words). Familiarity with the style lowers both losses about equally; exposure to the exact item
lowers the original far more. Per item::

    gap = loss(rephrasing) - loss(original)        (mean token cross-entropy, nats per token)

A large positive gap says the original wording is unusually easy for the model. An unexposed model still has a
*style offset* (the rephrasings' words are more or less familiar than the originals', for every item alike), and
each gap has noise around it; without exposure the gaps form **one group** around the offset (the original and
its rephrasing are two interchangeable renderings of the item). Exposure to a subset of the items lowers just
those originals' losses: their gaps form a second, higher group. :func:`two_group_test` asks whether the gaps
split so (a likelihood-ratio test of two Student-t groups against one, its null bootstrapped from the fitted
one-group model, so heavy tails alone do not make a second group); when they do, the lower group's location is
the style offset. Per item, ``score = gap - style offset`` (nats/token), ``z = score / sd`` of the unexposed
group, ``p_exposed`` (posterior of the upper group) and a min-k% prob (:mod:`min_k`). The mean gap's interval
comes from a paired bootstrap over items (an item's two losses move together).

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

import functools
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from skywork.eval.data import read_texts, record_text
from skywork.eval.min_k import DEFAULT_K, min_k_prob
from skywork.utils.io import InputError, read_jsonl_lines

VIEWS = ("auto", "text", "gsm8k", "mcq")
GSM8K_FINAL = re.compile(r"####\s*(.+?)\s*$", re.S)
GSM8K_REPHRASED = re.compile(r"^Question:\s*(.*?)\s*\nAnswer:.*?####\s*(.+?)\s*$", re.S)
PREVIEW_CHARS = 120


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


# ------------------------------------------------------------------------------------------ the two-group test

EM_STEPS = 60
SPLITS = (0.25, 0.5, 0.75)  # EM starts: the items above each of these quantiles form the upper group
TAILS = (1.0, 2.0, 4.0, 8.0, 16.0, math.inf)  # Student-t degrees of freedom tried (inf: Gaussian), best kept
MIN_SEPARATION = 2.0  # Ashman's D: two groups are told apart when their means are >= 2 scales apart
MIN_UNEXPOSED_SHARE = 0.25  # the lower (style-offset) group must hold at least a quarter of the items
MIN_EXPOSED_ITEMS = 3  # ... and the upper group at least this many items (one odd item is no group)


def _log_t(z2: np.ndarray, nu: float) -> np.ndarray:
    """Log density of the standard Student-t with ``nu`` degrees of freedom at ``z`` (given ``z**2``)."""
    if math.isinf(nu):
        return -0.5 * math.log(2 * math.pi) - 0.5 * z2
    const = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
    return const - (nu + 1) / 2 * np.log1p(z2 / nu)


def _t_weights(z2: np.ndarray, nu: float) -> np.ndarray:
    """EM weights of the t as a scale mixture of Gaussians: far points count less (1 for the Gaussian)."""
    return np.ones_like(z2) if math.isinf(nu) else (nu + 1) / (nu + z2)


def _fit_one_t(x: np.ndarray, nu: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ML location-scale t (fixed ``nu``) per row: log-likelihood, location, scale."""
    mu = np.median(x, axis=1, keepdims=True)
    var = np.maximum(x.var(axis=1, keepdims=True), 1e-12)
    floor = 1e-8 * var
    for _ in range(EM_STEPS if not math.isinf(nu) else 1):
        w = _t_weights((x - mu) ** 2 / var, nu)
        mu = (w * x).sum(axis=1, keepdims=True) / w.sum(axis=1, keepdims=True)
        var = np.maximum((w * (x - mu) ** 2).mean(axis=1, keepdims=True), floor)
    ll = (_log_t((x - mu) ** 2 / var, nu) - 0.5 * np.log(var)).sum(axis=1)
    return ll, mu[:, 0], np.sqrt(var[:, 0])


def _mixture_terms(x, low, high, var, share, nu):
    """Per item: log of each component's weighted density and their log-sum (the mixture's log density)."""
    log_high = np.log(share) + _log_t((x - high) ** 2 / var, nu) - 0.5 * np.log(var)
    log_low = np.log(1 - share) + _log_t((x - low) ** 2 / var, nu) - 0.5 * np.log(var)
    top = np.maximum(log_high, log_low)
    return log_high, top + np.log(np.exp(log_high - top) + np.exp(log_low - top))


def _fit_two_t(x: np.ndarray, nu: float) -> dict[str, np.ndarray]:
    """ML mixture of two t groups (shared scale and ``nu``) per row, by EM from three starts, the best kept."""
    var_one = np.maximum(x.var(axis=1, keepdims=True), 1e-12)
    best: dict[str, np.ndarray] | None = None
    for q in SPLITS:
        post = (x > np.quantile(x, q, axis=1, keepdims=True)).astype(np.float64)
        u_high, u_low = post, 1 - post
        for step in range(EM_STEPS + 1):
            share = np.clip(post.mean(axis=1, keepdims=True), 1e-6, 1 - 1e-6)
            high = (u_high * x).sum(axis=1, keepdims=True) / np.maximum(
                u_high.sum(axis=1, keepdims=True), 1e-12
            )
            low = (u_low * x).sum(axis=1, keepdims=True) / np.maximum(u_low.sum(axis=1, keepdims=True), 1e-12)
            var = (u_high * (x - high) ** 2 + u_low * (x - low) ** 2).mean(axis=1, keepdims=True)
            var = np.maximum(var, 1e-4 * var_one)
            log_high, norm = _mixture_terms(x, low, high, var, share, nu)
            if step == EM_STEPS:
                break
            post = np.exp(log_high - norm)
            u_high = post * _t_weights((x - high) ** 2 / var, nu)
            u_low = (1 - post) * _t_weights((x - low) ** 2 / var, nu)
        fit = {"ll": norm.sum(axis=1), "low": low[:, 0], "high": high[:, 0], "scale": np.sqrt(var[:, 0])}
        fit |= {"share": share[:, 0], "posterior": np.exp(log_high - norm)}
        if best is None:
            best = fit
        else:
            better = fit["ll"] > best["ll"]
            best = {
                k: np.where(better[:, None] if v.ndim == 2 else better, v, best[k]) for k, v in fit.items()
            }
    assert best is not None
    return best


def _bimodal(low, high, scale, share, nu) -> np.ndarray:
    """Whether each fitted two-group density has a valley between the group means (two modes, not a skewed one)."""
    grid = low[:, None] + np.linspace(0.0, 1.0, 101)[None, :] * (high - low)[:, None]
    density = np.stack(
        [
            share[i] * np.exp(_log_t(((grid[i] - high[i]) / scale[i]) ** 2, nu[i]))
            + (1 - share[i]) * np.exp(_log_t(((grid[i] - low[i]) / scale[i]) ** 2, nu[i]))
            for i in range(len(low))
        ]
    )
    left = np.maximum.accumulate(density, axis=1)
    right = np.maximum.accumulate(density[:, ::-1], axis=1)[:, ::-1]
    return (density < 0.999 * np.minimum(left, right)).any(axis=1)


def fit_two_groups(x: np.ndarray) -> dict[str, np.ndarray]:
    """Maximum-likelihood fits of one Student-t group and of two t groups (shared scale), for each row of ``x``.

    ``x`` is ``[rows, items]``. The degrees of freedom are chosen by likelihood from :data:`TAILS` (1 to 16, or
    Gaussian), separately for the one-group and the two-group fit, so a heavy-tailed single group is fitted as one
    heavy-tailed group rather than as a core plus a group of outliers. Returns per row: ``lr`` (2 x log-likelihood
    ratio, two groups vs one), ``low`` / ``high`` (group locations), ``sd`` (the groups' shared scale; the sd when
    Gaussian), ``share`` (weight of the upper group), ``nu`` / ``nu_one`` (degrees of freedom of the two-group /
    one-group fit), ``mean_one`` / ``sd_one`` (mean and sd of the gaps), ``bimodal`` (the two-group density has
    two modes) and ``posterior`` ``[rows, items]`` (P(upper group | gap)).
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    rows = np.arange(x.shape[0])
    ones = [_fit_one_t(x, nu) for nu in TAILS]
    ll_one = np.stack([o[0] for o in ones])
    pick_one = ll_one.argmax(axis=0)
    twos = [_fit_two_t(x, nu) for nu in TAILS]
    ll_two = np.stack([t["ll"] for t in twos])
    pick_two = ll_two.argmax(axis=0)

    def chosen(key: str) -> np.ndarray:
        return np.stack([t[key] for t in twos])[pick_two, rows]

    nu = np.asarray(TAILS)[pick_two]
    low, high, scale, share = chosen("low"), chosen("high"), chosen("scale"), chosen("share")
    posterior = chosen("posterior")
    swap = high < low  # keep "high" the upper group's location
    low, high = np.where(swap, high, low), np.where(swap, low, high)
    share, posterior = np.where(swap, 1 - share, share), np.where(swap[:, None], 1 - posterior, posterior)
    return {
        "lr": np.maximum(2.0 * (ll_two[pick_two, rows] - ll_one[pick_one, rows]), 0.0),
        "low": low,
        "high": high,
        "sd": scale,
        "share": share,
        "nu": nu,
        "nu_one": np.asarray(TAILS)[pick_one],
        "mean_one": x.mean(axis=1),
        "sd_one": x.std(axis=1),
        "bimodal": _bimodal(low, high, scale, share, nu),
        "posterior": posterior,
    }


@functools.lru_cache(maxsize=64)
def null_ratios(nu: float, n: int, n_null: int) -> np.ndarray:
    """Likelihood ratios of ``n_null`` sets of ``n`` gaps drawn from one t group with ``nu`` degrees of freedom.

    The ratio is location- and scale-free, so this is the null of every set of ``n`` gaps whose one-group fit has
    tail weight ``nu``: it is drawn once per process from a seed fixed by ``(nu, n, n_null)`` (the same gaps always
    get the same p-value) and cached.
    """
    rng = np.random.default_rng([n, n_null, 0 if math.isinf(nu) else round(nu * 1000)])
    draws = rng.standard_normal((n_null, n)) if math.isinf(nu) else rng.standard_t(nu, (n_null, n))
    return fit_two_groups(draws)["lr"]


def two_group_test(gaps: np.ndarray, alpha: float, n_null: int = 199) -> dict:
    """Do the paired gaps split into an unexposed group and a clearly higher, exposed-looking one?

    Without exposure every item's gap is the set's style offset plus noise: one group, whose tails may be heavy
    (short items, odd rephrasings). Exposure to a subset of the items lowers exactly those originals' losses, so
    their gaps form a second, higher group (two modes, or a bump in the upper tail); a style shift moves every gap
    alike and cannot. The statistic is the likelihood ratio of two Student-t groups (shared scale) against one
    t group, the tail weight of each chosen by likelihood. Its null is a parametric bootstrap (McLachlan 1987, the
    bootstrap likelihood-ratio test for the number of mixture components): ``n_null`` sets of the same size
    drawn from the *fitted* one-group model, refitted the same way (:func:`null_ratios`). The ratio is location-
    and scale-free, so only the fitted tail weight (``nu_one``) enters the null: a heavy-tailed single group is
    compared with heavy-tailed single groups, not with Gaussian ones (which made heavy tails look like a second
    group; decision table v2). The split is called
    when ``p <= alpha``, the groups are separated (Ashman's D = (high - low) / scale >= 2) and the fitted density
    has two modes, the upper group holds at least 3 items and the lower group at least a quarter of them (its
    location is the style offset).
    """
    gaps = np.asarray(gaps, dtype=np.float64)
    n = len(gaps)
    fit = fit_two_groups(gaps[None, :])
    one = {k: float(v[0]) for k, v in fit.items() if k != "posterior"}
    if n < 2 * MIN_EXPOSED_ITEMS or one["sd_one"] < 1e-9:
        p_value = 1.0
    else:
        null = null_ratios(one["nu_one"], n, n_null)
        p_value = float((1 + np.sum(null >= one["lr"])) / (n_null + 1))
    separation = (one["high"] - one["low"]) / max(one["sd"], 1e-12)
    tail = one["nu_one"]
    exposed_items = one["share"] * n
    split = bool(
        p_value <= alpha
        and separation >= MIN_SEPARATION
        and one["bimodal"]
        and exposed_items >= MIN_EXPOSED_ITEMS
        and 1 - one["share"] >= MIN_UNEXPOSED_SHARE
    )
    return {
        "lr": one["lr"],
        "p_value": p_value,
        "alpha": alpha,
        "null_sets": n_null,
        "tail_df": None if math.isinf(tail) else tail,  # the fitted one-group null's t df (None: Gaussian)
        "separation": separation,
        "bimodal": bool(one["bimodal"]),
        "style_offset": one["low"] if split else one["mean_one"],
        "sd": one["sd"] if split else one["sd_one"],
        "shift": one["high"] - one["low"],
        "exposed_share": one["share"] if split else 0.0,
        "split": split,
        "posterior": fit["posterior"][0],
    }


# ------------------------------------------------------------------------------------------------- scoring


def paired_bootstrap(gaps: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """Mean gap of ``n_boot`` resamples of the items (an item's two losses always move together)."""
    n = len(gaps)
    means = np.empty(n_boot)
    step = max(1, 2_000_000 // max(n, 1))
    for start in range(0, n_boot, step):
        stop = min(n_boot, start + step)
        means[start:stop] = gaps[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    return means


def item_auc(scores: list[float], positive: list[bool]) -> float:
    """Probability that a positive item outscores a negative one (ties count half): ROC AUC, no sklearn."""
    pos = [s for s, p in zip(scores, positive, strict=True) if p]
    neg = [s for s, p in zip(scores, positive, strict=True) if not p]
    if not pos or not neg:
        raise ValueError("need positive and negative items")
    wins = sum((p > q) + 0.5 * (p == q) for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def _token_losses(adapter, texts: list[str]):
    """One pass: summed loss, token count and every token's loss of each text (no BOS, as ``rolling_loss``)."""
    from skywork.eval.scoring import encode_plain, sequence_losses

    sequences = encode_plain(adapter.tokenizer, texts)
    return sequence_losses(adapter.model, sequences, batch_size=adapter.batch_size, keep_token_losses=True)


def score_pairs(
    adapter,
    pairs: PairedItems,
    max_chars: int | None,
    n_bootstrap: int,
    confidence: float,
    alpha: float,
    item_threshold: float,
    rng: np.random.Generator,
    min_k: float = DEFAULT_K,
    n_null: int = 199,
) -> dict:
    """Per-item losses, gaps and min-k% probs; the mean gap with its bootstrap interval; the two-group test."""

    def cut(texts: list[str]) -> list[str]:
        return [t[:max_chars] if max_chars else t for t in texts]

    originals, rephrasings = cut(pairs.originals), cut(pairs.rephrasings)
    a, b = _token_losses(adapter, originals), _token_losses(adapter, rephrasings)
    items = []
    for k, index in enumerate(pairs.indices):
        if a.token_counts[k] == 0 or b.token_counts[k] == 0:
            continue
        lo, lr = a.loss_sums[k] / a.token_counts[k], b.loss_sums[k] / b.token_counts[k]
        mk_o, mk_r = min_k_prob(a.token_losses[k], min_k), min_k_prob(b.token_losses[k], min_k)
        items.append(
            {
                "index": index,
                "loss_original": lo,
                "loss_rephrased": lr,
                "gap": lr - lo,
                "min_k": mk_o,
                "min_k_rephrased": mk_r,
                "min_k_gap": mk_o - mk_r,
                "tokens": [a.token_counts[k], b.token_counts[k]],
                "text": originals[k][:PREVIEW_CHARS],
            }
        )
    if not items:
        raise InputError("every paired item is empty after tokenisation")
    summary = score_gaps(items, alpha, item_threshold, n_bootstrap, confidence, rng, n_null)
    return {
        "view": pairs.view,
        "skipped": pairs.skipped,
        "loss_original": float(np.mean([it["loss_original"] for it in items])),
        "loss_rephrased": float(np.mean([it["loss_rephrased"] for it in items])),
        **summary,
        "min_k_fraction": min_k,
        "per_item": items,
    }


def score_gaps(
    items: list[dict],
    alpha: float,
    item_threshold: float,
    n_bootstrap: int,
    confidence: float,
    rng: np.random.Generator,
    n_null: int = 199,
) -> dict:
    """The set-level paired signal from per-item ``gap`` values; adds ``score``, ``z``, ``p_exposed``, ``flagged``
    to each item. Returns ``gap`` (mean) and ``ci`` (paired bootstrap), ``groups`` (:func:`two_group_test`),
    ``exposed`` (the two groups were called), ``flagged`` / ``flagged_fraction`` and ``item_threshold``."""
    gaps = np.asarray([it["gap"] for it in items], dtype=np.float64)
    groups = two_group_test(gaps, alpha, n_null)
    posterior = groups.pop("posterior")
    for it, p in zip(items, posterior, strict=True):
        it["score"] = float(it["gap"] - groups["style_offset"])
        it["z"] = it["score"] / max(groups["sd"], 1e-12)
        it["p_exposed"] = float(p) if groups["split"] else 0.0
        it["flagged"] = bool((groups["split"] and p > 0.5) or it["z"] > item_threshold)
    boot = paired_bootstrap(gaps, n_bootstrap, rng)
    q = (1.0 - confidence) / 2
    flagged = sum(it["flagged"] for it in items)
    return {
        "items": len(items),
        "gap": float(gaps.mean()),
        "ci": [float(np.quantile(boot, q)), float(np.quantile(boot, 1 - q))],
        "groups": groups,
        "exposed": groups["split"],
        "item_threshold": item_threshold,
        "flagged": flagged,
        "flagged_fraction": flagged / len(items),
    }


def top_items(per_item: list[dict], n: int) -> list[dict]:
    """The ``n`` items with the largest score (the most exposed-looking first)."""
    return sorted(per_item, key=lambda it: -it["score"])[:n]
