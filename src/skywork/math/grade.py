"""Grade one sampled solution against its gold: correct or not, the answer it gave, its first wrong step and why.

Correctness is the final answer (:func:`skywork.math.answers.extract_answer`) equal to the gold ``#### N``. For a
wrong solution the first wrong step is the first calculator step that

1. does not parse or compute (``unparsable_step``: an unparsable expression is wrong at that step),
2. computes to something else than it claims (``wrong_calculation``), or
3. claims a value the gold chain never reaches (``off_gold_chain``),

and when every step is sound the error is the final answer itself (``wrong_final_answer``, or ``no_answer`` when
the solution commits to none; ``first_wrong_step`` is then None). A correct answer reached through a step whose
arithmetic is wrong is still ``correct`` (the answer is what GSM8K grades) but ``steps_ok`` is False, so data
builders can refuse such lucky solutions as training targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from skywork.math.answers import extract_answer, extract_gold_value, format_number
from skywork.math.steps import Step, chain_values, parse_steps

REASONS = (
    "correct",
    "no_answer",
    "unparsable_step",
    "wrong_calculation",
    "off_gold_chain",
    "wrong_final_answer",
)


@dataclass(frozen=True)
class Gold:
    """A gold solution: its answer and the values its chain reaches."""

    answer: Fraction
    solution: str
    chain: frozenset[Fraction]


def parse_gold(solution: str, question: str = "") -> Gold | None:
    """The gold of a ``#### N`` solution; None when it has no parsable answer (such problems are skipped)."""
    answer = extract_gold_value(solution)
    if answer is None:
        return None
    return Gold(answer, solution, frozenset(chain_values(solution, question)))


@dataclass
class Grade:
    correct: bool
    answer: str | None  # the normalised final answer, e.g. "18"
    answer_source: str | None
    gold: str
    first_wrong_step: int | None  # 1-based index into ``steps``
    reason: str  # one of REASONS
    explanation: str  # one sentence: what went wrong where (empty when correct)
    steps: list[Step] = field(default_factory=list)

    @property
    def steps_ok(self) -> bool:
        return all(s.arithmetic_ok for s in self.steps)

    @property
    def wrong_step(self) -> Step | None:
        return self.steps[self.first_wrong_step - 1] if self.first_wrong_step else None

    def as_dict(self) -> dict:
        return {
            "correct": self.correct,
            "answer": self.answer,
            "answer_source": self.answer_source,
            "gold": self.gold,
            "first_wrong_step": self.first_wrong_step,
            "reason": self.reason,
            "explanation": self.explanation,
            "steps_ok": self.steps_ok,
            "steps": [s.as_dict() for s in self.steps],
        }


def _step_fault(step: Step, gold: Gold) -> tuple[str, str] | None:
    shown = f"<<{step.expression}={step.claimed_text}>>"
    if step.value is None:
        return "unparsable_step", f"{shown} cannot be computed ({step.error})"
    if not step.arithmetic_ok:
        return "wrong_calculation", f"{shown} is wrong: {step.expression} = {format_number(step.value)}"
    claimed = step.claimed if step.claimed is not None else step.value
    if claimed not in gold.chain:
        return (
            "off_gold_chain",
            f"{shown} gives {format_number(claimed)}, a value the correct solution never reaches",
        )
    return None


def grade_solution(completion: str, gold: Gold, allow_last_number: bool = False) -> Grade:
    """Grade ``completion`` (a model's solution text) against ``gold``; never raises on what the model wrote.

    ``allow_last_number`` accepts the last number of the text as the answer when the solution states none
    (lenient; self-compare keeps it off so that a solution must commit to its answer).
    """
    steps = parse_steps(completion)
    found = extract_answer(completion, allow_last_number=allow_last_number)
    answer = format_number(found.value) if found else None
    gold_text = format_number(gold.answer)
    correct = found is not None and found.value == gold.answer
    if correct:
        return Grade(True, answer, found.source, gold_text, None, "correct", "", steps)
    for step in steps:
        fault = _step_fault(step, gold)
        if fault is not None:
            return Grade(False, answer, found.source if found else None, gold_text, step.index, *fault, steps)
    if found is None:
        return Grade(
            False, None, None, gold_text, None, "no_answer", "the solution states no final answer", steps
        )
    explanation = f"every step computes, but the final answer {answer} is not {gold_text}"
    return Grade(False, answer, found.source, gold_text, None, "wrong_final_answer", explanation, steps)
