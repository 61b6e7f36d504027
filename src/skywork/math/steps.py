"""Calculator steps ``<<expr=value>>`` (the GSM8K annotation) and a safe arithmetic evaluator.

:func:`evaluate` parses an expression with :mod:`ast` and walks the tree itself: numbers, ``+ - * / // % **``,
parentheses and unary minus/plus, in exact :class:`~fractions.Fraction` arithmetic. Anything else (names, calls,
attributes, comparisons) is refused, so nothing a model writes is ever executed; exponents and magnitudes are
bounded so ``9**9**9`` cannot stall a grader. ``1,000`` inside an expression reads as 1000, ``$`` and ``x``/``×``
/``÷`` are read as a currency sign and the two operators.

A step is *checked* twice: its own arithmetic (the expression's value against the value it claims; a claim with
``d`` decimals may be rounded to ``d`` places, as ``<<10/3=3.33>>``), and its place on the gold chain: a value the
gold solution never reaches (none of its step values, its answer or the numbers of the question) marks the step
where a wrong solution left the right path.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from fractions import Fraction

from skywork.math.answers import format_number, parse_number

STEP_RE = re.compile(r"<<([^<>]*?)=([^<>=]*)>>")
MAX_EXPRESSION_CHARS = 200
MAX_EXPONENT = 64
MAX_MAGNITUDE = Fraction(10) ** 30


class ExpressionError(ValueError):
    """An expression the safe evaluator refuses or cannot compute (the message says why)."""


@dataclass(frozen=True)
class Step:
    """One ``<<expression=claimed>>`` annotation of a solution (``index`` counts from 1)."""

    index: int
    expression: str
    claimed_text: str
    claimed: Fraction | None
    value: Fraction | None  # what the expression computes to; None when it does not parse or compute
    error: str | None  # why it does not compute (None when it does)

    @property
    def arithmetic_ok(self) -> bool:
        return (
            self.value is not None
            and self.claimed is not None
            and claim_matches(self.value, self.claimed_text)
        )

    def as_dict(self) -> dict:
        return {
            "index": self.index,
            "expression": self.expression,
            "claimed": self.claimed_text,
            "value": format_number(self.value) if self.value is not None else None,
            "arithmetic_ok": self.arithmetic_ok,
            "error": self.error,
        }


_OPERATORS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: Fraction(a // b),
    ast.Mod: lambda a, b: a % b,
}


def _normalise(expression: str) -> str:
    text = expression.strip().replace("×", "*").replace("÷", "/").replace("−", "-").replace("$", "")
    text = re.sub(r"(?<=\d)\s*[xX]\s*(?=[\d(.])", "*", text)  # 3 x 4 -> 3*4
    return re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", text)  # 1,000 -> 1000


def evaluate(expression: str) -> Fraction:
    """The exact value of an arithmetic ``expression``; :class:`ExpressionError` for anything else."""
    text = _normalise(expression)
    if not text:
        raise ExpressionError("empty expression")
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError):
        raise ExpressionError(f"does not parse: {expression!r}") from None
    return _value(tree.body)


def _value(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        number = Fraction(repr(node.value)) if isinstance(node.value, float) else Fraction(node.value)
        return _bounded(number)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = _value(node.operand)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow):
            return _bounded(_power(left, right))
        operator = _OPERATORS.get(type(node.op))
        if operator is None:
            raise ExpressionError(f"operator {type(node.op).__name__} is not arithmetic")
        if right == 0 and isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)):
            raise ExpressionError("division by zero")
        return _bounded(operator(left, right))
    raise ExpressionError(f"{type(node).__name__} is not allowed in a calculator step")


def _power(base: Fraction, exponent: Fraction) -> Fraction:
    if exponent.denominator != 1:
        raise ExpressionError("only whole exponents are computed exactly")
    if abs(exponent) > MAX_EXPONENT:
        raise ExpressionError(f"exponent above {MAX_EXPONENT}")
    if base == 0 and exponent < 0:
        raise ExpressionError("division by zero")
    return base ** int(exponent)


def _bounded(value: Fraction) -> Fraction:
    if abs(value) > MAX_MAGNITUDE:
        raise ExpressionError("value too large for a calculator step")
    return value


def claim_matches(value: Fraction, claimed_text: str) -> bool:
    """Whether a step's claimed value is its expression's value (exactly, or rounded to the claim's decimals)."""
    claimed = parse_number(claimed_text)
    if claimed is None:
        return False
    if claimed == value:
        return True
    decimals = re.search(r"\.(\d+)", claimed_text.replace(",", ""))
    if decimals is None or "/" in claimed_text:
        return False
    places = len(decimals.group(1))
    return abs(value - claimed) <= Fraction(1, 2 * 10**places)


def parse_steps(solution: str) -> list[Step]:
    """Every ``<<expr=value>>`` of ``solution`` in order, each evaluated (never raising)."""
    steps = []
    for i, match in enumerate(STEP_RE.finditer(solution), start=1):
        expression, claimed_text = match.group(1).strip(), match.group(2).strip()
        try:
            value, error = evaluate(expression), None
        except ExpressionError as err:
            value, error = None, str(err)
        steps.append(Step(i, expression, claimed_text, parse_number(claimed_text), value, error))
    return steps


def chain_values(gold_solution: str, question: str = "") -> set[Fraction]:
    """The values the gold chain reaches: its steps' values and claims, its ``#### N`` and the question's numbers."""
    from skywork.math.answers import NUMBER_RE, extract_gold_value

    values: set[Fraction] = set()
    for step in parse_steps(gold_solution):
        values.update(v for v in (step.value, step.claimed) if v is not None)
    gold = extract_gold_value(gold_solution)
    if gold is not None:
        values.add(gold)
    for token in NUMBER_RE.findall(question):
        number = parse_number(token)
        if number is not None:
            values.add(number)
    return values
