"""A shared-prefix KV cache: encode the few-shot part of a prompt once, reuse it for every question.

Prompts are tokenised whole (exactly what the official scripts feed the model); the cache covers the longest
common prefix between the prompt's ids and the few-shot prefix's ids, so a tokenisation boundary that differs
between the two can never change what is computed, only how much of it is shared.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from transformers import DynamicCache


def common_prefix_length(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PrefixCache:
    """Keys and values of ``prefix_ids`` for every layer, handed out batch-expanded and cropped."""

    def __init__(self, model, prefix_ids: list[int]):
        self.ids = list(prefix_ids)
        self.kv: list[tuple[torch.Tensor, torch.Tensor]] = []
        if not self.ids:
            return
        device = next(model.parameters()).device
        with torch.no_grad():
            out = model.get_decoder()(
                input_ids=torch.tensor([self.ids], device=device),
                use_cache=True,
                cache=DynamicCache(),
            )
        cache = out.cache
        self.kv = [(layer.keys, layer.values) for layer in cache.layers]

    def shared_length(self, ids: list[int]) -> int:
        """How many leading ids of ``ids`` the cache covers (at least one id is left to run)."""
        return min(common_prefix_length(self.ids, ids), len(ids) - 1)

    def expanded(self, batch_size: int, length: int) -> DynamicCache | None:
        """A fresh cache holding the first ``length`` positions, repeated for ``batch_size`` rows."""
        if length == 0:
            return None
        return DynamicCache(
            [
                (
                    k[:, :, :length].expand(batch_size, -1, -1, -1),
                    v[:, :, :length].expand(batch_size, -1, -1, -1),
                )
                for k, v in self.kv
            ]
        )


def prefix_batches(
    shared: list[int], suffix_lengths: list[int], batch_size: int
) -> Iterator[tuple[int, list[int]]]:
    """Group prompts into batches of at most ``batch_size`` that share the same cached-prefix length.

    Yields ``(shared length, prompt indices)``; within a group prompts are sorted by suffix length so that
    right-padding stays small. ``shared[i]`` comes from :meth:`PrefixCache.shared_length`.
    """
    order = sorted(range(len(shared)), key=lambda i: (shared[i], suffix_lengths[i]))
    start = 0
    while start < len(order):
        first = shared[order[start]]
        rows = [order[start]]
        while (
            len(rows) < batch_size
            and start + len(rows) < len(order)
            and shared[order[start + len(rows)]] == first
        ):
            rows.append(order[start + len(rows)])
        start += len(rows)
        yield first, rows
