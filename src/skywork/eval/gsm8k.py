"""GSM8K 8-shot, the official Skywork protocol (``eval/eval_gsm8k.py`` with ``eval/gsm8k_prompt.txt``).

Prompt: ``fewshot + "\\nQuestion: " + question + "\\nLet's think step by step\\n"`` (BOS first, the tokenizer's
default). Greedy decoding. The completion is cut at the first ``</s>``, ``\\n\\n\\n``, ``\\n\\n`` or
``Question:``; the gold answer is ``#### (-?[0-9.,]+)`` without commas; the prediction is the last number in the
text after the last ``answer is`` (then after ``答案是``), unless an ``= number`` match exists, which wins; both
strip ``,``, a trailing ``.``, ``.00`` and ``.0``. Correct when the two numbers are equal.

Each question becomes a :class:`~skywork.eval.requests.GenerateUntil` request that
:class:`~skywork.eval.adapter.ModelAdapter` answers with :func:`greedy_generate`. Speed: the 8-shot prefix is
encoded once and its KV cache shared; questions run in batches (left-padded after
the shared prefix), and a row stops as soon as its text holds a stop string, which cuts the completion at exactly
the point the official post-processing would have cut a full-length generation.

Beside the 8-shot base protocol (``prompt_format="fewshot"``, the default, unchanged): ``"math-chat"``, the
released Skywork-13B-Math's zero-shot ``[USER]{question}[SEP][BOT]`` format, greedy as the official math demo,
answered up to ``</s>`` and trimmed after a ``#### N`` line (``skywork.math.prompts``). ``samples=k > 1`` adds k
sampled solutions per question (temperature / top-p / seed) and reports pass@k (unbiased estimator) and the
majority-vote accuracy over them; accuracy stays the greedy one. Correct always means the official extraction
above; every logged sample also carries ``grade``, our step-by-step grading (``skywork.math.grade``: final answer,
each ``<<expr=value>>`` step checked by a safe evaluator, the first wrong step and why). Data: GSM8K JSONL
(``question``, ``answer``) or the demo corpus' STEM documents (``text`` = question line + solution; English and
Chinese), results per language (``by_lang``; a row's ``lang`` field, else CJK detection).

Where the source is silent: ``max_new_tokens`` of the official generation_config is NOT FOUND; default 256 here
(the longest GSM8K reference solution is under 200 tokens). A prediction string that is not a valid Python number
literal (the official ``eval`` would crash, e.g. ``1.2.3``) counts as no answer.
"""

from __future__ import annotations

import ast
import re
import time
from pathlib import Path

from skywork.eval.adapter import ModelAdapter
from skywork.eval.requests import GenerateUntil
from skywork.math.prompts import (  # noqa: F401  (default_prompt_file, load_fewshot: their home moved)
    FEWSHOT_STOPS,
    default_prompt_file,
    fewshot_prompt,
    load_fewshot,
    trim_solution,
)
from skywork.utils.io import InputError, read_jsonl_lines, write_jsonl
from skywork.utils.text import has_cjk

ANS_RE = re.compile(r"#### (\-?[0-9\.\,]+)")
NUMBER_RE = re.compile(r"(\-?[0-9][0-9\.\,]*)")
EQUALS_RE = re.compile(r"=\s*(\$?-?[0-9][0-9\.\,]*)")
STOP_STRINGS = FEWSHOT_STOPS  # ("</s>", "\n\n\n", "\n\n", "Question:")
FORMATS = ("fewshot", "math-chat")
DEFAULT_MAX_NEW_TOKENS = 256


def build_prompt(fewshot: str, question: str) -> str:
    return fewshot_prompt(fewshot, question)


def cut_completion(completion: str) -> str:
    for stop in STOP_STRINGS:
        completion = completion.split(stop)[0]
    return completion


def _clean(match: str) -> str:
    match = match.replace(",", "")
    if match.endswith("."):
        match = match[:-1]
    if match.endswith(".00"):
        match = match[:-3]
    if match.endswith(".0"):
        match = match[:-2]
    return match


def _number(text: str) -> int | float | None:
    """``eval`` of a number literal, safely (``ast.literal_eval`` accepts exactly the same literals here)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def extract_gold(answer: str) -> int | float | None:
    match = ANS_RE.search(answer)
    return _number(match.group(1).strip().replace(",", "")) if match else None


def extract_prediction(completion: str) -> int | float | None:
    """The official extraction: after the last "answer is" / "答案是"; an "= number" match wins."""
    text = completion
    if "answer is" in text:
        text = text.split("answer is")[-1]
    if "答案是" in text:
        text = text.split("答案是")[-1]
    candidates = []
    numbers = NUMBER_RE.findall(text)
    if numbers:
        candidates.append(_clean(numbers[-1]))
    equals = EQUALS_RE.findall(text)
    if equals:
        candidates.append(_clean(equals[-1]).replace("$", ""))
    return _number(candidates[-1]) if candidates else None


def is_correct(completion: str, answer: str) -> bool:
    gold = extract_gold(answer)
    pred = extract_prediction(cut_completion(completion))
    return pred is not None and gold is not None and pred == gold


def greedy_generate(
    model,
    tokenizer,
    prompts: list[str],
    shared_prefix: str | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    batch_size: int = 8,
    stop_strings: tuple[str, ...] = STOP_STRINGS,
) -> list[str]:
    """Greedy completions (raw text, not yet cut), batched, sharing the KV cache of ``shared_prefix``.

    A row stops at EOS or once its decoded text contains a stop string; the text is then returned as decoded so
    far (the caller cuts it). Every prompt is tokenised whole with the default special tokens (BOS).
    """
    adapter = ModelAdapter(model, tokenizer, batch_size=batch_size)
    return adapter.generate_until(
        [GenerateUntil(p, tuple(stop_strings), max_new_tokens, shared_prefix) for p in prompts]
    )


def read_gsm8k(path: str | Path, limit: int | None = None) -> list[dict]:
    """GSM8K rows (``question``, ``answer``) or STEM documents (``text``: question line, then the solution), each
    with a ``lang``; a row without a ``#### N`` gold raises naming file, line and field."""
    rows = []
    for line, record in read_jsonl_lines(path):
        if "text" in record and "question" not in record:
            question, _, answer = str(record["text"]).strip().partition("\n")
            record = {**record, "question": question.strip(), "answer": answer.strip()}
        for key in ("question", "answer"):
            if key not in record:
                raise InputError("missing required field", path, line, key)
        record.setdefault("lang", "zh" if has_cjk(record["question"]) else "en")
        if extract_gold(record["answer"]) is None:
            raise InputError("no '#### N' gold answer", path, line, "answer")
        rows.append(record)
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise InputError("no questions (empty file)", path)
    return rows


def _math_chat_completions(model, tokenizer, questions, params, batch_size) -> list[list[str]]:
    """Zero-shot math-chat answers (token-id prompts, up to ``</s>``), trimmed after a ``#### N`` line."""
    from skywork.inference import GenerationEngine
    from skywork.tokenizer.chat import encode_turn

    engine = GenerationEngine(
        model, tokenizer, batch_size=max(batch_size, params.n), drop_finished_rows=False
    )
    results = engine.generate([encode_turn(tokenizer, q) for q in questions], params)
    return [[trim_solution(c.text) for c in completions] for completions in results]


def _sampled_completions(
    model, tokenizer, prompts, prompt_format, shared, params, batch_size
) -> list[list[str]]:
    from skywork.inference import GenerationEngine

    if prompt_format == "math-chat":
        return _math_chat_completions(model, tokenizer, prompts, params, batch_size)
    engine = GenerationEngine(model, tokenizer, batch_size=max(batch_size, params.n))
    results = engine.generate(prompts, params.replace(stop=STOP_STRINGS), shared_prefix=shared)
    return [[c.text for c in completions] for completions in results]


def _graded(completion: str, answer: str, question: str) -> dict:
    """Our step-by-step grading of one completion (logged beside the official verdict)."""
    from skywork.math.grade import grade_solution, parse_gold

    gold = parse_gold(answer, question)
    return grade_solution(completion, gold, allow_last_number=True).as_dict() if gold else {}


def _accuracy_block(samples: list[dict]) -> dict:
    correct = sum(s["acc"] for s in samples)
    block = {"n": len(samples), "correct": correct, "accuracy": correct / len(samples) if samples else 0.0}
    if samples and "pass_at_k" in samples[0]:
        block["pass_at_k"] = sum(s["pass_at_k"] for s in samples) / len(samples)
        block["majority_vote"] = sum(s["majority_acc"] for s in samples) / len(samples)
    return block


def evaluate_gsm8k(
    model,
    tokenizer,
    data: str | Path,
    shots: int = 8,
    prompt_file: str | Path | None = None,
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
    batch_size: int = 8,
    limit: int | None = None,
    log_path: str | Path | None = None,
    use_cache: bool = True,
    prompt_format: str = "fewshot",
    samples: int = 1,
    temperature: float = 0.7,
    top_p: float = 0.95,
    seed: int = 0,
) -> dict:
    """GSM8K accuracy; ``log_path`` gets one JSON line per question (completion, prediction, gold, acc, grade and,
    with ``samples > 1``, the sampled completions, their predictions, pass@k and the majority answer).

    Returns ``{"accuracy", "n", "correct", "no_answer", "format", "shots", "max_new_tokens", "seconds",
    "by_lang", "reasons", "pass@k"?, "majority_vote"?, "log"?}``.
    """
    from skywork.inference import SamplingParams
    from skywork.math.solve import majority_answer, pass_at_k

    if prompt_format not in FORMATS:
        raise InputError(f"unknown format {prompt_format!r} (one of {', '.join(FORMATS)})", field="format")
    rows = read_gsm8k(data, limit)
    questions = [r["question"] for r in rows]
    start = time.perf_counter()
    fewshot, shared = None, None
    if prompt_format == "fewshot":
        fewshot = load_fewshot(prompt_file, shots)
        shared = fewshot + "\nQuestion: " if use_cache else None
        prompts = [build_prompt(fewshot, q) for q in questions]
        requests = [GenerateUntil(p, STOP_STRINGS, max_new_tokens, shared) for p in prompts]
        completions = ModelAdapter(model, tokenizer, batch_size).generate_until(requests)
    else:
        prompts = questions
        greedy = SamplingParams(max_new_tokens=max_new_tokens)
        completions = [c[0] for c in _math_chat_completions(model, tokenizer, questions, greedy, batch_size)]
    sampled = None
    if samples > 1:
        params = SamplingParams(
            max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, n=samples, seed=seed
        )
        sampled = _sampled_completions(model, tokenizer, prompts, prompt_format, shared, params, batch_size)
    seconds = time.perf_counter() - start
    records = []
    for i, (row, completion) in enumerate(zip(rows, completions, strict=True)):
        cut = cut_completion(completion)
        pred, gold = extract_prediction(cut), extract_gold(row["answer"])
        record = {
            "idx": i,
            "lang": row["lang"],
            "question": row["question"],
            "answer": row["answer"],
            "completion": completion,
            "gold": gold,
            "prediction": pred,
            "acc": pred is not None and pred == gold,
            "grade": _graded(cut, row["answer"], row["question"]),
        }
        if sampled is not None:
            predictions = [extract_prediction(cut_completion(c)) for c in sampled[i]]
            right = sum(p is not None and p == gold for p in predictions)
            vote = majority_answer([None if p is None else repr(p) for p in predictions])
            record.update(
                samples=sampled[i],
                sample_predictions=predictions,
                sample_correct=right,
                pass_at_k=pass_at_k(len(predictions), right, len(predictions)),
                majority=vote,
                majority_acc=vote is not None and _number(vote) == gold,
                sample_grades=[
                    _graded(cut_completion(c), row["answer"], row["question"]) for c in sampled[i]
                ],
            )
        records.append(record)
    overall = _accuracy_block(records)
    reasons: dict[str, int] = {}
    for r in records:
        reason = r["grade"].get("reason", "no_gold")
        reasons[reason] = reasons.get(reason, 0) + 1
    result = {
        "accuracy": overall["accuracy"],
        "n": overall["n"],
        "correct": overall["correct"],
        "no_answer": sum(s["prediction"] is None for s in records),
        "format": prompt_format,
        "shots": shots if prompt_format == "fewshot" else 0,
        "max_new_tokens": max_new_tokens,
        "seconds": seconds,
        "by_lang": {
            lang: _accuracy_block([r for r in records if r["lang"] == lang])
            for lang in sorted({r["lang"] for r in records})
        },
        "reasons": dict(sorted(reasons.items())),
    }
    if sampled is not None:
        result.update({f"pass@{samples}": overall["pass_at_k"], "majority_vote": overall["majority_vote"]})
        result.update(samples_per_question=samples, temperature=temperature, top_p=top_p, seed=seed)
    if log_path is not None:
        write_jsonl(log_path, records)
        result["log"] = str(log_path)
    result["samples"] = records
    return result


def print_gsm8k(result: dict, console) -> None:
    """The results table of ``skywork eval gsm8k``: overall and per language."""
    from rich.table import Table

    title = (
        f"GSM8K {result['shots']}-shot" if result["format"] == "fewshot" else "GSM8K math-chat (zero-shot)"
    )
    k = result.get("samples_per_question")
    table = Table(title=title)
    for column in ("", "n", "correct", "accuracy", *((f"pass@{k}", "majority") if k else ())):
        table.add_column(column, justify="right")
    blocks = [("all", result)] + list(result["by_lang"].items())
    for name, block in blocks:
        row = [name, str(block["n"]), str(block["correct"]), f"{100 * block['accuracy']:.2f}%"]
        if k:
            row += [f"{100 * block.get(f'pass@{k}', block.get('pass_at_k', 0)):.2f}%"]
            row += [f"{100 * block['majority_vote']:.2f}%"]
        table.add_row(*row)
    console.print(table)
    console.print(f"no answer: {result['no_answer']}, {result['seconds']:.1f}s; graded: {result['reasons']}")
