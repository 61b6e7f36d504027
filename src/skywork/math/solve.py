"""Solve problems with the one generation engine and grade every solution: what sampling and evaluation share.

``solve_problems`` puts each problem to the model in a prompt format (:mod:`skywork.math.prompts`), draws ``n``
solutions per problem through :class:`~skywork.inference.GenerationEngine` (batched, KV cache, ``n`` samples per
prefilled prompt), trims each after its ``#### N`` line and grades it (:func:`skywork.math.grade.grade_solution`).
``score`` turns the graded rows into accuracy (greedy or the first sample), pass@k (the unbiased estimator of
Chen et al. 2021 over the n samples) and majority-vote accuracy, overall and per language.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from math import comb

from skywork.inference import GenerationEngine, SamplingParams
from skywork.math.data import MathProblem
from skywork.math.grade import grade_solution
from skywork.math.prompts import STOPS, build_prompt, shared_prefix, trim_solution


def solve_problems(
    model,
    tokenizer,
    problems: list[MathProblem],
    prompt_format: str,
    params: SamplingParams,
    fewshot: str | None = None,
    batch_size: int = 16,
    allow_last_number: bool = False,
) -> list[dict]:
    """One graded row per problem and sample: ``problem_id``, ``lang``, ``sample``, ``completion`` (raw),
    ``solution`` (trimmed), ``finish``, ``tokens`` and ``grade`` (:meth:`Grade.as_dict`)."""
    params = params.replace(stop=tuple(params.stop) or STOPS[prompt_format])
    prompts = [build_prompt(tokenizer, p.question, prompt_format, fewshot) for p in problems]
    engine = GenerationEngine(model, tokenizer, batch_size=max(batch_size, params.n))
    was_training = model.training
    model.eval()
    try:
        results = engine.generate(prompts, params, shared_prefix=shared_prefix(prompt_format, fewshot))
    finally:
        model.train(was_training)
    rows = []
    for problem, completions in zip(problems, results, strict=True):
        for j, completion in enumerate(completions):
            solution = trim_solution(completion.text)
            grade = grade_solution(solution, problem.gold, allow_last_number=allow_last_number)
            rows.append(
                {
                    "problem_id": problem.id,
                    "lang": problem.lang,
                    "sample": j,
                    "index": len(rows),
                    "completion": completion.text,
                    "solution": solution,
                    "finish": completion.finish_reason,
                    "tokens": completion.completion_tokens,
                    "grade": grade.as_dict(),
                }
            )
    return rows


def pass_at_k(n: int, correct: int, k: int) -> float:
    """The unbiased pass@k estimate from ``n`` samples of which ``correct`` are right."""
    if n - correct < k:
        return 1.0
    return 1.0 - comb(n - correct, k) / comb(n, k)


def majority_answer(answers: list[str | None]) -> str | None:
    """The most frequent stated answer (ties: the one stated first); None when no sample states one."""
    stated = [a for a in answers if a is not None]
    if not stated:
        return None
    counts = Counter(stated)
    best = max(counts.values())
    return next(a for a in stated if counts[a] == best)


def score(rows: list[dict], k: int | None = None) -> dict:
    """Accuracy (sample 0), pass@k, majority vote and the reasons of wrong answers, overall and per language."""
    by_problem: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_problem[row["problem_id"]].append(row)

    def summarise(groups: list[list[dict]]) -> dict:
        if not groups:
            return {"n": 0}
        n_samples = min(len(g) for g in groups)
        kk = min(k or n_samples, n_samples)
        first = [g[0]["grade"]["correct"] for g in groups]
        votes = [majority_answer([r["grade"]["answer"] for r in g]) == g[0]["grade"]["gold"] for g in groups]
        reasons = Counter(r["grade"]["reason"] for g in groups for r in g)
        out = {
            "n": len(groups),
            "samples_per_problem": n_samples,
            "accuracy": sum(first) / len(groups),
            "correct": sum(first),
            "sample_accuracy": sum(r["grade"]["correct"] for g in groups for r in g) / sum(map(len, groups)),
            "reasons": dict(sorted(reasons.items())),
        }
        if n_samples > 1:
            out[f"pass@{kk}"] = sum(
                pass_at_k(len(g), sum(r["grade"]["correct"] for r in g), kk) for g in groups
            ) / len(groups)
            out["majority_vote"] = sum(votes) / len(groups)
        return out

    groups = list(by_problem.values())
    result = summarise(groups)
    langs = sorted({g[0]["lang"] for g in groups})
    result["by_lang"] = {lang: summarise([g for g in groups if g[0]["lang"] == lang]) for lang in langs}
    return result
