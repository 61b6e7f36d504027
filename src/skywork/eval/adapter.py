"""The one model adapter: a model, its tokenizer, device, dtype and batch size, answering lists of requests.

Like lm-evaluation-harness's ``LM`` class: benchmarks build :mod:`skywork.eval.requests` (multiple-choice
log-likelihoods, rolling losses, generations) and this class answers them in batches with the fast paths of
:mod:`skywork.eval.scoring` (shared-prefix KV cache, length-sorted batches, LM head only where scored) and
the generation engine (:mod:`skywork.inference`). Requests that share a prefix and settings run together, in the order
given, so one benchmark's requests are computed exactly as one direct call would compute them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from skywork.eval.requests import GenerateUntil, Loglikelihood, LoglikelihoodAnswer, RollingLoss
from skywork.eval.scoring import SequenceLosses, encode_plain, last_position_logprobs, sequence_losses


def resolve_device(device: str) -> str:
    """``auto`` is cuda when a GPU is visible, else cpu; anything else is passed through."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _truncate_left(ids: list[int], max_length: int | None) -> list[int]:
    """The official MMLU rule: over ``max_length`` tokens, keep the last ``max_length - 1``."""
    if max_length is not None and len(ids) > max_length:
        return ids[len(ids) - max_length + 1 :]
    return ids


class ModelAdapter:
    """Answers evaluation requests with one causal LM; the only evaluation code that runs the model."""

    def __init__(self, model, tokenizer, batch_size: int = 8):
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        tokenizer_dir: str | Path | None = None,
        *,
        dtype: str = "fp32",
        device: str = "auto",
        batch_size: int = 8,
        chat: bool = True,
    ) -> ModelAdapter:
        """Load a model directory (``skywork.model.load_model``) and its tokenizer (default: the same directory)."""
        from skywork import tokenizer as tok
        from skywork.model import load_model

        model = load_model(model_dir, dtype=dtype, device=resolve_device(device))
        return cls(model, tok.load(tokenizer_dir or model_dir, chat=chat), batch_size)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.model.parameters()).dtype

    def _next_token_id(self, continuation: str) -> int:
        return self.tokenizer(continuation)["input_ids"][-1]

    def loglikelihood(self, requests: list[Loglikelihood]) -> list[LoglikelihoodAnswer]:
        """Next-token log-probabilities of each request's continuations, in request order.

        Requests sharing a prefix run together through its KV cache; a context over its ``max_length`` is
        left-truncated and runs whole (batch 1), since it no longer starts with the prefix.
        """
        ids = [self.tokenizer(r.context)["input_ids"] for r in requests]
        truncated = [
            r.max_length is not None and len(x) > r.max_length for r, x in zip(requests, ids, strict=True)
        ]
        targets = {c: [self._next_token_id(t) for t in c] for c in {r.continuations for r in requests}}
        logprobs: list[list[float] | None] = [None] * len(requests)
        groups: dict[str | None, list[int]] = {}
        for i, request in enumerate(requests):
            if not truncated[i]:
                groups.setdefault(request.shared_prefix, []).append(i)
        batches = [
            (members, self.tokenizer(prefix)["input_ids"] if prefix else None, self.batch_size)
            for prefix, members in groups.items()
        ]
        long = [i for i, t in enumerate(truncated) if t]
        if long:
            batches.append((long, None, 1))
        for members, prefix_ids, batch_size in batches:
            contexts = [_truncate_left(ids[i], requests[i].max_length) for i in members]
            scored = last_position_logprobs(self.model, contexts, prefix_ids, batch_size)
            for row, i in zip(scored, members, strict=True):
                logprobs[i] = row[targets[requests[i].continuations]].tolist()
        return [LoglikelihoodAnswer(lp, t) for lp, t in zip(logprobs, truncated, strict=True)]

    def rolling_loss(
        self, requests: list[RollingLoss], on_batch: Callable[[int], None] | None = None
    ) -> SequenceLosses:
        """Summed cross-entropy and predicted-token count of each text (no BOS; ``on_batch(n)`` after each batch)."""
        sequences = encode_plain(self.tokenizer, [r.text for r in requests])
        return sequence_losses(self.model, sequences, batch_size=self.batch_size, on_batch=on_batch)

    def generate_until(self, requests: list[GenerateUntil]) -> list[str]:
        """Greedy completions (raw text, not yet cut at the stop strings), in request order.

        Requests that share a prefix and settings run together through the generation engine, which computes the
        shared prefix's KV cache once. A row stops at EOS or once its decoded tail holds a stop string; finished
        rows stay in the batch so the batch shapes, hence the rounding, are those the GSM8K figures were made with.
        """
        from skywork.inference import GenerationEngine, SamplingParams

        eos = self.tokenizer.eos_token_id
        engine = GenerationEngine(
            self.model, self.tokenizer, batch_size=self.batch_size, drop_finished_rows=False
        )
        outputs: list[str] = [""] * len(requests)
        groups: dict[tuple, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault((r.shared_prefix, r.stop, r.max_new_tokens), []).append(i)
        for (shared_prefix, stop, max_new_tokens), members in groups.items():
            params = SamplingParams(
                max_new_tokens=max_new_tokens,
                stop=tuple(stop),
                stop_token_ids=(eos,) if eos is not None else (),
                skip_special_tokens=False,
            )
            results = engine.generate(
                [requests[i].prompt for i in members], params, shared_prefix=shared_prefix
            )
            for i, completions in zip(members, results, strict=True):
                outputs[i] = self.tokenizer.decode(completions[0].token_ids)
        return outputs
