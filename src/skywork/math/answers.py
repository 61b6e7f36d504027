"""Final answers: find the one a solution commits to, and normalise numbers so that equal values compare equal.

A value is a :class:`fractions.Fraction`, so ``0.5``, ``1/2`` and ``50%``-free ``.50`` are one value and no float
rounding decides a grade. Normalisation: thousands commas (``1,234``), a currency sign (``$18``, ``¥18``), a
trailing unit or full stop (``18 dollars.``, ``18元``, ``18千米``), a percent sign (``50%`` is the number 50, as
GSM8K's gold answers write percentages), fractions (``3/4``, ``-1 1/2`` is not read as a mixed number: ``-1``),
decimals (``2.50``). Where a solution states its answer, in this order of trust:

1. ``#### N`` (the GSM8K gold layout; the last one wins),
2. "The answer is N" / "the answer is: $N" (the official demo's "So, the answer is $18."),
3. "答案是 N" / "答案：N" / "答：N" (Chinese),
4. otherwise the last number in the text (``source`` says ``last_number``, which graders may refuse).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

# A number as written in solutions: optional sign and currency, digits with optional thousands commas, decimals,
# an optional "/denominator" and an optional percent sign.
NUMBER_RE = re.compile(r"[-−]?[$¥€£]?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:/\d+)?%?|[-−]?\.\d+")
HASH_RE = re.compile(r"####\s*([^\n]*)")
ANSWER_IS_RE = re.compile(r"answer\s+is\s*:?\s*([^\n]*)", re.IGNORECASE)
ZH_ANSWER_RE = re.compile(r"(?:答案是|答案为|答案：|答案:|答：|答:)\s*([^\n]*)")


@dataclass(frozen=True)
class Answer:
    """A final answer: its value, the text it was read from and which rule found it."""

    value: Fraction
    text: str
    source: str  # "hash" | "answer_is" | "zh_answer" | "last_number"


def parse_number(text: str) -> Fraction | None:
    """The first number in ``text`` (normalised as the module says), or None when there is none."""
    match = NUMBER_RE.search(text.replace("−", "-"))
    return _to_fraction(match.group(0)) if match else None


def _to_fraction(token: str) -> Fraction | None:
    token = token.replace(",", "").replace("−", "-").rstrip("%")
    for sign in "$¥€£":
        token = token.replace(sign, "")
    try:
        if "/" in token:
            numerator, denominator = token.split("/", 1)
            den = Fraction(denominator)
            return Fraction(numerator) / den if den != 0 else None
        return Fraction(token)
    except (ValueError, ZeroDivisionError):
        return None


def format_number(value: Fraction) -> str:
    """A value as a solution would write it: ``18``, ``2.5``, ``1/3`` (non-terminating decimals stay fractions)."""
    if value.denominator == 1:
        return str(value.numerator)
    den = value.denominator
    while den % 2 == 0:
        den //= 2
    while den % 5 == 0:
        den //= 5
    if den == 1:  # terminates: print it exactly as a decimal
        text = f"{float(value):.12f}".rstrip("0").rstrip(".")
        if Fraction(text) == value:
            return text
    return f"{value.numerator}/{value.denominator}"


def extract_answer(text: str, allow_last_number: bool = True) -> Answer | None:
    """The final answer ``text`` commits to (see the module docstring for the order), or None."""
    for source, pattern in (("hash", HASH_RE), ("answer_is", ANSWER_IS_RE), ("zh_answer", ZH_ANSWER_RE)):
        matches = pattern.findall(text)
        for tail in reversed(matches):
            value = parse_number(tail)
            if value is not None:
                return Answer(value, tail.strip(), source)
    if allow_last_number:
        numbers = NUMBER_RE.findall(text.replace("−", "-"))
        for token in reversed(numbers):
            value = _to_fraction(token)
            if value is not None:
                return Answer(value, token, "last_number")
    return None


def extract_gold_value(answer: str) -> Fraction | None:
    """A gold solution's answer: the number after its last ``####`` (nothing else is trusted for gold)."""
    found = extract_answer(answer, allow_last_number=False)
    return found.value if found is not None and found.source == "hash" else None


def same_value(a: Fraction | None, b: Fraction | None) -> bool:
    return a is not None and b is not None and a == b
