"""Export our benchmark prompts as lm-evaluation-harness tasks over local files (no hub, runs offline).

Each subject becomes a JSONL file of rendered official prompts (shots included, so the repeated C-Eval / CMMLU
headers and the exact shot format survive) plus a task YAML; a group YAML averages the subjects the official way
(macro for C-Eval / CMMLU, micro for MMLU).

lm-eval scores a choice by the log-likelihood of a continuation string. The official protocol reads the logit of
``tokenizer("A")["input_ids"][-1]`` (usually the piece ``▁A``) at the prompt's last position, so each choice's
continuation is that piece's surface text (``" A"``) with an empty target delimiter: lm-eval then scores exactly
the official token, and its argmax is the official prediction. ``choice_continuations`` checks this.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from skywork.eval.mcq import (
    EVAL_SPLIT,
    _csv_path,
    choice_token_ids,
    few_shot_prefix,
    format_example,
    list_subjects,
    load_subject_tables,
    read_questions,
)
from skywork.utils.io import atomic_write_text, write_jsonl


def choice_continuations(tokenizer) -> list[str]:
    """The text whose encoding after a prompt is exactly the official choice token, one per choice."""
    out = []
    for tid in choice_token_ids(tokenizer):
        piece = tokenizer.convert_ids_to_tokens(tid)
        text = piece.replace("\u2581", " ")
        probe = "答案：" + text
        whole = tokenizer(probe, add_special_tokens=False)["input_ids"]
        head = tokenizer("答案：", add_special_tokens=False)["input_ids"]
        if whole[: len(head)] != head or whole[len(head) :] != [tid]:
            raise ValueError(f"choice token {piece!r} does not encode back to one token after a prompt")
        out.append(text)
    return out


def export_lm_eval(
    bench: str,
    data_dir: str | Path,
    out_dir: str | Path,
    tokenizer,
    shots: int = 5,
    subjects: list[str] | None = None,
    subjects_file: str | Path | None = None,
    prefix: str = "skywork",
    limit: int | None = None,
) -> dict:
    """Write task YAMLs + prompt files under ``out_dir``; returns ``{"group", "tasks", "out_dir"}``.

    Run with: ``lm_eval --model hf --model_args pretrained=MODEL_DIR --include_path OUT_DIR --tasks GROUP``
    (offline: ``HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1``; in Python, ``import skywork`` first so our model and
    tokenizer classes are registered).
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    tables = load_subject_tables(bench, subjects_file)
    continuations = choice_continuations(tokenizer)
    split = EVAL_SPLIT[bench]
    tasks = []
    for subject in subjects or list_subjects(data_dir, bench):
        dev = read_questions(_csv_path(data_dir, bench, "dev", subject), bench)
        questions = read_questions(_csv_path(data_dir, bench, split, subject), bench)[:limit]
        head = few_shot_prefix(bench, dev[:shots], subject, tables)
        rows = [
            {
                "prompt": head + format_example(bench, q, subject, tables, False),
                "label": "ABCD".index(q["answer"]),
                "row": q["row"],
            }
            for q in questions
        ]
        task = f"{prefix}_{bench}_{subject}"
        data_file = (out_dir / "data" / f"{task}.jsonl").resolve()
        write_jsonl(data_file, rows)
        config = {
            "task": task,
            "dataset_path": "json",
            "dataset_kwargs": {"data_files": {"test": str(data_file)}},
            "test_split": "test",
            "output_type": "multiple_choice",
            "doc_to_text": "prompt",
            "doc_to_target": "label",
            "doc_to_choice": continuations,
            "target_delimiter": "",
            "num_fewshot": 0,
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
            "metadata": {"version": 1.0, "source": f"skywork eval export-lm-eval ({bench}, {shots}-shot)"},
        }
        atomic_write_text(
            out_dir / f"{task}.yaml", yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
        )
        tasks.append(task)
    group = f"{prefix}_{bench}"
    group_config = {
        "group": group,
        "task": tasks,
        "aggregate_metric_list": [
            {"metric": "acc", "aggregation": "mean", "weight_by_size": bench == "mmlu"},
        ],
        "metadata": {"version": 1.0},
    }
    atomic_write_text(
        out_dir / f"{group}.yaml", yaml.safe_dump(group_config, allow_unicode=True, sort_keys=False)
    )
    atomic_write_text(out_dir / "README.md", _readme(group, bench))
    return {"group": group, "tasks": tasks, "out_dir": str(out_dir)}


def _readme(group: str, bench: str) -> str:
    return (
        f"# lm-evaluation-harness tasks for {bench} (official Skywork prompts)\n\n"
        "Written by `skywork eval export-lm-eval`. Each subject's prompts (shots included) are in `data/`.\n\n"
        "```bash\nHF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 python -c 'import skywork, lm_eval.__main__ as m; m.cli_evaluate()' \\\n"
        f"  --model hf --model_args pretrained=MODEL_DIR --include_path {json.dumps('.')} --tasks {group}\n```\n"
    )
