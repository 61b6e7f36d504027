"""How a math problem is put to a model, where its answer stops, and how a sampled solution is trimmed.

Three formats, one name each (config key ``prompt_format``, ``skywork eval gsm8k --format``):

- ``math-chat``: the released Skywork-13B-Math's zero-shot format (spec 2 and 3.4): ``</s><s>[USER]{question}
  [SEP][BOT]`` as token ids (:func:`skywork.tokenizer.chat.encode_turn`), the answer ends at ``</s>``; greedy in the
  official demo. This is also what an SFT row ``{instruction: question, output: solution}`` trains (official
  template), so fine-tuned models answer in the format they are evaluated in.
- ``plain``: ``question + "\\n"`` after BOS, the layout of the pretraining STEM documents (``question\\nsolution``);
  the answer ends at ``</s>`` or a blank line.
- ``fewshot``: the official GSM8K base-model prompt, ``fewshot + "\\nQuestion: " + q + "\\nLet's think step by
  step\\n"``, cut at ``</s>``, ``\\n\\n`` or ``Question:`` (``skywork.eval.gsm8k``).

Whatever the format, :func:`trim_solution` ends a solution after its ``#### N`` line: a model that goes on after
stating its answer is graded on what it committed to first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from skywork.utils.io import InputError
from skywork.utils.paths import shared_data_dir

PromptFormat = Literal["math-chat", "plain", "fewshot"]
FORMATS: tuple[str, ...] = ("math-chat", "plain", "fewshot")
FEWSHOT_STOPS = ("</s>", "\n\n\n", "\n\n", "Question:")
STOPS: dict[str, tuple[str, ...]] = {"math-chat": ("[USER]",), "plain": ("\n\n",), "fewshot": FEWSHOT_STOPS}


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


def fewshot_prompt(fewshot: str, question: str) -> str:
    """The official GSM8K prompt (``eval/eval_gsm8k.py``)."""
    return fewshot + "\nQuestion: " + question + "\nLet's think step by step\n"


def build_prompt(tokenizer, question: str, prompt_format: str, fewshot: str | None = None) -> str | list[int]:
    """The prompt of ``question`` in ``prompt_format``: token ids (math-chat) or text (plain, fewshot)."""
    if prompt_format == "math-chat":
        from skywork.tokenizer.chat import encode_turn

        return encode_turn(tokenizer, question)
    if prompt_format == "plain":
        return question.strip() + "\n"
    if prompt_format == "fewshot":
        if fewshot is None:
            raise ValueError("the fewshot format needs the few-shot text")
        return fewshot_prompt(fewshot, question)
    raise ValueError(f"unknown prompt format {prompt_format!r} (one of {', '.join(FORMATS)})")


def shared_prefix(prompt_format: str, fewshot: str | None) -> str | None:
    """The text every prompt of the format starts with, whose KV cache the engine computes once."""
    return fewshot + "\nQuestion: " if prompt_format == "fewshot" and fewshot else None


def trim_solution(text: str) -> str:
    """``text`` up to the end of its first ``#### N`` line (all of it when there is none), stripped."""
    at = text.find("####")
    if at >= 0:
        end = text.find("\n", at)
        text = text if end < 0 else text[:end]
    return text.strip()
