"""Main-text extraction from HTML: a weighted vote of five extractors over the page's lines, then a
Chinese-aware line cleanup.

Every extractor in the field keeps some boilerplate and drops some content, and they err on different lines.
The page is rendered once in full (one line per block element); each line gets the summed weight of the
extractors whose output contains it, and the lines at or above a threshold are the main text, in page order.
The weights and the threshold were fitted per script (Latin, Han) on three gold benchmarks and judged by
cross-validation (``skywork.data.extract_eval``; figures in docs/data.md). The text chosen (the vote, or
trafilatura's own when the two agree) is then checked against the consensus of all the extractors
(:func:`consensus_choice`). ``method="trafilatura"`` is the single-extractor path (trafilatura alone: about 3.5x
faster).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from skywork.data.extract_peers import EXTRACTORS, char_f1
from skywork.utils.text import cjk_count

# Lines that are navigation, contact or page furniture on Chinese (and English) pages.
_NAV_WORDS = (
    "首页",
    "上一页",
    "下一页",
    "上一篇",
    "下一篇",
    "返回顶部",
    "返回首页",
    "网站地图",
    "设为首页",
    "加入收藏",
    "联系我们",
    "关于我们",
    "版权所有",
    "免责声明",
    "友情链接",
    "当前位置",
    "您的位置",
    "责任编辑",
    "扫一扫",
    "分享到",
    "点击查看",
    "相关阅读",
    "相关文章",
    "热门推荐",
    "登录",
    "注册",
    "ICP备",
    "公网安备",
)
_CONTACT_RE = re.compile(r"(电话|手机|传真|邮箱|地址|邮编|QQ|微信|Tel|Fax|E-?mail)\s*[:：]", re.IGNORECASE)
_SEPARATORS_RE = re.compile(r"^[\s|｜/>»›·•\-—_=*#]+$")


def chinese_cleanup(text: str) -> str:
    """Drop short navigation / contact / copyright lines and empty titles; keep everything else in order."""
    kept = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line or _SEPARATORS_RE.match(line):
            continue
        short = len(line) <= 40
        if short and any(word in line for word in _NAV_WORDS):
            continue
        if short and _CONTACT_RE.search(line):
            continue
        if short and line.count("|") + line.count("｜") + line.count(">") >= 2:
            continue  # breadcrumbs and menus
        kept.append(line)
    return "\n".join(kept)


@dataclass(frozen=True)
class VoteRule:
    """Voter weights, the vote threshold, and the agreement above which the ``fallback`` extractor's own text
    (one of :data:`FALLBACKS`, a trafilatura mode) is returned: when the vote and trafilatura agree this
    closely, trafilatura's text is kept, since the vote can only rebuild it from whole page lines and loses what
    trafilatura cut or joined inside a line.

    With ``consensus_margin`` set, that choice is then checked against the consensus of all extractors
    (:func:`consensus_choice`): a candidate text (the vote or one of :data:`FALLBACKS`) that agrees with the other
    outputs by more than the margin more than the chosen one replaces it. Extractors err on different pages: a
    trafilatura that kept a comment thread or dropped half the article is outvoted there by the others."""

    weights: dict[str, float]
    threshold: float
    agreement: float = 1.01  # > 1: never fall back
    fallback: str = "trafilatura_recall"
    consensus_margin: float | None = None  # None: no consensus check

    def to_dict(self) -> dict:
        return {
            "weights": self.weights,
            "threshold": self.threshold,
            "agreement": self.agreement,
            "fallback": self.fallback,
            "consensus_margin": self.consensus_margin,
        }


# Fitted by ``skywork.data.extract_eval.fit_page_rules`` on all pages of the three benchmarks, one rule per
# script (see docs/data.md for the cross-validation); voters with weight 0 are run only for the consensus check.
VOTE_RULES: dict[str, VoteRule] = {
    "latin": VoteRule(
        {
            "trafilatura": 0.0,
            "trafilatura_recall": 3.0,
            "resiliparse": 1.5,
            "readability": 3.0,
            "justext": 0.0,
            "boilerpy3": 1.0,
        },
        4.25,
        0.6,
        "trafilatura",
        0.03,
    ),
    "han": VoteRule(
        {
            "trafilatura": 0.0,
            "trafilatura_recall": 0.0,
            "resiliparse": 1.5,
            "readability": 0.5,
            "justext": 1.5,
            "boilerpy3": 1.0,
        },
        1.75,
        0.97,
        "trafilatura",
        0.02,
    ),
}
VOTERS = tuple(VOTE_RULES["latin"].weights)
FALLBACK = "trafilatura_recall"  # the default fallback, already a voter: it costs no extra extraction
FALLBACKS = ("trafilatura_recall", "trafilatura")  # the fit chooses one per script
SCRIPTS = ("latin", "han")
CANDIDATES = ("vote", *FALLBACKS)  # the texts the consensus check chooses among
METHODS = ("vote", "trafilatura")
_WHITESPACE_RE = re.compile(r"\s+")
# Lines shorter than this (whitespace removed) count as contained only as a whole line of an extractor's
# output, not as a substring of it: "Home" or "分享" occur inside article text too.
_MIN_SUBSTRING_CHARS = 12


def page_lines(html: str) -> list[str]:
    """The whole page as text, one line per block element (Resiliparse, no boilerplate removal)."""
    from resiliparse.extract.html2text import extract_plain_text

    full = extract_plain_text(html, main_content=False, alt_texts=False, links=False, form_fields=False)
    return [line.strip() for line in full.split("\n") if line.strip()]


def line_votes(lines: Sequence[str], outputs: Sequence[str]) -> np.ndarray:
    """``(lines, extractors)`` booleans: whether each extractor's output contains each page line."""
    votes = np.zeros((len(lines), len(outputs)), dtype=bool)
    squeezed = [_WHITESPACE_RE.sub("", line) for line in lines]
    for j, output in enumerate(outputs):
        whole = _WHITESPACE_RE.sub("", output)
        output_lines = {_WHITESPACE_RE.sub("", line) for line in output.split("\n")}
        for i, line in enumerate(squeezed):
            votes[i, j] = line in output_lines or (len(line) >= _MIN_SUBSTRING_CHARS and line in whole)
    return votes


def voted_text(lines: Sequence[str], votes: np.ndarray, weights: Sequence[float], threshold: float) -> str:
    """The lines whose weighted vote reaches ``threshold``, in page order."""
    if not len(lines):
        return ""
    keep = votes @ np.asarray(weights, dtype=float) >= threshold
    return "\n".join(line for line, kept in zip(lines, keep, strict=True) if kept)


def page_script(html: str) -> str:
    """``"han"`` for pages with more than 100 Han characters in their markup, else ``"latin"``."""
    return "han" if cjk_count(html) > 100 else "latin"


def consensus_choice(agreement: Callable[[str, str], float], base: str, margin: float) -> str:
    """Which text to return, by name: ``base`` unless another of :data:`CANDIDATES` has a mean agreement
    (``agreement(a, b)``, character F1) with the other texts (the vote and every voter's output) more than
    ``margin`` above ``base``'s; then the candidate agreeing most (ties: the earlier one)."""
    names = ("vote", *VOTERS)

    def mean_agreement(name: str) -> float:
        return sum(agreement(name, other) for other in names if other != name) / (len(names) - 1)

    scores = {name: mean_agreement(name) for name in dict.fromkeys((*CANDIDATES, base))}
    best = max(CANDIDATES, key=scores.__getitem__)
    return best if scores[best] > scores[base] + margin else base


def vote_extract(html: str, rules: Mapping[str, VoteRule] | None = None) -> str:
    """Main text by the weighted line vote of the page's script rule (default: the fitted :data:`VOTE_RULES`),
    or trafilatura's own text (``rule.fallback``) when the two agree at least ``rule.agreement`` (character F1),
    then, with ``rule.consensus_margin``, the :func:`consensus_choice` among those texts."""
    rule = (VOTE_RULES if rules is None else rules)[page_script(html)]
    weights = {name: weight for name, weight in rule.weights.items() if weight}
    lines = page_lines(html)
    needed = VOTERS if rule.consensus_margin is not None else weights
    outputs = {name: EXTRACTORS[name](html) for name in needed}
    text = voted_text(
        lines, line_votes(lines, [outputs[name] for name in weights]), list(weights.values()), rule.threshold
    )
    base = "vote"
    if rule.agreement <= 1.0:
        if rule.fallback not in outputs:
            outputs[rule.fallback] = EXTRACTORS[rule.fallback](html)
        if char_f1(text, outputs[rule.fallback]) >= rule.agreement:
            base = rule.fallback
    texts = outputs | {"vote": text}
    if rule.consensus_margin is not None:
        base = consensus_choice(lambda a, b: char_f1(texts[a], texts[b]), base, rule.consensus_margin)
    return texts[base]


def extract_main_text(
    html: str, chinese_cleanup: bool = True, favor_recall: bool = True, method: str = "vote"
) -> str:
    """Main text of an HTML page, optionally followed by :func:`chinese_cleanup`.

    ``method="vote"`` (default): the weighted line vote; ``"trafilatura"``: trafilatura alone (no comments,
    tables kept, ``favor_recall`` as given).
    """
    if method == "vote":
        text = vote_extract(html)
    elif method == "trafilatura":
        text = EXTRACTORS["trafilatura_recall" if favor_recall else "trafilatura"](html)
    else:
        raise ValueError(f"unknown extraction method {method!r} (expected one of {METHODS})")
    return globals()["chinese_cleanup"](text) if chinese_cleanup else text
