"""Text units and the CJK character test shared by every stage (language ID, dedup, decontamination, overlap)."""

from __future__ import annotations

import re

# CJK ideographs: extension A, the unified block and compatibility ideographs (the BMP ranges every stage uses).
CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_CODEPOINTS = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
CJK_RE = re.compile(f"[{CJK_RANGES}]")
# The tokenizer also counts the supplementary-plane ideographs (extensions B-H, U+20000-U+323AF): a vocabulary
# must decide about every ideograph it meets, while the data stages keep to the BMP ranges above.
CJK_IDEOGRAPH_RANGES = CJK_RANGES + "\U00020000-\U000323af"
CJK_IDEOGRAPH_RE = re.compile(f"[{CJK_IDEOGRAPH_RANGES}]")
# The unified block alone (U+4E00-U+9FFF): the cheap zh/en label the demo corpus and the collect stage write.
CJK_UNIFIED_RE = re.compile("[\u4e00-\u9fff]")
_UNIT_RE = re.compile(rf"[{CJK_RANGES}]|[^\W_{CJK_RANGES}]+")


def is_cjk(char: str) -> bool:
    """True for one CJK ideograph of :data:`CJK_RANGES`."""
    return bool(CJK_RE.fullmatch(char))


def cjk_count(text: str) -> int:
    """Number of CJK ideographs in ``text``."""
    return len(CJK_RE.findall(text))


def is_cjk_ideograph(char: str) -> bool:
    """True for one ideograph of :data:`CJK_IDEOGRAPH_RANGES` (the BMP ranges and the supplementary planes)."""
    return bool(CJK_IDEOGRAPH_RE.fullmatch(char))


def has_cjk(text: str, prefix: int | None = None, pattern: re.Pattern = CJK_RE) -> bool:
    """Whether ``text`` (or its first ``prefix`` characters) holds any CJK ideograph (of ``pattern``)."""
    return pattern.search(text if prefix is None else text[:prefix]) is not None


def zh_or_en(text: str, prefix: int = 300, pattern: re.Pattern = CJK_RE) -> str:
    """``"zh"`` when the first ``prefix`` characters hold a CJK ideograph (of ``pattern``), else ``"en"`` (a cheap
    label for generated or pre-sorted text; real language ID is ``skywork.data.langid``)."""
    return "zh" if has_cjk(text, prefix, pattern) else "en"


def units(text: str) -> list[str]:
    """CJK characters one by one and lower-cased alphanumeric words, in order.

    Chinese has no spaces, so a 13-gram of characters plays the role a 13-gram of words plays in English; both
    the data pipeline's decontamination and ``skywork eval overlap`` count overlaps in these units so their
    figures agree.
    """
    return _UNIT_RE.findall(text.lower())
