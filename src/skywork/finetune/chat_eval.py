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
answering in the wrong language, loops, collapsed diversity), not the quality of the writing.
"""

from __future__ import annotations

import html
from collections import defaultdict
from pathlib import Path

from skywork.utils.io import read_jsonl_lines
from skywork.utils.text import units, zh_or_en


def read_prompts(path: str | Path, limit: int | None = None) -> list[dict]:
    """``{"id", "class", "prompt"}`` rows of the eval file (the first ``limit``)."""
    rows = []
    for lineno, obj in read_jsonl_lines(Path(path), required=("content",)):
        content = obj["content"]
        text = "\n".join(content) if isinstance(content, list) else str(content)
        rows.append({"id": lineno, "class": obj.get("class", "unknown"), "prompt": text})
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
    return {
        "answers": len(answers),
        "length": sum(len(a["answer"]) for a in answers) / n,
        "stopped": sum(a["finish_reason"] == "stop" for a in answers) / n,
        "language_match": sum(zh_or_en(a["prompt"]) == zh_or_en(a["answer"]) for a in answers) / n,
        "repeated_4gram": sum(repeated_ngram_share(a["answer"]) for a in answers) / n,
        "distinct_2": distinct_n([a["answer"] for a in answers]),
    }


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


def render_html(answers: list[dict], metrics: dict, title: str) -> str:
    """One page: the metrics table, then every answer grouped by class."""
    esc = html.escape
    keys = ["answers", "length", "stopped", "language_match", "repeated_4gram", "distinct_2"]

    def cells(m: dict) -> str:
        return "".join(
            f"<td>{m[k]:.3f}</td>" if isinstance(m[k], float) else f"<td>{m[k]}</td>" for k in keys
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
) -> dict:
    """Answer, score and write ``answers.jsonl``, ``answers.html`` and ``summary.json`` (kind ``chat_eval``)."""
    from skywork.inference import SamplingParams
    from skywork.utils.io import atomic_write_text, write_jsonl
    from skywork.utils.summary import write_summary

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    prompts = read_prompts(prompts_file, limit)
    params = SamplingParams.official_demo(max_new_tokens=max_new_tokens, seed=seed)
    answers = generate_answers(model, tokenizer, prompts, params, batch_size)
    metrics = metrics_by_class(answers)
    write_jsonl(out_dir / "answers.jsonl", answers)
    atomic_write_text(out_dir / "answers.html", render_html(answers, metrics, f"chat eval: {model_name}"))
    payload = {
        "model": model_name,
        "prompts_file": str(prompts_file),
        "sampling": {k: getattr(params, k) for k in ("temperature", "top_p", "top_k", "repetition_penalty")},
        "max_new_tokens": max_new_tokens,
        **metrics,
    }
    write_summary(out_dir, "chat_eval", payload)
    return payload
