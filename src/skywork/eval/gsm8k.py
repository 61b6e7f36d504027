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
from skywork.utils.io import InputError, read_jsonl_lines, write_jsonl
from skywork.utils.paths import shared_data_dir

ANS_RE = re.compile(r"#### (\-?[0-9\.\,]+)")
NUMBER_RE = re.compile(r"(\-?[0-9][0-9\.\,]*)")
EQUALS_RE = re.compile(r"=\s*(\$?-?[0-9][0-9\.\,]*)")
STOP_STRINGS = ("</s>", "\n\n\n", "\n\n", "Question:")
DEFAULT_MAX_NEW_TOKENS = 256


def default_prompt_file() -> Path | None:
    root = shared_data_dir()
    path = root / "SkyworkAI+Skywork" / "data" / "gsm8k_prompt.txt" if root else None
    return path if path and path.exists() else None


def load_fewshot(prompt_file: str | Path | None = None, shots: int = 8) -> str:
    """The official few-shot text; fewer shots keep the first ``shots`` blank-line-separated examples."""
    path = Path(prompt_file) if prompt_file else default_prompt_file()
    if path is None or not path.exists():
        raise InputError("GSM8K few-shot prompt file not found (pass --prompt-file)", path)
    text = path.read_text(encoding="utf-8")
    examples = [e for e in text.split("\n\n") if e.strip()]
    if not examples:
        raise InputError("empty prompt file", path)
    if shots > len(examples):
        raise InputError(f"{shots} shots requested, the file has {len(examples)}", path)
    return text if shots == len(examples) else "\n\n".join(examples[:shots])


def build_prompt(fewshot: str, question: str) -> str:
    return fewshot + "\nQuestion: " + question + "\nLet's think step by step\n"


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
    rows = []
    for line, record in read_jsonl_lines(path, required=("question", "answer")):
        if extract_gold(record["answer"]) is None:
            raise InputError("no '#### N' gold answer", path, line, "answer")
        rows.append(record)
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise InputError("no questions (empty file)", path)
    return rows


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
) -> dict:
    """Official GSM8K accuracy; ``log_path`` gets one JSON line per sample (completion, prediction, gold, acc).

    Returns ``{"accuracy", "n", "correct", "no_answer", "shots", "max_new_tokens", "seconds", "log"?}``.
    """
    fewshot = load_fewshot(prompt_file, shots)
    rows = read_gsm8k(data, limit)
    shared = fewshot + "\nQuestion: " if use_cache else None
    requests = [
        GenerateUntil(build_prompt(fewshot, r["question"]), STOP_STRINGS, max_new_tokens, shared)
        for r in rows
    ]
    start = time.perf_counter()
    completions = ModelAdapter(model, tokenizer, batch_size).generate_until(requests)
    seconds = time.perf_counter() - start
    samples = []
    for i, (row, completion) in enumerate(zip(rows, completions, strict=True)):
        cut = cut_completion(completion)
        pred, gold = extract_prediction(cut), extract_gold(row["answer"])
        samples.append(
            {
                "idx": i,
                "question": row["question"],
                "answer": row["answer"],
                "completion": completion,
                "gold": gold,
                "prediction": pred,
                "acc": pred is not None and pred == gold,
            }
        )
    correct = sum(s["acc"] for s in samples)
    result = {
        "accuracy": correct / len(samples),
        "n": len(samples),
        "correct": correct,
        "no_answer": sum(s["prediction"] is None for s in samples),
        "shots": shots,
        "max_new_tokens": max_new_tokens,
        "seconds": seconds,
    }
    if log_path is not None:
        write_jsonl(log_path, samples)
        result["log"] = str(log_path)
    result["samples"] = samples
    return result
