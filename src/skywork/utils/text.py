"""Text units and the CJK character test shared by every stage (language ID, dedup, decontamination, overlap)."""

from __future__ import annotations

import re

# CJK ideographs: extension A, the unified block and compatibility ideographs (the BMP ranges every stage uses).
CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_CODEPOINTS = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
CJK_RE = re.compile(f"[{CJK_RANGES}]")
_UNIT_RE = re.compile(rf"[{CJK_RANGES}]|[^\W_{CJK_RANGES}]+")


def is_cjk(char: str) -> bool:
    """True for one CJK ideograph of :data:`CJK_RANGES`."""
    return bool(CJK_RE.fullmatch(char))


def cjk_count(text: str) -> int:
    """Number of CJK ideographs in ``text``."""
    return len(CJK_RE.findall(text))


def has_cjk(text: str, prefix: int | None = None) -> bool:
    """Whether ``text`` (or its first ``prefix`` characters) holds any CJK ideograph."""
    return CJK_RE.search(text if prefix is None else text[:prefix]) is not None


def zh_or_en(text: str, prefix: int = 300) -> str:
    """``"zh"`` when the first ``prefix`` characters hold a CJK ideograph, else ``"en"`` (a cheap label for
    generated or pre-sorted text; real language ID is ``skywork.data.langid``)."""
    return "zh" if has_cjk(text, prefix) else "en"


def units(text: str) -> list[str]:
    """CJK characters one by one and lower-cased alphanumeric words, in order.

    Chinese has no spaces, so a 13-gram of characters plays the role a 13-gram of words plays in English; both
    the data pipeline's decontamination and ``skywork eval overlap`` count overlaps in these units so their
    figures agree.
    """
    return _UNIT_RE.findall(text.lower())
