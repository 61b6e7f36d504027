"""C-Eval, CMMLU and MMLU, 5-shot, exactly as the official Skywork scripts (``eval/evaluate_{ceval,cmmlu,mmlu}.py``).

Protocol (spec section 3.6): the prompt is the first ``shots`` rows of the dev split, each formatted with its
answer, then the question; it is tokenised with the tokenizer's default special tokens (BOS first). The
prediction is the argmax of a softmax over the logits of the ids ``tokenizer("A")["input_ids"][-1]`` .. ``D``
at the last position. C-Eval: val split, macro average over subjects, categories and the 8-subject Hard group.
CMMLU: test split, macro average (categories as the official script: a subject can count in two). MMLU: test
split, micro average over all questions, prompts left-truncated to ``max_seq_len - 1`` tokens when longer than
``max_seq_len`` (2048).

CSVs are read with pandas exactly as the official scripts do (so numeric cells print the same way in prompts).

Each question becomes a :class:`~skywork.eval.requests.Loglikelihood` request (the prompt, the four letters,
the subject's few-shot prefix as the shared part) that :class:`~skywork.eval.adapter.ModelAdapter` answers: the
prefix is encoded once per subject, its KV cache reused, and only each question's own tokens run, batched.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from skywork.eval.adapter import ModelAdapter
from skywork.eval.requests import Loglikelihood
from skywork.utils.io import InputError
from skywork.utils.paths import shared_data_dir

CHOICES = ("A", "B", "C", "D")
BENCHES = ("ceval", "cmmlu", "mmlu")
EVAL_SPLIT = {"ceval": "val", "cmmlu": "test", "mmlu": "test"}
MMLU_COLUMNS = ["question", "A", "B", "C", "D", "answer"]


# ----------------------------------------------------------------------------------------------- subject tables
@dataclass
class SubjectTables:
    """Chinese subject names (used in the prompts), categories and the C-Eval Hard group, per benchmark."""

    names_zh: dict[str, str] = field(default_factory=dict)
    categories: dict[str, list[str]] = field(default_factory=dict)  # category -> subjects
    hard: list[str] = field(default_factory=list)


def _default_tables_file() -> Path | None:
    root = shared_data_dir()
    path = root / "SkyworkAI+Skywork" / "eval" / "subjects.json" if root else None
    return path if path and path.exists() else None


def load_subject_tables(bench: str, subjects_file: str | Path | None = None) -> SubjectTables:
    """The official scripts' subject tables (``subjects.json``; C-Eval categories from ``subject_mapping.json``).

    ``subjects_file`` defaults to ``../shared/data/SkyworkAI+Skywork/eval/subjects.json``; the C-Eval category map
    is read from ``hkust-nlp+ceval/subject_mapping.json`` beside it when present (the C-Eval authors' file).
    """
    path = Path(subjects_file) if subjects_file else _default_tables_file()
    if path is None or not path.exists():
        raise InputError(
            "subject tables not found: pass --subjects-file (the subjects.json with Chinese subject names and "
            "categories of the official evaluation scripts)",
            path,
        )
    try:
        table = json.loads(path.read_text(encoding="utf-8"))[bench]
    except KeyError:
        raise InputError(f"no '{bench}' section", path) from None
    except json.JSONDecodeError as err:
        raise InputError(f"invalid JSON ({err.msg})", path, err.lineno) from None
    if bench == "ceval":
        mapping = table["category_map"]
        official = path.parent.parent.parent / "hkust-nlp+ceval" / "subject_mapping.json"
        if official.exists():
            mapping = json.loads(official.read_text(encoding="utf-8"))
        cats: dict[str, list[str]] = {}
        for subject, (_, _, category) in mapping.items():
            cats.setdefault(category, []).append(subject)
        return SubjectTables(dict(table["subject_zh"]), cats, list(table["hard_subjects"]))
    if bench == "cmmlu":
        cats = {}
        for category, subcats in table["categories"].items():
            cats[category] = [
                s for s, tags in table["subcategories"].items() if any(t in subcats for t in tags)
            ]
        return SubjectTables(dict(table["subject_zh"]), cats)
    return SubjectTables({}, {k: list(v) for k, v in table["category_map"].items()})


# ------------------------------------------------------------------------------------------------ data reading
def _csv_path(data_dir: Path, bench: str, split: str, subject: str) -> Path:
    name = f"{subject}.csv" if bench == "cmmlu" else f"{subject}_{split}.csv"
    return data_dir / split / name


def list_subjects(data_dir: str | Path, bench: str) -> list[str]:
    """Subjects that have an evaluation-split CSV under ``data_dir``, sorted."""
    split_dir = Path(data_dir) / EVAL_SPLIT[bench]
    if not split_dir.is_dir():
        raise InputError(f"no '{EVAL_SPLIT[bench]}' folder for {bench}", split_dir)
    suffix = "" if bench == "cmmlu" else f"_{EVAL_SPLIT[bench]}"
    return sorted(p.stem[: len(p.stem) - len(suffix)] for p in split_dir.glob(f"*{suffix}.csv"))


def read_questions(path: str | Path, bench: str, need_answer: bool = True) -> list[dict]:
    """Rows of a benchmark CSV as dicts with ``question``, ``A``..``D``, ``answer`` and ``row`` (1-based data row).

    Read with pandas the way the official scripts read them; missing columns, answers outside A-D and empty files
    raise :class:`InputError` naming the file and row.
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    try:
        df = pd.read_csv(path, names=MMLU_COLUMNS) if bench == "mmlu" else pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise InputError("empty file", path) from None
    except pd.errors.ParserError as err:
        raise InputError(f"malformed CSV ({err})", path) from None
    if bench == "cmmlu":
        df = df.rename(columns={"Question": "question", "Answer": "answer"})
    required = ["question", *CHOICES] + (["answer"] if need_answer else [])
    for column in required:
        if column not in df.columns:
            raise InputError("missing column", path, 1, column)
    if len(df) == 0:
        raise InputError("no rows (empty file)", path)
    rows = []
    for i, (_, record) in enumerate(df.iterrows(), start=1):
        for column in required:
            if pd.isna(record[column]) and column in ("question", "answer"):
                raise InputError(f"row {i}: empty value", path, None, column)
        if need_answer and record["answer"] not in CHOICES:
            raise InputError(
                f"row {i}: answer {record['answer']!r} is not one of A, B, C, D", path, None, "answer"
            )
        row = {c: record[c] for c in ("question", *CHOICES)}
        row["answer"] = record["answer"] if "answer" in df.columns else None
        row["row"] = i
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------ official prompt strings
def format_example(bench: str, row: dict, subject: str, tables: SubjectTables, include_answer: bool) -> str:
    """One shot (with its answer) or the query (ending where the answer letter goes), character for character."""
    if bench == "mmlu":
        text = "Question: " + row["question"] + "\nChoices:\n"
        for c in CHOICES:
            text += f"{c}. {row[c]}\n"
        return text + ("Answer: " + row["answer"] + "\n\n" if include_answer else "Answer:")
    if subject not in tables.names_zh:
        raise InputError(f"subject {subject!r} has no Chinese name in the subject tables", None)
    if bench == "ceval":
        text = (
            f"以下是中国关于{tables.names_zh[subject]}考试的单项选择题，请选出其中的正确答案。\n\n"
            + row["question"]
        )
    else:
        text = (
            f"以下是关于{tables.names_zh[subject]}的单项选择题，请直接给出正确答案的选项。\n\n"
            + "题目："
            + row["question"]
        )
    for c in CHOICES:
        text += f"\n{c}. {row[c]}"
    return text + ("\n答案：" + row["answer"] + "\n\n" if include_answer else "\n答案：")


def few_shot_prefix(bench: str, shots: list[dict], subject: str, tables: SubjectTables) -> str:
    prompt = ""
    if bench == "mmlu":
        prompt = "The following are multiple choice questions (with answers) about {}.\n\n".format(
            " ".join(subject.split("_")).strip()
        )
    return prompt + "".join(format_example(bench, s, subject, tables, True) for s in shots)


def choice_token_ids(tokenizer) -> list[int]:
    """The official answer ids: ``tokenizer(letter)["input_ids"][-1]``."""
    return [tokenizer(c)["input_ids"][-1] for c in CHOICES]


def evaluate_subject(
    model,
    tokenizer,
    bench: str,
    subject: str,
    dev: list[dict],
    questions: list[dict],
    tables: SubjectTables,
    shots: int = 5,
    batch_size: int = 8,
    use_cache: bool = True,
    max_seq_len: int | None = None,
) -> dict:
    """Predictions for one subject: ``{"accuracy", "n", "predictions", "probs", "choice_logprobs"}``."""
    if len(dev) < shots:
        raise InputError(f"{subject}: dev split has {len(dev)} rows, {shots} shots requested", None)
    prefix = few_shot_prefix(bench, dev[:shots], subject, tables)
    shared = prefix if use_cache and shots > 0 else None
    requests = [
        Loglikelihood(prefix + format_example(bench, q, subject, tables, False), CHOICES, shared, max_seq_len)
        for q in questions
    ]
    answers = ModelAdapter(model, tokenizer, batch_size).loglikelihood(requests)
    choice_lp = (
        torch.tensor([a.logprobs for a in answers], dtype=torch.float32) if answers else torch.empty(0, 4)
    )
    probs = torch.softmax(choice_lp, dim=-1)
    preds = [CHOICES[int(k)] for k in probs.argmax(dim=-1)]
    correct = [p == q["answer"] for p, q in zip(preds, questions, strict=True)]
    return {
        "accuracy": sum(correct) / len(correct) if correct else float("nan"),
        "n": len(questions),
        "correct": sum(correct),
        "predictions": preds,
        "probs": probs.tolist(),
        "choice_logprobs": choice_lp.tolist(),
        "truncated": sum(a.truncated for a in answers),
    }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def evaluate_mcq(
    model,
    tokenizer,
    bench: str,
    data_dir: str | Path,
    shots: int = 5,
    subjects: list[str] | None = None,
    batch_size: int = 8,
    use_cache: bool = True,
    subjects_file: str | Path | None = None,
    keep_predictions: bool = False,
    limit: int | None = None,
    on_subject: Callable[[str, dict], None] | None = None,
) -> dict:
    """One benchmark, official protocol. ``subjects`` restricts to a subset (default: every CSV in the split);
    ``limit`` keeps the first N questions of each subject (quick checks; not the official protocol).

    Returns ``{"bench", "accuracy", "average", "subjects": {NAME: {"accuracy", "n"}}, "categories": {NAME:
    {"accuracy", "subjects"|"n"}}, "hard"? (C-Eval), "n", "shots", "split", "seconds"}``; accuracies are fractions.
    """
    if bench not in BENCHES:
        raise ValueError(f"unknown benchmark {bench!r}; choose from {', '.join(BENCHES)}")
    data_dir = Path(data_dir)
    tables = load_subject_tables(bench, subjects_file)
    available = list_subjects(data_dir, bench)
    if subjects:
        missing = [s for s in subjects if s not in available]
        if missing:
            raise InputError(
                f"no {EVAL_SPLIT[bench]} CSV for subjects {missing}", data_dir / EVAL_SPLIT[bench]
            )
        chosen = list(subjects)
    else:
        chosen = available
    if not chosen:
        raise InputError(f"no {bench} subjects found", data_dir)
    split = EVAL_SPLIT[bench]
    max_seq_len = 2048 if bench == "mmlu" else None
    start = time.perf_counter()
    per_subject: dict[str, dict] = {}
    for subject in chosen:
        dev_path = _csv_path(data_dir, bench, "dev", subject)
        dev = read_questions(dev_path, bench)
        if len(dev) < shots:
            raise InputError(f"{len(dev)} dev rows, {shots} shots requested", dev_path)
        questions = read_questions(_csv_path(data_dir, bench, split, subject), bench)[:limit]
        res = evaluate_subject(
            model,
            tokenizer,
            bench,
            subject,
            dev,
            questions,
            tables,
            shots,
            batch_size,
            use_cache,
            max_seq_len,
        )
        entry = {"accuracy": res["accuracy"], "n": res["n"], "correct": res["correct"]}
        if keep_predictions:
            entry.update(
                predictions=res["predictions"], probs=res["probs"], choice_logprobs=res["choice_logprobs"]
            )
        per_subject[subject] = entry
        if on_subject is not None:
            on_subject(subject, entry)

    categories: dict[str, dict] = {}
    for category, members in tables.categories.items():
        present = [s for s in members if s in per_subject]
        if not present:
            continue
        if bench == "mmlu":  # micro within the category, as the official script
            n = sum(per_subject[s]["n"] for s in present)
            acc = sum(per_subject[s]["correct"] for s in present) / n
            categories[category] = {"accuracy": acc, "n": n}
        else:
            categories[category] = {
                "accuracy": _mean([per_subject[s]["accuracy"] for s in present]),
                "subjects": len(present),
            }
    total_n = sum(e["n"] for e in per_subject.values())
    micro = sum(e["correct"] for e in per_subject.values()) / total_n
    macro = _mean([e["accuracy"] for e in per_subject.values()])
    result = {
        "bench": bench,
        "accuracy": micro if bench == "mmlu" else macro,
        "average": "micro" if bench == "mmlu" else "macro",
        "subjects": per_subject,
        "categories": categories,
        "n": total_n,
        "shots": shots,
        "split": split,
        "seconds": time.perf_counter() - start,
    }
    if bench == "ceval":
        hard = [s for s in tables.hard if s in per_subject]
        if hard:
            result["hard"] = _mean([per_subject[s]["accuracy"] for s in hard])
            categories["Hard"] = {"accuracy": result["hard"], "subjects": len(hard)}
    if any(math.isnan(e["accuracy"]) for e in per_subject.values()):
        raise InputError("a subject has no questions", data_dir)
    return result
