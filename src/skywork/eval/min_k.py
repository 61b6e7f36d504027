"""Min-k% prob (Shi et al. 2023, "Detecting Pretraining Data from Large Language Models"): a per-text
membership score that needs no reference text.

A text the model never saw has a few surprising tokens with a very low probability; a text it was trained on has
fewer such outliers. The score is the mean log-probability of the ``k`` fraction of tokens with the *lowest*
log-probability (the paper's default k = 20%; at least one token)::

    min_k(text) = mean( sorted(log p(token_t | tokens_<t))[: max(1, int(k * n))] )     (nats, <= 0)

Higher (closer to 0) = more member-like. The paper thresholds it per model on known members / non-members
(it reports AUC and TPR at low FPR, no universal threshold): its scale moves with the model, the tokenizer and the
text, so here it ranks items (``min_k`` in the per-item results, an AUC in ``bench/leakage.py``) and is never a
verdict on its own. Beside each item's paired loss gap it also has a paired form, ``min_k_gap = min_k(original) -
min_k(rephrasing)``, whose zero is meaningful (the original's outliers are no milder than its rephrasing's).
"""

from __future__ import annotations

import math

DEFAULT_K = 0.2


def min_k_prob(token_losses: list[float], k: float = DEFAULT_K) -> float:
    """Mean log-probability of the ``k`` fraction of least likely tokens (token losses are -log p, nats)."""
    if not 0.0 < k <= 1.0:
        raise ValueError(f"min-k fraction must be in (0, 1], got {k}")
    if not token_losses:
        return math.nan
    worst = sorted(token_losses, reverse=True)[: max(1, int(k * len(token_losses)))]
    return -sum(worst) / len(worst)
