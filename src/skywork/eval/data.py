"""Reading evaluation texts: JSONL with a ``text`` field, or GSM8K-style ``question`` / ``answer`` records.

A GSM8K-style record is serialised as ``question + " " + answer``, which is exactly how the official repo's
``pt_train.jsonl`` (the L_train set of the leakage test) was built from the GSM8K train split.
"""

from __future__ import annotations

from pathlib import Path

from skywork.utils.io import InputError, read_jsonl_lines


def record_text(record: dict, path: str | Path, line: int) -> str:
    """The text of one record: ``text`` if present, else ``question + " " + answer``."""
    if "text" in record:
        text = record["text"]
        field = "text"
    elif "question" in record and "answer" in record:
        text, field = None, "question"
        if isinstance(record["question"], str) and isinstance(record["answer"], str):
            text = record["question"] + " " + record["answer"]
    else:
        raise InputError("record has neither a 'text' field nor 'question' and 'answer'", path, line, "text")
    if not isinstance(text, str):
        raise InputError("expected a string", path, line, field)
    return text


def read_texts(path: str | Path, max_samples: int | None = None) -> list[str]:
    """All texts of a ``.jsonl`` file (``text`` or question/answer) or a ``.txt`` file (one text per line).

    An empty file is an error (naming the file): an evaluation over nothing would silently report nonsense.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", path)
    texts: list[str] = []
    if path.suffix == ".txt":
        with path.open(encoding="utf-8") as handle:
            texts = [line.rstrip("\n") for line in handle if line.strip()]
    else:
        for line, record in read_jsonl_lines(path):
            texts.append(record_text(record, path, line))
            if max_samples is not None and len(texts) >= max_samples:
                break
    if max_samples is not None:
        texts = texts[:max_samples]
    if not texts:
        raise InputError("no documents in file (empty)", path)
    return texts
