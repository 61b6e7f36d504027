"""Build a round's training data from graded samples: correct solutions as SFT targets, and comparison examples.

A comparison example is an SFT row whose prompt holds the problem and one wrong self-sample (and, with
``show_right_solution``, a right one beside it) and whose target first names the wrong solution's first wrong step
and why (from :mod:`skywork.math.grade`), then gives a correct solution: a correct self-sample of the same problem
when one exists, else the gold. Rows are alpaca-format (``instruction``, ``output``) plus ``kind``
(``correct`` | ``comparison``) and ``problem_id``; with the official template that is exactly the math-chat format.
Everything is a pure function of the samples and the seed, so a rebuilt round is the same round.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict

from skywork.math.config import BuildSection
from skywork.math.data import MathProblem

_TEXT = {
    "en": {
        "intro": "A student's solution:",
        "right": "A correct solution for comparison:",
        "ask": "Find the first wrong step of the student's solution, then solve the problem correctly.",
        "step": "The first wrong step is step {index}: {why}.",
        "final": "Every step of the student's solution computes, but {why}.",
        "answer": "A correct solution:",
        "unparsable_step": "<<{expr}={claim}>> cannot be computed",
        "wrong_calculation": "<<{expr}={claim}>> is a wrong calculation, {expr} = {value}",
        "off_gold_chain": "<<{expr}={claim}>> gives {claim}, which is not a quantity this problem needs",
        "wrong_final_answer": "the final answer {answer} is wrong",
        "no_answer": "it never states a final answer",
    },
    "zh": {
        "intro": "一个学生的解答：",
        "right": "作为对比，一个正确的解答：",
        "ask": "请找出这个学生解答中第一个错误的步骤，然后正确地解答这道题。",
        "step": "第一个错误的步骤是第{index}步：{why}。",
        "final": "这个解答的每一步都算对了，但是{why}。",
        "answer": "正确的解答：",
        "unparsable_step": "<<{expr}={claim}>>无法计算",
        "wrong_calculation": "<<{expr}={claim}>>算错了，{expr}={value}",
        "off_gold_chain": "<<{expr}={claim}>>得到{claim}，这不是这道题需要的量",
        "wrong_final_answer": "最后的答案{answer}是错的",
        "no_answer": "它没有给出最后的答案",
    },
}


def _text(lang: str) -> dict[str, str]:
    return _TEXT["zh" if lang == "zh" else "en"]


def describe_error(grade: dict, lang: str) -> str:
    """The target's first sentence: which step went wrong and why, in the problem's language."""
    text = _text(lang)
    step = grade["steps"][grade["first_wrong_step"] - 1] if grade.get("first_wrong_step") else None
    if step is None:
        return text["final"].format(why=text[grade["reason"]].format(answer=grade.get("answer")))
    why = text[grade["reason"]].format(expr=step["expression"], claim=step["claimed"], value=step["value"])
    return text["step"].format(index=grade["first_wrong_step"], why=why)


def comparison_example(problem: MathProblem, wrong: dict, right: str, shown_right: str | None) -> dict:
    """One comparison row; ``wrong`` is a graded sample (``solution``, ``grade``)."""
    text = _text(problem.lang)
    parts = [problem.question, f"{text['intro']}\n{wrong['solution']}"]
    if shown_right is not None:
        parts.append(f"{text['right']}\n{shown_right}")
    parts.append(text["ask"])
    output = f"{describe_error(wrong['grade'], problem.lang)}\n{text['answer']}\n{right}"
    return {
        "instruction": "\n\n".join(parts),
        "output": output,
        "kind": "comparison",
        "problem_id": problem.id,
        "lang": problem.lang,
        "reason": wrong["grade"]["reason"],
    }


def dedup_key(sample: dict, mode: str) -> str | tuple:
    if mode == "steps":
        steps = tuple((s["expression"].replace(" ", ""), s["claimed"]) for s in sample["grade"]["steps"])
        return steps, sample["grade"]["answer"]
    if mode == "exact":
        return re.sub(r"\s+", " ", sample["solution"]).strip()
    return sample["index"]


def build_round_data(
    problems: list[MathProblem], samples: list[dict], config: BuildSection, seed: int
) -> tuple[list[dict], dict]:
    """The round's SFT rows and their counts; ``samples`` are graded rows (``problem_id``, ``solution``, ``grade``)."""
    rng = random.Random(seed)
    by_problem: dict[str, list[dict]] = defaultdict(list)
    for sample in samples:
        by_problem[sample["problem_id"]].append(sample)
    correct_rows, comparisons_by_problem = [], []
    counts = {"duplicates_removed": 0, "lucky_answers_refused": 0, "problems_with_correct": 0}
    for problem in problems:
        graded = by_problem.get(problem.id, [])
        right = [s for s in graded if s["grade"]["correct"]]
        clean = [s for s in right if s["grade"]["steps_ok"] or not config.require_valid_steps]
        counts["lucky_answers_refused"] += len(right) - len(clean)
        kept, seen = [], set()
        for sample in clean:
            key = dedup_key(sample, config.dedup)
            if key in seen:
                counts["duplicates_removed"] += 1
                continue
            seen.add(key)
            kept.append(sample)
        if config.max_correct_per_problem:
            kept = kept[: config.max_correct_per_problem]
        counts["problems_with_correct"] += bool(kept)
        for sample in kept:
            correct_rows.append(
                {
                    "instruction": problem.question,
                    "output": sample["solution"],
                    "kind": "correct",
                    "problem_id": problem.id,
                    "lang": problem.lang,
                }
            )
        wrong = [s for s in graded if not s["grade"]["correct"]]
        rng.shuffle(wrong)
        rows = []
        for i, sample in enumerate(wrong[: config.comparisons_per_problem]):
            target = (
                kept[i % len(kept)]["solution"]
                if kept and config.right_solution == "self_then_gold"
                else problem.solution
            )
            shown = None
            if config.show_right_solution:
                others = [s["solution"] for s in kept if s["solution"] != target]
                shown = others[0] if others else problem.solution
            rows.append(comparison_example(problem, sample, target, shown))
        comparisons_by_problem.append(rows)
    comparisons = _take_round_robin(
        comparisons_by_problem, _comparison_budget(config.mix_ratio, correct_rows, comparisons_by_problem)
    )
    rows = correct_rows + comparisons
    rng.shuffle(rows)
    counts.update(
        correct_examples=len(correct_rows),
        comparison_examples=len(comparisons),
        comparisons_available=sum(len(r) for r in comparisons_by_problem),
        examples=len(rows),
        comparison_share=len(comparisons) / len(rows) if rows else 0.0,
    )
    return rows, counts


def _comparison_budget(mix_ratio: float, correct_rows: list, by_problem: list[list[dict]]) -> int:
    available = sum(len(r) for r in by_problem)
    if mix_ratio <= 0:
        return 0
    if mix_ratio >= 1 or not correct_rows:
        return available
    return min(available, round(mix_ratio / (1 - mix_ratio) * len(correct_rows)))


def _take_round_robin(by_problem: list[list[dict]], budget: int) -> list[dict]:
    """Up to ``budget`` rows, one per problem in turn, so a cut spreads over problems."""
    taken, depth = [], 0
    while len(taken) < budget and any(depth < len(rows) for rows in by_problem):
        for rows in by_problem:
            if depth < len(rows) and len(taken) < budget:
                taken.append(rows[depth])
        depth += 1
    return taken
