"""Domain loss / perplexity, the official protocol of the report's Table 6 (``eval_loss.py``).

Each text is cut to its first ``max_chars`` characters (1365 = 4096 // 3: the comparison is at equal text, not
equal token count), encoded without BOS, and scored by summed cross-entropy over positions 1..n. A file's loss is
its summed CE over its predicted-token count; the pooled loss pools all documents of all files the same way (the
report's Average column is exp of that pooled mean, not the mean of the domain perplexities).

With a reference tokenizer, models with different vocabularies compare fairly: ``normalized_loss = loss x
tokens_model / tokens_reference`` (the repo README's rescaling to Skywork's token count) and bits per character
(summed CE / ln 2 / characters).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from skywork.eval.adapter import ModelAdapter
from skywork.eval.data import read_texts
from skywork.eval.requests import RollingLoss
from skywork.eval.scoring import encode_plain
from skywork.utils.progress import progress as progress_display

OFFICIAL_MAX_CHARS = 1365


def _summary(loss_sum: float, tokens: int, chars: int, documents: int, ref_tokens: int | None) -> dict:
    loss = loss_sum / tokens if tokens else float("nan")
    out = {
        "loss": loss,
        "tokens": tokens,
        "ppl": math.exp(loss) if tokens else float("nan"),
        "documents": documents,
        "chars": chars,
    }
    if ref_tokens is not None:
        norm = loss * tokens / ref_tokens if ref_tokens else float("nan")
        out["reference_tokens"] = ref_tokens
        out["normalized_loss"] = norm
        out["normalized_ppl"] = math.exp(norm) if ref_tokens else float("nan")
        out["bits_per_char"] = loss_sum / math.log(2) / chars if chars else float("nan")
    return out


def evaluate_loss(
    model,
    tokenizer,
    files: list[str | Path] | str | Path,
    max_chars: int | None = OFFICIAL_MAX_CHARS,
    batch_size: int = 16,
    reference_tokenizer=None,
    max_samples: int | None = None,
    progress: bool = False,
) -> dict:
    """Official domain loss per file and pooled over all documents.

    Returns ``{"files": {PATH: {"loss", "tokens", "ppl", "documents", "chars", ["normalized_loss",
    "normalized_ppl", "reference_tokens", "bits_per_char"]}}, "pooled": {...same keys...}, "max_chars",
    "batch_size", "tokens_per_s", "padding_fraction", "seconds"}``.
    """
    if isinstance(files, (str, Path)):
        files = [files]
    if not files:
        raise ValueError("evaluate_loss: no data files given")
    texts_per_file = {}
    for path in files:
        texts = read_texts(path, max_samples=max_samples)
        texts_per_file[str(path)] = [t[:max_chars] if max_chars else t for t in texts]
    all_texts = [t for texts in texts_per_file.values() for t in texts]
    adapter = ModelAdapter(model, tokenizer, batch_size)
    with progress_display("loss", total=len(all_texts), unit="docs", enabled=progress) as bar:
        start = time.perf_counter()
        scored = adapter.rolling_loss([RollingLoss(t) for t in all_texts], on_batch=bar.advance)
        seconds = time.perf_counter() - start

    ref_counts = None
    if reference_tokenizer is not None:
        ref_counts = [max(len(s) - 1, 0) for s in encode_plain(reference_tokenizer, all_texts)]

    results: dict = {"files": {}}
    offset = 0
    for path, texts in texts_per_file.items():
        span = range(offset, offset + len(texts))
        offset += len(texts)
        results["files"][path] = _summary(
            sum(scored.loss_sums[i] for i in span),
            sum(scored.token_counts[i] for i in span),
            sum(len(all_texts[i]) for i in span),
            len(texts),
            sum(ref_counts[i] for i in span) if ref_counts is not None else None,
        )
    total_tokens = sum(scored.token_counts)
    results["pooled"] = _summary(
        sum(scored.loss_sums),
        total_tokens,
        sum(len(t) for t in all_texts),
        len(all_texts),
        sum(ref_counts) if ref_counts is not None else None,
    )
    results.update(
        {
            "max_chars": max_chars,
            "batch_size": batch_size,
            "seconds": seconds,
            "tokens_per_s": (total_tokens + len(all_texts)) / seconds if seconds > 0 else float("nan"),
            "padding_fraction": scored.padding_fraction,
        }
    )
    return results
