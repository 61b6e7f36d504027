"""The chat creative-writing evaluation: answers to the official 500 prompts (10 classes), with automatic metrics.

``skywork eval chat MODEL --prompts skywork_13b_chat_eval.jsonl`` answers every prompt (rows ``{"content":
[user message, ...], "class": ...}``; several messages are joined by a newline) through the generation engine
with the released demo's sampling settings (:meth:`SamplingParams.official_demo`, seeded per prompt), and writes
``answers.jsonl``, ``answers.html`` (grouped by class) and ``summary.json``. The metrics, per class and overall:

- ``length``: mean answer length in characters;
- ``stopped``: share of answers that ended by themselves (``</s>`` or ``[SEP]``) before ``max_new_tokens``;
- ``language_match``: share answered in the prompt's language (CJK in the prompt -> CJK in the answer);
- ``repeated_4gram``: mean share of an answer's 4-grams (CJK characters / words) that occur earlier in it
  (0: no repetition; degenerate loops approach 1);
- ``distinct_2``: distinct bigrams / all bigrams over the class's answers (diversity; higher is more varied).

None needs a reference answer or a network; they flag the failures fine-tuning is known for (never stopping,
answering in the wrong language, loops, collapsed diversity), not the quality of the writing. Prompt files may
also be alpaca rows (``instruction``, ``input``; ``task`` or ``class`` groups them): with a reference ``answer``
(the synthetic instruction set's), ``exact`` is the share of answers containing it. ``--judge-url`` adds a judge
model's grade (:mod:`skywork.finetune.judge`). The recipe stage kind ``chat_eval`` runs the same on several models
(before and after SFT) and writes one directory per model.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from skywork.utils.config import field
from skywork.utils.io import InputError, read_jsonl_lines
from skywork.utils.text import units, zh_or_en


def read_prompts(path: str | Path, limit: int | None = None) -> list[dict]:
    """``{"id", "class", "prompt"}`` rows (+ ``reference``) of the eval file (the first ``limit``).

    Rows are the official ``{"content": [...], "class"}`` or alpaca ``{"instruction", "input", "answer", "task"}``.
    """
    rows = []
    for lineno, obj in read_jsonl_lines(Path(path)):
        if "content" in obj:
            content = obj["content"]
            text = "\n".join(map(str, content)) if isinstance(content, list) else str(content)
        elif "instruction" in obj:
            text = str(obj["instruction"]) + (f"\n{obj['input']}" if obj.get("input") else "")
        else:
            raise InputError("a chat eval row needs content (or instruction)", path, lineno, "content")
        row = {"id": lineno, "class": str(obj.get("class") or obj.get("task") or "unknown"), "prompt": text}
        if obj.get("answer") not in (None, ""):
            row["reference"] = str(obj["answer"])
        rows.append(row)
        if limit is not None and len(rows) >= limit:
            break
    return rows


def repeated_ngram_share(text: str, n: int = 4) -> float:
    """Share of the n-grams of ``text`` that already occurred earlier in it."""
    tokens = units(text)
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    seen, repeated = set(), 0
    for gram in grams:
        repeated += gram in seen
        seen.add(gram)
    return repeated / len(grams)


def distinct_n(texts: list[str], n: int = 2) -> float:
    """Distinct n-grams over all n-grams of ``texts`` (0 when there are none)."""
    grams = [tuple(t[i : i + n]) for t in map(units, texts) for i in range(len(t) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def answer_metrics(answers: list[dict]) -> dict:
    """The metrics of the module docstring over ``answers`` (rows with prompt, answer, finish_reason)."""
    n = max(1, len(answers))
    metrics = {
        "answers": len(answers),
        "length": sum(len(a["answer"]) for a in answers) / n,
        "stopped": sum(a["finish_reason"] == "stop" for a in answers) / n,
        "language_match": sum(zh_or_en(a["prompt"]) == zh_or_en(a["answer"]) for a in answers) / n,
        "repeated_4gram": sum(repeated_ngram_share(a["answer"]) for a in answers) / n,
        "distinct_2": distinct_n([a["answer"] for a in answers]),
    }
    with_reference = [a for a in answers if "reference" in a]
    if with_reference:
        metrics["exact"] = sum(a["reference"] in a["answer"] for a in with_reference) / len(with_reference)
    if any("judge" in a for a in answers):
        from skywork.finetune.judge import judge_metrics

        metrics.update(judge_metrics(answers))
    return metrics


def metrics_by_class(answers: list[dict]) -> dict:
    groups = defaultdict(list)
    for answer in answers:
        groups[answer["class"]].append(answer)
    return {"overall": answer_metrics(answers), "by_class": {c: answer_metrics(g) for c, g in groups.items()}}


def generate_answers(model, tokenizer, prompts: list[dict], params, batch_size: int = 8) -> list[dict]:
    """Chat-encode every prompt and generate with ``params`` (the chat stop tokens added) through the engine."""
    from skywork.inference import GenerationEngine
    from skywork.inference.generation import chat_stop_ids
    from skywork.tokenizer.chat import encode_chat
    from skywork.utils.progress import progress

    if params.stop_token_ids is None:
        params = params.replace(stop_token_ids=chat_stop_ids(tokenizer))
    engine = GenerationEngine(model, tokenizer, batch_size=batch_size)
    answers = []
    with progress("chat eval", total=len(prompts), unit="prompts") as bar:
        for start in range(0, len(prompts), batch_size):
            part = prompts[start : start + batch_size]
            ids = [encode_chat(tokenizer, [{"role": "user", "content": p["prompt"]}]) for p in part]
            for row, completions in zip(part, engine.generate(ids, params), strict=True):
                c = completions[0]
                answers.append(
                    {**row, "answer": c.text, "finish_reason": c.finish_reason, "tokens": c.completion_tokens}
                )
            bar.advance(len(part))
    return answers


METRIC_KEYS = (
    "answers",
    "length",
    "stopped",
    "language_match",
    "repeated_4gram",
    "distinct_2",
    "exact",
    "judge_grade",
    "judge_graded",
    "judge_unparsable",
    "judge_failed",
)


def render_html(answers: list[dict], metrics: dict, title: str) -> str:
    """One page: the metrics table, then every answer grouped by class."""
    esc = html.escape
    keys = [k for k in METRIC_KEYS if k in metrics["overall"]]

    def cells(m: dict) -> str:
        return "".join(
            f"<td>{m.get(k):.3f}</td>" if isinstance(m.get(k), float) else f"<td>{m.get(k, '')}</td>"
            for k in keys
        )

    rows = [f"<tr><th>overall</th>{cells(metrics['overall'])}</tr>"]
    rows += [f"<tr><th>{esc(c)}</th>{cells(m)}</tr>" for c, m in metrics["by_class"].items()]
    parts = [
        f"<!doctype html><meta charset='utf-8'><title>{esc(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}td,th{padding:2px 8px}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:6px}</style>",
        f"<h1>{esc(title)}</h1><table><tr><th>class</th>{''.join(f'<th>{k}</th>' for k in keys)}</tr>",
        *rows,
        "</table>",
    ]
    for cls in metrics["by_class"]:
        parts.append(f"<h2>{esc(cls)}</h2>")
        for a in (a for a in answers if a["class"] == cls):
            parts.append(
                f"<h3>#{a['id']} ({a['finish_reason']})</h3><p>{esc(a['prompt'])}</p><pre>{esc(a['answer'])}</pre>"
            )
            if "reference" in a:
                parts.append(f"<p>reference: <code>{esc(a['reference'])}</code></p>")
            if "judge" in a:
                judge = a["judge"]
                verdict = judge["error"] or judge["reply"] or ""
                parts.append(f"<p>judge: grade {judge['grade']} <small>{esc(verdict)}</small></p>")
    return "\n".join(parts)


def run_chat_eval(
    model,
    tokenizer,
    prompts_file: str | Path,
    out_dir: str | Path,
    limit: int | None = None,
    max_new_tokens: int = 1000,
    batch_size: int = 8,
    seed: int = 0,
    model_name: str = "model",
    judge=None,
    greedy: bool = False,
) -> dict:
    """Answer, score and write ``answers.jsonl``, ``answers.html`` and ``summary.json`` (kind ``chat_eval``).

    ``judge``: a :class:`skywork.finetune.judge.JudgeConfig` to grade every answer (None: no network);
    ``greedy``: greedy decoding instead of the official sampling (a deterministic comparison).
    """
    from skywork.inference import SamplingParams
    from skywork.utils.io import atomic_write_text, write_jsonl
    from skywork.utils.summary import write_summary

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prompts = read_prompts(prompts_file, limit)
    if greedy:
        params = SamplingParams(max_new_tokens=max_new_tokens)
    else:
        params = SamplingParams.official_demo(max_new_tokens=max_new_tokens, seed=seed)
    answers = generate_answers(model, tokenizer, prompts, params, batch_size)
    judge_model = None
    if judge is not None:
        from skywork.finetune.judge import grade_answers
        from skywork.utils.progress import progress

        with progress("judging", total=len(answers), unit="answers") as bar:
            judge_model = grade_answers(answers, judge, on_answer=lambda: bar.advance(1))
    metrics = metrics_by_class(answers)
    write_jsonl(out_dir / "answers.jsonl", answers)
    atomic_write_text(out_dir / "answers.html", render_html(answers, metrics, f"chat eval: {model_name}"))
    payload = {
        "model": model_name,
        "prompts_file": str(prompts_file),
        "sampling": {k: getattr(params, k) for k in ("temperature", "top_p", "top_k", "repetition_penalty")},
        "greedy": greedy,
        "max_new_tokens": max_new_tokens,
        "judge": None if judge is None else {"url": judge.url, "model": judge_model},
        **metrics,
    }
    write_summary(out_dir, "chat_eval", payload)
    return payload


def load_chat_model(model_dir: str | Path, tokenizer_dir=None, dtype: str = "fp32", device: str = "auto"):
    """(model, tokenizer) of a model directory or of a LoRA adapter directory (its base + the adapter)."""
    from skywork import tokenizer as tok
    from skywork.finetune.lora import is_adapter_dir, load_adapter_model
    from skywork.utils.device import resolve_device

    if is_adapter_dir(model_dir):
        model = load_adapter_model(model_dir).to(resolve_device(device))
        return model, tok.load(tokenizer_dir or model_dir)
    from skywork.eval.adapter import ModelAdapter

    adapter = ModelAdapter.load(model_dir, tokenizer_dir, dtype=dtype, device=device, chat=False)
    return adapter.model, adapter.tokenizer


def metrics_table(result: dict):
    """A rich table of the overall and per-class metrics (what ``skywork eval chat`` prints)."""
    from rich.table import Table

    keys = [k for k in METRIC_KEYS if k in result["overall"]]
    table = Table("class", *keys)
    for name, m in [("overall", result["overall"]), *result["by_class"].items()]:
        table.add_row(name, *(f"{m[k]:.3f}" if isinstance(m.get(k), float) else str(m.get(k)) for k in keys))
    return table


# ------------------------------------------------------------------------------------------- recipe stage


@dataclass
class ChatEvalStageConfig:
    """The recipe's ``chat_eval`` stage: the same prompts answered by several models (e.g. before / after SFT)."""

    models: dict[str, str] = field(
        help="Name -> model directory or LoRA adapter directory, e.g. {before: ${pretrain_stage2}/final, "
        "after: ${sft}/final}."
    )
    prompts: list[str] = field(
        help="Prompt files (official chat eval rows or alpaca rows); the first that exists is used, so the "
        "shared skywork_13b_chat_eval.jsonl can come first and a generated set after it."
    )
    limit: int | None = field(8, help="Only the first N prompts (null: all).")
    max_new_tokens: int = field(64, help="Tokens per answer (official demo: 1000).")
    batch_size: int = field(8, help="Prompts generated together.")
    seed: int = field(0, help="Sampling seed (answer i uses seed + i).")
    sampling: Literal["official", "greedy"] = field(
        "official",
        help="official: the released demo's sampling (temperature 0.95, top_p 0.8, top_k 5); greedy.",
    )
    device: str = field("cpu", help="Device to generate on (auto, cpu, cuda).")


def first_existing(paths: list[str]) -> Path:
    for path in paths:
        if Path(path).is_file():
            return Path(path)
    raise InputError(f"none of the prompt files exists: {', '.join(paths)}", field="prompts")


def run_chat_eval_stage(config: ChatEvalStageConfig, ctx) -> dict:
    """Every model of ``config.models`` answers the prompts into ``<stage>/<name>/``; summary.json compares them."""
    from skywork.utils.summary import write_summary

    prompts_file = first_existing(list(config.prompts))
    results = {}
    for name, model_dir in config.models.items():
        model, tokenizer = load_chat_model(model_dir, device=config.device)
        result = run_chat_eval(
            model,
            tokenizer,
            prompts_file,
            ctx.stage_dir / name,
            config.limit,
            config.max_new_tokens,
            config.batch_size,
            config.seed,
            str(model_dir),
            greedy=config.sampling == "greedy",
        )
        results[name] = {
            "model": str(model_dir),
            "overall": result["overall"],
            "by_class": result["by_class"],
        }
        ctx.log.info("chat eval %s: %s", name, result["overall"])
        del model
    payload = {"prompts_file": str(prompts_file), "sampling": config.sampling, "models": results}
    write_summary(ctx.stage_dir, "chat_eval_models", payload)
    return {"prompts_file": str(prompts_file), "models": {k: v["overall"] for k, v in results.items()}}
