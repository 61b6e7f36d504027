"""What a benchmark asks of a model, as plain data (lm-evaluation-harness's request types).

A benchmark turns its documents into requests (prompt strings, candidate continuations, stop strings); the
:class:`~skywork.eval.adapter.ModelAdapter` answers a list of them in batches. Prompts never touch model code and
the adapter knows nothing of any benchmark, so a new benchmark is a new request builder, never a new forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Loglikelihood:
    """Log-probabilities of candidate next tokens after ``context`` (multiple choice).

    ``context`` is tokenised whole with the tokenizer's default special tokens (BOS first). Each continuation is
    scored as one next token, the last id of ``tokenizer(continuation)`` (the official C-Eval / CMMLU / MMLU rule:
    ``tokenizer("A")["input_ids"][-1]``), from the log-softmax over the vocabulary at the last context position.
    """

    context: str
    continuations: tuple[str, ...]
    shared_prefix: str | None = None  # text many requests start with: its KV cache is computed once
    max_length: int | None = None  # over this many tokens, keep the last max_length - 1 (official MMLU rule)


@dataclass(frozen=True)
class LoglikelihoodAnswer:
    """One log-probability per continuation, and whether the context was left-truncated to ``max_length``."""

    logprobs: list[float]
    truncated: bool


@dataclass(frozen=True)
class RollingLoss:
    """Summed cross-entropy of a whole text, encoded without BOS, over positions 1..n (official eval_loss.py)."""

    text: str


@dataclass(frozen=True)
class GenerateUntil:
    """A greedy completion of ``prompt`` that stops at EOS, at a stop string or after ``max_new_tokens``."""

    prompt: str
    stop: tuple[str, ...]
    max_new_tokens: int
    shared_prefix: str | None = None  # text many prompts start with: its KV cache is computed once
