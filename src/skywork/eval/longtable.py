"""``skywork eval longtable``: SynL held-out accuracy by question kind and table length.

Each held-out row of ``skywork longctx synl`` (``heldout.jsonl``) is one chat conversation: the user turn holds the
table and the question, the assistant turn the program's answer, and ``answer`` the short value to find. The model
answers the user turn (chat template, greedy, through the generation engine); an answer is correct when the short
value appears in it as a whole token (not inside a longer number or word), so scoring is deterministic. For
``cot`` questions the value after "the answer is" counts when the model writes one, so a right intermediate sum
does not score a wrong final answer.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from skywork.utils.config import field
from skywork.utils.io import InputError, read_jsonl_lines

FINAL_ANSWER = re.compile(r"(?:answer is|答案是)\s*[:：]?\s*(\S+?)[。.\s]*$", re.IGNORECASE | re.MULTILINE)


@dataclass
class LongTableConfig:
    """The ``longtable`` keys (``skywork eval run`` suites, the recipe's ``longctx_eval`` stage)."""

    data: str = field(help="SynL held-out JSONL (`skywork longctx synl` heldout.jsonl).")
    limit: int | None = field(None, help="Only the first N questions (quick runs).")
    max_new_tokens: int = field(96, help="Answer budget (cot answers write their steps out).")
    batch_size: int = field(4, help="Questions generated together.")
    max_prompt_tokens: int | None = field(
        None,
        help="Skip (and count) questions whose prompt is longer; null: the model's max_position_embeddings.",
    )


def _contains(answer: str, value: str) -> bool:
    """``value`` appears in ``answer`` not glued to a letter or digit (``12`` is not found in ``123``)."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(value)}(?![0-9A-Za-z])", answer) is not None


def score(kind: str, answer: str, value: str) -> bool:
    """Deterministic: the value in the answer; for cot, in the final "the answer is X" when one is written."""
    if kind == "cot":
        finals = FINAL_ANSWER.findall(answer)
        if finals:
            return _contains(finals[-1], value)
    return _contains(answer, value)


def load_questions(path: str | Path, limit: int | None = None) -> list[dict]:
    """The held-out rows, checked: each needs ``messages`` ending with the assistant turn, ``kind`` and ``answer``."""
    rows = []
    for line_no, row in read_jsonl_lines(Path(path)):
        for key in ("messages", "kind", "answer"):
            if key not in row:
                raise InputError(f"SynL row without {key!r}", path, line=line_no, field=key)
        if not row["messages"] or row["messages"][-1].get("role") != "assistant":
            raise InputError(
                "messages must end with the assistant's answer", path, line=line_no, field="messages"
            )
        rows.append(row)
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise InputError("no SynL question in the file", path)
    return rows


def _accuracy_table(samples: list[dict], key: str) -> dict[str, dict]:
    groups: dict[str, list[bool]] = defaultdict(list)
    for s in samples:
        groups[str(s[key])].append(s["correct"])
    return {k: {"accuracy": sum(v) / len(v), "n": len(v)} for k, v in sorted(groups.items())}


def run_longtable(model, tokenizer, config: LongTableConfig, progress: bool = False) -> dict:
    """Answer every held-out question; accuracy overall, by kind, by length, and by kind x length."""
    from skywork.inference import GenerationEngine, SamplingParams
    from skywork.tokenizer.chat import encode_chat
    from skywork.utils.progress import progress as progress_bar

    rows = load_questions(config.data, config.limit)
    limit = config.max_prompt_tokens or getattr(model.config, "max_position_embeddings", None)
    prompts, kept, skipped = [], [], 0
    for row in rows:
        ids = encode_chat(tokenizer, row["messages"][:-1])
        if limit is not None and len(ids) + config.max_new_tokens > limit:
            skipped += 1
            continue
        prompts.append(ids)
        kept.append(row)
    engine = GenerationEngine(model, tokenizer, batch_size=config.batch_size, drop_finished_rows=True)
    params = SamplingParams(max_new_tokens=config.max_new_tokens)
    samples = []
    with progress_bar("longtable questions", len(prompts), unit="questions", enabled=progress) as bar:
        for start in range(0, len(prompts), config.batch_size):
            batch = prompts[start : start + config.batch_size]
            for row, ids, completion in zip(
                kept[start : start + len(batch)], batch, engine.generate(batch, params), strict=True
            ):
                text = completion[0].text
                samples.append(
                    {
                        "kind": row["kind"],
                        "length": row.get("target_tokens"),
                        "lang": row.get("lang"),
                        "format": row.get("format"),
                        "prompt_tokens": len(ids),
                        "value": str(row["answer"]),
                        "answer": text,
                        "correct": score(row["kind"], text, str(row["answer"])),
                    }
                )
            bar.advance(len(batch))
    for s in samples:
        s["kind_length"] = f"{s['kind']}@{s['length']}"
    return {
        "data": str(config.data),
        "questions": len(samples),
        "skipped_too_long": skipped,
        "accuracy": sum(s["correct"] for s in samples) / len(samples) if samples else None,
        "by_kind": _accuracy_table(samples, "kind"),
        "by_length": _accuracy_table(samples, "length"),
        "by_kind_length": _accuracy_table(samples, "kind_length"),
        "max_position_embeddings": getattr(model.config, "max_position_embeddings", None),
        "samples": samples,
    }


def write_longtable_results(out_dir: str | Path, results: dict, model: str | None = None) -> Path:
    """``summary.json`` (kind ``longtable``) and ``samples.jsonl`` in ``out_dir``."""
    from skywork.utils.io import write_jsonl
    from skywork.utils.summary import write_summary

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(out_dir / "samples.jsonl", results["samples"])
    payload = {k: v for k, v in results.items() if k != "samples"} | {"model": model}
    return write_summary(out_dir, "longtable", payload)
