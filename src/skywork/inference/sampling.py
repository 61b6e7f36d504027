"""Decoding settings and the token choice: greedy or seeded sampling with transformers' logits-processor semantics.

The processors are applied in transformers' order and with its formulas (``RepetitionPenaltyLogitsProcessor``,
then ``TemperatureLogitsWarper``, ``TopKLogitsWarper``, ``TopPLogitsWarper``; softmax, ``torch.multinomial``), so
that a single seeded row samples exactly the tokens ``model.generate(do_sample=True)`` samples after
``torch.manual_seed(seed)``. One difference by design: the repetition penalty sees a row's real tokens (prompt and
completion), never the padding of a batch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SamplingParams:
    """How to decode one request. The defaults are plain greedy decoding up to EOS.

    ``temperature`` 0 means greedy (argmax after the repetition penalty, as transformers' ``do_sample=False``);
    ``top_k`` 0 and ``top_p`` 1.0 switch those filters off. ``stop`` strings end a completion once its decoded text
    holds one (the text is cut before it); ``stop_token_ids`` None means the tokenizer's EOS. ``seed`` makes
    sampling reproducible: completion ``j`` of prompt ``i`` draws from its own generator seeded with
    ``seed + i * n + j``, so a completion does not depend on the batch it ran in.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] | None = None
    seed: int | None = None
    skip_special_tokens: bool = True

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1 or self.n < 1:
            raise ValueError("max_new_tokens and n must be at least 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0 or self.repetition_penalty <= 0:
            raise ValueError("need temperature >= 0, 0 < top_p <= 1, top_k >= 0, repetition_penalty > 0")
        object.__setattr__(self, "stop", tuple(self.stop))
        if self.stop_token_ids is not None:
            object.__setattr__(self, "stop_token_ids", tuple(self.stop_token_ids))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def replace(self, **changes) -> SamplingParams:
        return dataclasses.replace(self, **changes)

    @classmethod
    def official_demo(cls, **changes) -> SamplingParams:
        """The released cli_demo.py settings (spec 3.4): top_p 0.8, top_k 5, temperature 0.95, penalty 1.1."""
        return cls(max_new_tokens=1000, temperature=0.95, top_p=0.8, top_k=5, repetition_penalty=1.1).replace(
            **changes
        )


def row_generators(
    params: SamplingParams, rows: list[int], device: torch.device
) -> list[torch.Generator] | None:
    """One generator per row (``rows`` are the flat indices ``i * n + j``); None means the global torch RNG."""
    if params.greedy or params.seed is None:
        return None
    return [torch.Generator(device=device).manual_seed(params.seed + r) for r in rows]


def choose_tokens(
    logits: torch.Tensor,
    params: SamplingParams,
    seen: torch.Tensor | None = None,
    generators: list[torch.Generator] | None = None,
) -> torch.Tensor:
    """The next token of every row from its last-position ``logits`` (rows x vocab).

    ``seen`` (rows x vocab, bool) marks the tokens a row already holds, for the repetition penalty.
    """
    scores = logits.float()
    if params.repetition_penalty != 1.0 and seen is not None:
        penalty = params.repetition_penalty
        penalized = torch.where(scores < 0, scores * penalty, scores / penalty)
        scores = torch.where(seen, penalized, scores)
    if params.greedy:
        return scores.argmax(dim=-1)
    if params.temperature != 1.0:
        scores = scores / params.temperature
    if params.top_k:
        kth = torch.topk(scores, min(params.top_k, scores.size(-1)))[0][..., -1, None]
        scores = scores.masked_fill(scores < kth, -float("inf"))
    if params.top_p < 1.0:
        sorted_logits, sorted_indices = torch.sort(scores, descending=False)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        sorted_remove = cumulative <= (1 - params.top_p)
        sorted_remove[..., -1:] = False
        remove = sorted_remove.scatter(1, sorted_indices, sorted_remove)
        scores = scores.masked_fill(remove, -float("inf"))
    probs = torch.softmax(scores, dim=-1)
    if generators is None:
        return torch.multinomial(probs, num_samples=1).squeeze(1)
    picks = [torch.multinomial(probs[r : r + 1], 1, generator=g) for r, g in enumerate(generators)]
    return torch.cat(picks).squeeze(1)
