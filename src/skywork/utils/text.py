"""Text units shared by every n-gram comparison (decontamination, benchmark overlap)."""

from __future__ import annotations

import re

CJK_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNIT_RE = re.compile(rf"[{CJK_RANGES}]|[^\W_{CJK_RANGES}]+")


def units(text: str) -> list[str]:
    """CJK characters one by one and lower-cased alphanumeric words, in order.

    Chinese has no spaces, so a 13-gram of characters plays the role a 13-gram of words plays in English; both
    the data pipeline's decontamination and ``skywork eval overlap`` count overlaps in these units so their
    figures agree.
    """
    return _UNIT_RE.findall(text.lower())
