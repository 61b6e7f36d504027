"""SFT rows in the three formats users bring (alpaca, OpenAI ``messages``, ShareGPT), read into one shape.

Every row becomes a :class:`Conversation`: an optional system text and a list of (user, assistant) turns, so
templates and labels are written once. The format is detected per file from its first row (or fixed by the
caller). A bad row raises :class:`~skywork.utils.io.InputError` naming file, line and field, or, with
``on_error="skip"``, is skipped and counted by reason; a row whose answer is empty is always skipped and counted.
Nothing is dropped without a count.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from skywork.utils.io import InputError, read_jsonl_lines

FORMATS = ("alpaca", "messages", "sharegpt")
Format = Literal["auto", "alpaca", "messages", "sharegpt"]
OnError = Literal["raise", "skip"]

# ShareGPT speaker names (``from``) and the roles they stand for.
SHAREGPT_ROLES = {
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "system": "system",
}


@dataclass(frozen=True)
class Turn:
    user: str
    assistant: str


@dataclass(frozen=True)
class Conversation:
    """One training conversation: ``system`` (may be empty) then alternating user/assistant turns."""

    turns: tuple[Turn, ...]
    system: str = ""
    source: str = ""  # "file:line", for messages about this row

    def messages(self) -> list[dict]:
        """The OpenAI-style message list (what ``encode_chat`` and ``apply_chat_template`` take)."""
        out = [{"role": "system", "content": self.system}] if self.system else []
        for turn in self.turns:
            out += [{"role": "user", "content": turn.user}, {"role": "assistant", "content": turn.assistant}]
        return out


class RowError(ValueError):
    """A row that cannot be read; ``reason`` is the counter key used when such rows are skipped."""

    def __init__(self, reason: str, message: str, field: str | None):
        super().__init__(message)
        self.reason, self.field = reason, field


@dataclass
class ReadCounts:
    """What reading saw: rows per format, rows skipped per reason (``empty_response`` among them)."""

    rows_read: int = 0
    by_format: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {"rows_read": self.rows_read, "by_format": dict(self.by_format), "skipped": dict(self.skipped)}


def detect_format(row: dict) -> str | None:
    """The format a row is written in, from its keys; None when it matches none."""
    if "messages" in row:
        return "messages"
    if "conversations" in row:
        return "sharegpt"
    if "instruction" in row or "output" in row:
        return "alpaca"
    return None


def _text(row: dict, key: str, where: str | None = None, required: bool = True) -> str:
    where = where or key
    if key not in row or row[key] is None:
        if required:
            raise RowError("missing_field", "missing required field", where)
        return ""
    value = row[key]
    if not isinstance(value, str):
        raise RowError("bad_type", f"expected a string, got {type(value).__name__}", where)
    return value


def _check_answers(turns: list[Turn], field_of: list[str]) -> None:
    for turn, where in zip(turns, field_of, strict=True):
        if not turn.assistant.strip():
            raise RowError("empty_response", "the answer is empty", where)


def parse_alpaca(row: dict) -> Conversation:
    """``instruction`` (+ "\\n" + ``input`` when non-empty, as the official build_dataset.py), ``output``,
    optional ``system`` and ``history`` ([[user, assistant], ...], earlier turns)."""
    instruction = _text(row, "instruction")
    extra = _text(row, "input", required=False)
    output = _text(row, "output")
    system = _text(row, "system", required=False)
    history = row.get("history") or []
    if not isinstance(history, list):
        raise RowError("bad_type", "expected a list of [user, assistant] pairs", "history")
    turns, fields = [], []
    for i, pair in enumerate(history):
        if not (isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(s, str) for s in pair)):
            raise RowError("bad_type", "expected a [user, assistant] pair of strings", f"history[{i}]")
        turns.append(Turn(pair[0], pair[1]))
        fields.append(f"history[{i}][1]")
    turns.append(Turn(instruction + ("\n" + extra if extra else ""), output))
    fields.append("output")
    _check_answers(turns, fields)
    return Conversation(tuple(turns), system)


def _parse_roles(items: list[tuple[str, str, str]]) -> Conversation:
    """``(role, content, field)`` triples: system messages first, then user/assistant alternating, ending with
    the assistant."""
    system_parts = []
    while items and items[0][0] == "system":
        system_parts.append(items.pop(0)[1])
    turns, fields = [], []
    for i in range(0, len(items), 2):
        pair = items[i : i + 2]
        if pair[0][0] != "user":
            raise RowError("turn_order", f"expected a user message, got {pair[0][0]}", pair[0][2])
        if len(pair) == 1:
            raise RowError("turn_order", "the conversation must end with an assistant message", pair[0][2])
        if pair[1][0] != "assistant":
            raise RowError("turn_order", f"expected an assistant message, got {pair[1][0]}", pair[1][2])
        turns.append(Turn(pair[0][1], pair[1][1]))
        fields.append(pair[1][2])
    if not turns:
        raise RowError("turn_order", "no user/assistant turn", None)
    _check_answers(turns, fields)
    return Conversation(tuple(turns), "\n".join(system_parts))


def _message_list(row: dict, key: str) -> list:
    if key not in row:
        raise RowError("missing_field", "missing required field", key)
    value = row[key]
    if not isinstance(value, list) or not all(isinstance(m, dict) for m in value):
        raise RowError("bad_type", "expected a list of objects", key)
    return value


def parse_messages(row: dict) -> Conversation:
    """OpenAI ``messages``: ``[{"role": system|user|assistant, "content": str}, ...]``."""
    items = []
    for i, message in enumerate(_message_list(row, "messages")):
        role = _text(message, "role", f"messages[{i}].role")
        if role not in ("system", "user", "assistant"):
            raise RowError(
                "bad_role", f"unknown role {role!r} (system, user or assistant)", f"messages[{i}].role"
            )
        items.append((role, _text(message, "content", f"messages[{i}].content"), f"messages[{i}].content"))
    return _parse_roles(items)


def parse_sharegpt(row: dict) -> Conversation:
    """ShareGPT ``conversations``: ``[{"from": human|gpt|system, "value": str}, ...]``."""
    items = []
    for i, message in enumerate(_message_list(row, "conversations")):
        speaker = _text(message, "from", f"conversations[{i}].from")
        if speaker not in SHAREGPT_ROLES:
            raise RowError(
                "bad_role", f"unknown speaker {speaker!r} (human, gpt or system)", f"conversations[{i}].from"
            )
        value = _text(message, "value", f"conversations[{i}].value")
        items.append((SHAREGPT_ROLES[speaker], value, f"conversations[{i}].value"))
    if "system" in row and not (items and items[0][0] == "system"):
        items.insert(0, ("system", _text(row, "system"), "system"))
    return _parse_roles(items)


PARSERS = {"alpaca": parse_alpaca, "messages": parse_messages, "sharegpt": parse_sharegpt}


def read_conversations(
    path: str | os.PathLike,
    format: Format = "auto",
    on_error: OnError = "raise",
    counts: ReadCounts | None = None,
) -> Iterator[Conversation]:
    """Yield the conversations of one JSONL(.gz) file, counting into ``counts``.

    ``format="auto"`` takes the format of the first row that matches one; every later row is read in that
    format (a row of another shape then lacks a field of it).
    """
    if format != "auto" and format not in PARSERS:
        raise InputError(f"unknown SFT format {format!r} (auto, {', '.join(FORMATS)})", field="format")
    if on_error not in ("raise", "skip"):
        raise InputError(f"unknown on_error {on_error!r} (raise or skip)", field="on_error")
    counts = counts if counts is not None else ReadCounts()
    path = Path(path)
    fmt = None if format == "auto" else format
    for lineno, row in read_jsonl_lines(path):
        counts.rows_read += 1
        if fmt is None:
            fmt = detect_format(row)
            if fmt is None:
                if on_error == "skip":
                    counts.skipped["unknown_format"] += 1
                    continue
                raise InputError(
                    "cannot tell the SFT format (expected instruction/output, messages or conversations)",
                    path,
                    lineno,
                )
        try:
            conversation = PARSERS[fmt](row)
        except RowError as err:
            if err.reason == "empty_response" or on_error == "skip":
                counts.skipped[err.reason] += 1
                continue
            raise InputError(f"{fmt} row: {err}", path, lineno, err.field) from None
        counts.by_format[fmt] += 1
        yield Conversation(conversation.turns, conversation.system, f"{path}:{lineno}")
