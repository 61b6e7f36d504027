"""Math problems from JSONL: GSM8K rows (``question``, ``answer`` ending ``#### N``) or the demo corpus' STEM
documents (``text`` = question line, then the worked solution), each with its gold parsed once.

Problems whose gold has no parsable ``#### N`` are counted (``no_gold``) and skipped, never fatal; a row with
neither layout raises :class:`~skywork.utils.io.InputError` naming file, line and field. ``lang`` is the row's
own field when it has one, else ``zh`` when the question holds CJK characters, else ``en``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from skywork.math.grade import Gold, parse_gold
from skywork.utils.io import InputError, expand_paths, read_jsonl_lines
from skywork.utils.text import has_cjk


@dataclass(frozen=True)
class MathProblem:
    id: str
    question: str
    solution: str  # the gold worked solution, ending "#### N"
    lang: str
    gold: Gold

    def as_dict(self) -> dict:
        return {"id": self.id, "question": self.question, "answer": self.solution, "lang": self.lang}


def split_text(text: str) -> tuple[str, str]:
    """A STEM document ``question\\nsolution`` as (question, solution)."""
    question, _, solution = text.strip().partition("\n")
    return question.strip(), solution.strip()


def read_problems(
    paths: list[str | Path] | str | Path,
    limit: int | None = None,
    langs: tuple[str, ...] | None = None,
    field: str = "data.files",
) -> tuple[list[MathProblem], dict]:
    """The problems of ``paths`` (files, directories or globs), first ``limit`` kept; and the counts."""
    files = expand_paths(
        [paths] if isinstance(paths, (str, Path)) else list(paths), (".jsonl", ".jsonl.gz"), field
    )
    if not files:
        raise InputError("no JSONL file of math problems found", str(paths))
    problems: list[MathProblem] = []
    counts: Counter = Counter()
    for path in files:
        for line, row in read_jsonl_lines(path):
            if "question" in row and "answer" in row:
                question, solution = str(row["question"]), str(row["answer"])
            elif "text" in row:
                question, solution = split_text(str(row["text"]))
            else:
                raise InputError("a math problem needs question+answer or text", path, line, "question")
            counts["rows"] += 1
            lang = str(row.get("lang") or ("zh" if has_cjk(question) else "en"))
            if langs and lang not in langs:
                counts["other_language"] += 1
                continue
            gold = parse_gold(solution, question)
            if gold is None or not question:
                counts["no_gold"] += 1
                continue
            problem_id = str(row.get("id") or f"{Path(path).stem}-{line}")
            problems.append(MathProblem(problem_id, question, solution, lang, gold))
            if limit is not None and len(problems) >= limit:
                break
        if limit is not None and len(problems) >= limit:
            break
    counts["problems"] = len(problems)
    by_lang = Counter(p.lang for p in problems)
    return problems, {**dict(counts), "by_lang": dict(sorted(by_lang.items()))}
