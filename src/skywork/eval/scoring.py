"""The summed-cross-entropy engine behind domain loss and the leakage test.

Official ``eval_loss.py`` pads each batch of 16 documents (in file order) to its longest member and runs the full
LM head over every position, pads included. Here documents are sorted by length first, so a batch holds documents
of nearly equal length (padding almost vanishes), and the LM head runs only on the positions that are scored,
in chunks (a 65k-vocabulary logit tensor for 16 x 4096 positions would be 17 GB in fp32). Right padding with an
attention mask leaves every real position's computation unchanged, so the per-document sums are the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class SequenceLosses:
    """Per-sequence summed cross-entropy (nats) and number of predicted tokens (length - 1)."""

    loss_sums: list[float]
    token_counts: list[int]
    padded_positions: int = 0
    real_positions: int = 0

    @property
    def padding_fraction(self) -> float:
        total = self.padded_positions + self.real_positions
        return self.padded_positions / total if total else 0.0


def _decoder_and_head(model):
    """The transformer body (returns final-normed hidden states) and the LM head of a causal LM."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    head = model.get_output_embeddings()
    if decoder is None or head is None:
        raise TypeError(f"{type(model).__name__}: need get_decoder() and get_output_embeddings()")
    return decoder, head


@torch.no_grad()
def sequence_losses(
    model,
    sequences: list[list[int]],
    batch_size: int = 16,
    head_chunk: int = 4096,
    on_batch: Callable[[int], None] | None = None,
) -> SequenceLosses:
    """Summed token cross-entropy of each sequence over positions 1..n-1 (the first token is not predicted).

    ``on_batch(n_sequences)`` is called after each batch (progress bars).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    decoder, head = _decoder_and_head(model)
    device = next(model.parameters()).device
    sums = [0.0] * len(sequences)
    counts = [max(len(s) - 1, 0) for s in sequences]
    order = sorted((i for i in range(len(sequences)) if counts[i] > 0), key=lambda i: -len(sequences[i]))
    padded = real = 0
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        width = max(len(sequences[i]) for i in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            ids[r, : len(sequences[i])] = torch.tensor(sequences[i])
            mask[r, : len(sequences[i])] = 1
        real += int(mask.sum())
        padded += mask.numel() - int(mask.sum())
        ids, mask = ids.to(device), mask.to(device)
        full = bool(mask.all())
        hidden = decoder(input_ids=ids, attention_mask=None if full else mask).last_hidden_state
        scored = mask[:, 1:].bool()
        states = hidden[:, :-1][scored]
        targets = ids[:, 1:][scored]
        row_of = scored.nonzero()[:, 0]
        per_row = torch.zeros(len(rows), dtype=torch.float64, device=device)
        for c in range(0, states.shape[0], head_chunk):
            logits = head(states[c : c + head_chunk]).float()
            ce = F.cross_entropy(logits, targets[c : c + head_chunk], reduction="none")
            per_row.index_add_(0, row_of[c : c + head_chunk], ce.double())
        for r, i in enumerate(rows):
            sums[i] = float(per_row[r])
        if on_batch is not None:
            on_batch(len(rows))
    return SequenceLosses(sums, counts, padded, real)


def encode_plain(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids without special tokens (no BOS), as official ``eval_loss.py`` encodes."""
    return [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
