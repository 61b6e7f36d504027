"""Grading chat answers with a judge model behind any OpenAI-compatible endpoint (``skywork eval chat --judge-url``).

Off by default: the automatic metrics of :mod:`skywork.finetune.chat_eval` need no network. With a judge URL every
answer is sent, with its prompt and :data:`RUBRIC`, to ``POST {url}/chat/completions`` through the official
``openai`` client (vLLM, ``skywork serve``, the OpenAI API, llama.cpp's server, ...), greedy, and the reply is
parsed for ``Grade: N`` (1-10). Replies are kept as they are; a reply without a readable grade is counted as
``unparsable`` and a failed request as ``failed``: neither is guessed, both are reported beside the mean grade.

The API key is read from the environment variable named by ``--api-key-env`` only, so a key is never sent to an
endpoint that was not meant to receive it; without it the client sends the placeholder ``EMPTY`` (what local
servers expect).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass

RUBRIC = """You are grading one answer of a chat assistant to a user's request (mostly creative writing).
Score the answer from 1 to 10:
- 9-10: does everything the request asks (topic, form, length, style), fluent, in the language of the request;
- 7-8: does what is asked, with small flaws in form, fluency or detail;
- 4-6: on topic but incomplete, partly ignores the requested form, or clumsy;
- 2-3: mostly off topic, in the wrong language, or heavily repetitive;
- 1: empty, gibberish, or unrelated to the request.
Judge only the answer; do not write one yourself. Reply with one line "Grade: N" (N an integer from 1 to 10),
then one short sentence giving the reason."""

_GRADE = re.compile(r"(?:grade|score|评分|分数)\s*[:：=]?\s*\**\s*(\d{1,2})(?:\s*/\s*10)?", re.IGNORECASE)
_LEADING = re.compile(r"^\s*\**\s*(\d{1,2})\s*\**\s*(?:/\s*10\b|$)")  # a bare "7", "**7**" or "7/10 ..."


def parse_grade(reply: str | None) -> int | None:
    """The grade 1-10 in a judge's reply (``Grade: 7``, ``score 7/10``, ``评分：7``, a bare ``7`` or ``7/10 ...``),
    else None."""
    if not reply:
        return None
    match = _GRADE.search(reply) or _LEADING.match(reply)
    if not match:
        return None
    grade = int(match.group(1))
    return grade if 1 <= grade <= 10 else None


@dataclass
class JudgeConfig:
    """Where the judge lives and how to ask it."""

    url: str
    model: str | None = None  # None: the first model the endpoint lists (/v1/models)
    api_key_env: str | None = None  # the environment variable holding the key; None: no key ("EMPTY")
    max_tokens: int = 64
    timeout: float = 120.0


def judge_messages(prompt: str, answer: str) -> list[dict]:
    return [
        {"role": "system", "content": RUBRIC},
        {"role": "user", "content": f"Request:\n{prompt}\n\nAnswer:\n{answer}\n\nGrade the answer."},
    ]


def make_client(config: JudgeConfig):
    from skywork.utils.optional import require

    openai = require("openai", "serve", "the chat-eval judge (--judge-url)")
    key = "EMPTY"
    if config.api_key_env:
        key = os.environ.get(config.api_key_env) or ""
        if not key:
            raise ValueError(f"--api-key-env {config.api_key_env}: that environment variable is not set")
    return openai.OpenAI(base_url=config.url, api_key=key, timeout=config.timeout, max_retries=1)


def grade_answers(answers: list[dict], config: JudgeConfig, on_answer: Callable | None = None) -> str:
    """Add ``judge = {"grade": int | None, "reply": str | None, "error": str | None}`` to every answer row
    (``prompt``, ``answer``); returns the judge model's name."""
    client = make_client(config)
    model = config.model
    if model is None:
        try:
            model = client.models.list().data[0].id
        except Exception as err:
            raise RuntimeError(
                f"judge {config.url}: cannot list its models ({type(err).__name__}: {err}); check the URL and "
                "--api-key-env, or name the model with --judge-model"
            ) from err
    for row in answers:
        try:
            out = client.chat.completions.create(
                model=model,
                messages=judge_messages(row["prompt"], row["answer"]),
                temperature=0.0,
                max_tokens=config.max_tokens,
            )
            reply = out.choices[0].message.content
            row["judge"] = {"grade": parse_grade(reply), "reply": reply, "error": None}
        except Exception as err:  # noqa: BLE001 - a failed request is counted, the others still graded
            row["judge"] = {"grade": None, "reply": None, "error": f"{type(err).__name__}: {err}"[:300]}
        if on_answer is not None:
            on_answer()
    return model


def judge_metrics(answers: list[dict]) -> dict:
    """Mean grade over the parsed grades, and how many were graded, unparsable or failed."""
    judged = [a["judge"] for a in answers if "judge" in a]
    grades = [j["grade"] for j in judged if j["grade"] is not None]
    return {
        "judge_grade": sum(grades) / len(grades) if grades else None,
        "judge_graded": len(grades),
        "judge_unparsable": sum(j["grade"] is None and j["error"] is None for j in judged),
        "judge_failed": sum(j["error"] is not None for j in judged),
    }
