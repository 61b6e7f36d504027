"""The field's main-text extractors behind one signature, ``html -> text``.

Ours (:mod:`skywork.data.extract`) chooses among some of these per page; the benchmark
(:mod:`skywork.data.extract_eval`) scores all of them side by side. Each is called with the settings its
documentation recommends for main-content extraction; none is tuned on the benchmarks.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable

from skywork.utils.text import cjk_count

Extractor = Callable[[str], str]

# Both log a warning or a traceback for every malformed page and then return what they could; we return ""
# on failure, so their per-page messages are noise.
for _noisy in ("boilerpy3", "readability.readability"):
    logging.getLogger(_noisy).setLevel(logging.CRITICAL)


def trafilatura_text(html: str, favor_recall: bool = False, include_tables: bool = True) -> str:
    """trafilatura's main text, comments dropped (its default settings when ``favor_recall`` is False)."""
    import trafilatura

    text = trafilatura.extract(
        html,
        include_comments=False,
        include_tables=include_tables,
        favor_recall=favor_recall,
        deduplicate=False,
    )
    return text or ""


def resiliparse_text(html: str) -> str:
    """Resiliparse's ``main_content`` plain text (the fast extractor datatrove offers beside trafilatura)."""
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(html, main_content=True, alt_texts=False, links=False, form_fields=False)


def _html_to_text(fragment: str) -> str:
    """Text of an HTML fragment, one line per block element."""
    from resiliparse.extract.html2text import extract_plain_text

    return extract_plain_text(fragment, main_content=False, alt_texts=False, links=False, form_fields=False)


def readability_text(html: str) -> str:
    """readability-lxml's article (Mozilla Readability's scoring), its HTML summary turned into text."""
    from readability import Document

    try:
        return _html_to_text(Document(html).summary(html_partial=True))
    except Exception:  # readability raises on pages without a body it can score
        return ""


def justext_text(html: str) -> str:
    """jusText's good paragraphs. Its classifier counts stop words; there is no Chinese list, so pages in Han
    script are classified on length and link density alone (stop-word thresholds at 0, and the length
    thresholds cut to about a third: a Han character carries about three Latin letters' worth of text)."""
    import justext

    han = cjk_count(html) > 100
    try:
        if han:
            paragraphs = justext.justext(
                html, frozenset(), length_low=25, length_high=70, stopwords_low=0.0, stopwords_high=0.0
            )
        else:
            paragraphs = justext.justext(html, justext.get_stoplist("English"))
    except Exception:  # empty or unparsable documents
        return ""
    return "\n".join(p.text for p in paragraphs if not p.is_boilerplate)


def boilerpipe_text(html: str) -> str:
    """boilerpy3's ``ArticleExtractor`` (the Python port of Kohlschütter's boilerpipe)."""
    from boilerpy3 import extractors

    try:
        return extractors.ArticleExtractor(raise_on_failure=False).get_content(html) or ""
    except Exception:
        return ""


def inscriptis_text(html: str) -> str:
    """inscriptis' rendering of the whole page (layout-aware, no boilerplate removal: a recall ceiling)."""
    import inscriptis

    return inscriptis.get_text(html)


def trafilatura_recall_text(html: str) -> str:
    """trafilatura with ``favor_recall=True`` (what our single-extractor path has always used)."""
    return trafilatura_text(html, favor_recall=True)


# The six extractors the benchmark compares, at their recommended settings.
PEER_EXTRACTORS: dict[str, Extractor] = {
    "trafilatura": trafilatura_text,
    "resiliparse": resiliparse_text,
    "readability": readability_text,
    "justext": justext_text,
    "boilerpy3": boilerpipe_text,
    "inscriptis": inscriptis_text,
}
# Everything ours may vote with: the peers plus trafilatura's recall mode.
EXTRACTORS: dict[str, Extractor] = PEER_EXTRACTORS | {"trafilatura_recall": trafilatura_recall_text}


def char_f1(predicted: str, gold: str) -> float:
    """Character F1 ignoring white space: the extraction benchmarks' score, and the vote's agreement test."""
    pred = Counter("".join(predicted.split()))
    ref = Counter("".join(gold.split()))
    if not pred or not ref:
        return float(not pred and not ref)
    common = sum((pred & ref).values())
    if common == 0:
        return 0.0
    precision, recall = common / sum(pred.values()), common / sum(ref.values())
    return 2 * precision * recall / (precision + recall)
