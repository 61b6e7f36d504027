"""Packing SFT examples into fixed rows without letting them see each other, and the padded alternative.

A packed row holds several examples back to back, then padding. Three things keep each example exactly as if
it ran alone:

1. ``position_ids`` restart at 0 at every example (RoPE sees the same positions);
2. attention is block-diagonal causal: a token attends only to earlier tokens of its own example
   (:func:`block_causal_mask` from the per-token ``segment_ids``; 0 marks padding, which attends only to padding);
3. no label crosses a boundary: an example's first token has label -100 (it would otherwise be predicted from
   the previous example's last token), and padding has -100.

How the model receives (2), both documented by transformers 5 (``masking_utils``): an explicit 4D mask passed as
``attention_mask`` is used as-is (``_preprocess_mask_arguments`` returns early) by the eager and SDPA kernels;
or no mask at all, in which case ``find_packed_sequence_indices`` detects the restarting ``position_ids`` and
builds the same block-diagonal mask for whichever kernel is set (flash-attention then runs varlen), provided
no KV cache is in play (``use_cache=False``; with a cache the detection is skipped and examples leak). The test
``tests/finetune/test_packing.py`` checks both against each example run alone.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from skywork.finetune.templates import IGNORE, Example


def pack_greedy(lengths: Sequence[int], seq_len: int) -> list[list[int]]:
    """Best-fit decreasing bin packing: example indices per row, each row's lengths summing to <= ``seq_len``.

    Longest first (ties by index), each into the fullest row it still fits (ties: the oldest row), else a new
    row. Deterministic, O(n log n). Rows keep their examples in placement order.
    """
    for i, n in enumerate(lengths):
        if n > seq_len:
            raise ValueError(f"example {i} has {n} tokens, more than seq_len {seq_len}; truncate it first")
        if n <= 0:
            raise ValueError(f"example {i} is empty")
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (room left, row index), sorted
    for i in order:
        slot = bisect.bisect_left(free, (lengths[i], -1))
        if slot < len(free):
            room, row = free.pop(slot)
        else:
            room, row = seq_len, len(rows)
            rows.append([])
        rows[row].append(i)
        bisect.insort(free, (room - lengths[i], row))
    return rows


@dataclass
class PackedBatch:
    """Rows of packed examples, all (B, T) int64; ``segment_ids`` numbers the examples of a row from 1 (0 =
    padding)."""

    input_ids: torch.Tensor
    labels: torch.Tensor
    position_ids: torch.Tensor
    segment_ids: torch.Tensor

    def model_inputs(self, mask: str = "4d", mask_dtype: torch.dtype = torch.float32) -> dict:
        """Forward kwargs: ``mask="4d"`` adds the block-diagonal ``attention_mask`` (eager/SDPA; ``mask_dtype``
        must be the attention's compute dtype, or bool for SDPA only); ``mask="none"`` leaves transformers to
        derive it from ``position_ids`` (any kernel, flash-attention varlen included) and sets
        ``use_cache=False``: transformers only looks for packed position ids when no KV cache exists, and the
        model makes one by default in eval mode, which would silently let examples attend to each other."""
        inputs = {"input_ids": self.input_ids, "labels": self.labels, "position_ids": self.position_ids}
        if mask == "4d":
            inputs["attention_mask"] = block_causal_mask(self.segment_ids, mask_dtype)
        elif mask == "none":
            inputs["use_cache"] = False
        else:
            raise ValueError(f"unknown mask {mask!r} (4d or none)")
        return inputs


def collate_packed(
    examples: Sequence[Example], rows: Sequence[Sequence[int]], seq_len: int, pad_id: int
) -> PackedBatch:
    """Lay out ``rows`` (example indices, from :func:`pack_greedy`) as a :class:`PackedBatch` of ``seq_len``.

    Padding gets ``pad_id``, label -100, segment 0 and positions counting from 0 (so transformers' position-id
    detection also sees it as its own sequence).
    """
    shape = (len(rows), seq_len)
    input_ids = torch.full(shape, pad_id, dtype=torch.long)
    labels = torch.full(shape, IGNORE, dtype=torch.long)
    position_ids = torch.zeros(shape, dtype=torch.long)
    segment_ids = torch.zeros(shape, dtype=torch.long)
    for r, row in enumerate(rows):
        start = 0
        for segment, index in enumerate(row, start=1):
            example = examples[index]
            end = start + len(example)
            if end > seq_len:
                raise ValueError(f"row {r} holds {end} tokens, more than seq_len {seq_len}")
            input_ids[r, start:end] = torch.tensor(example.input_ids)
            labels[r, start:end] = torch.tensor(example.labels)
            labels[r, start] = IGNORE  # never predict an example's first token from the previous example
            position_ids[r, start:end] = torch.arange(len(example))
            segment_ids[r, start:end] = segment
            start = end
        position_ids[r, start:] = torch.arange(seq_len - start)
    return PackedBatch(input_ids, labels, position_ids, segment_ids)


def block_causal_mask(segment_ids: torch.Tensor, dtype: torch.dtype = torch.bool) -> torch.Tensor:
    """The (B, 1, T, T) mask letting token q attend to token k iff k <= q and both are in the same segment.

    ``dtype=torch.bool``: True where attention is allowed (SDPA). A float dtype: 0 where allowed and the dtype's
    minimum elsewhere, the additive form both the eager and SDPA kernels take (transformers' ``eager_mask``).
    Every row keeps its diagonal, so no query is fully masked (padding attends to padding).
    """
    length = segment_ids.shape[-1]
    causal = torch.ones(length, length, dtype=torch.bool, device=segment_ids.device).tril()
    allowed = (segment_ids[:, :, None] == segment_ids[:, None, :]) & causal
    allowed = allowed[:, None]
    if dtype == torch.bool:
        return allowed
    zero = torch.zeros((), dtype=dtype, device=segment_ids.device)
    return torch.where(allowed, zero, torch.finfo(dtype).min)


def collate_padded(examples: Sequence[Example], pad_id: int, pad_to: int | None = None) -> dict:
    """One example per row, right-padded to the longest (or ``pad_to``): ``input_ids``, ``labels`` (-100 on
    padding) and a 2D ``attention_mask`` from the lengths (not from ``ids != pad``, which would also hide real
    tokens equal to the pad id, e.g. ``</s>`` when pad = eos)."""
    length = max(len(e) for e in examples) if pad_to is None else pad_to
    shape = (len(examples), length)
    input_ids = torch.full(shape, pad_id, dtype=torch.long)
    labels = torch.full(shape, IGNORE, dtype=torch.long)
    attention_mask = torch.zeros(shape, dtype=torch.long)
    for r, example in enumerate(examples):
        if len(example) > length:
            raise ValueError(f"example {r} has {len(example)} tokens, more than pad_to {length}")
        input_ids[r, : len(example)] = torch.tensor(example.input_ids)
        labels[r, : len(example)] = torch.tensor(example.labels)
        labels[r, 0] = IGNORE
        attention_mask[r, : len(example)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}


def supervised_token_count(labels: torch.Tensor) -> int:
    """Tokens that carry a loss (the count to divide a summed loss by; labels[:, 0] never counts after the shift)."""
    return int((labels[:, 1:] != IGNORE).sum())
