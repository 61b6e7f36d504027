"""The forward passes behind every benchmark: summed cross-entropy per sequence, and next-token log-probabilities.

Summed cross-entropy (domain loss, the leakage test): official ``eval_loss.py`` pads each batch of 16 documents
(in file order) to its longest member and runs the full LM head over every position, pads included. Here
documents are sorted by length first, so a batch holds documents of nearly equal length (padding almost
vanishes), and the LM head runs only on the positions that are scored, in chunks (a 65k-vocabulary logit tensor
for 16 x 4096 positions would be 17 GB in fp32). Right padding with an attention mask leaves every real
position's computation unchanged, so the per-document sums are the same.

Next-token log-probabilities (multiple choice): the few-shot prefix is encoded once and its KV cache reused for
every prompt that starts with it; only each prompt's own tokens run, batched (right-padded) so a batch's last
positions come out together.

Only :class:`skywork.eval.adapter.ModelAdapter` calls these; benchmarks build requests instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from skywork.inference.prefix import PrefixCache, prefix_batches


@dataclass
class SequenceLosses:
    """Per-sequence summed cross-entropy (nats) and number of predicted tokens (length - 1)."""

    loss_sums: list[float]
    token_counts: list[int]
    padded_positions: int = 0
    real_positions: int = 0
    token_losses: list[list[float]] | None = None  # per predicted token, when asked for (min-k% prob)

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
    keep_token_losses: bool = False,
) -> SequenceLosses:
    """Summed token cross-entropy of each sequence over positions 1..n-1 (the first token is not predicted).

    ``on_batch(n_sequences)`` is called after each batch (progress bars). ``keep_token_losses`` also returns
    every predicted token's cross-entropy (``token_losses``), for per-token statistics such as min-k% prob.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    decoder, head = _decoder_and_head(model)
    device = next(model.parameters()).device
    sums = [0.0] * len(sequences)
    counts = [max(len(s) - 1, 0) for s in sequences]
    tokens: list[list[float]] | None = [[] for _ in sequences] if keep_token_losses else None
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
        per_token = []
        for c in range(0, states.shape[0], head_chunk):
            logits = head(states[c : c + head_chunk]).float()
            ce = F.cross_entropy(logits, targets[c : c + head_chunk], reduction="none")
            per_row.index_add_(0, row_of[c : c + head_chunk], ce.double())
            if tokens is not None:
                per_token.append(ce.double().cpu())
        for r, i in enumerate(rows):
            sums[i] = float(per_row[r])
        if tokens is not None:
            flat = torch.cat(per_token).tolist()
            at = 0
            for i in rows:  # scored positions are row-major: a row's tokens are contiguous
                tokens[i] = flat[at : at + counts[i]]
                at += counts[i]
        if on_batch is not None:
            on_batch(len(rows))
    return SequenceLosses(sums, counts, padded, real, tokens)


def encode_plain(tokenizer, texts: list[str]) -> list[list[int]]:
    """Token ids without special tokens (no BOS), as official ``eval_loss.py`` encodes."""
    return [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]


@torch.no_grad()
def last_position_logprobs(
    model,
    prompt_ids: list[list[int]],
    prefix_ids: list[int] | None = None,
    batch_size: int = 8,
) -> torch.Tensor:
    """Log-softmax over the vocabulary at the last position of each prompt, shape ``[n, vocab]`` (fp32, CPU).

    With ``prefix_ids`` the shared prefix is encoded once and reused (KV cache); without, each prompt runs whole.
    Either way every prompt's own tokens are exactly those given: the two paths compute the same numbers.
    """
    device = next(model.parameters()).device
    decoder, head = model.get_decoder(), model.get_output_embeddings()
    cache = PrefixCache(model, prefix_ids) if prefix_ids else None
    shared = [cache.shared_length(ids) if cache else 0 for ids in prompt_ids]
    out: list[torch.Tensor | None] = [None] * len(prompt_ids)
    suffix_lengths = [len(ids) - s for ids, s in zip(prompt_ids, shared, strict=True)]
    for first, rows in prefix_batches(shared, suffix_lengths, batch_size):
        suffixes = [prompt_ids[i][first:] for i in rows]
        width = max(len(s) for s in suffixes)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), first + width), dtype=torch.long)
        mask[:, :first] = 1
        for r, s in enumerate(suffixes):
            ids[r, : len(s)] = torch.tensor(s)
            mask[r, first : first + len(s)] = 1
        past = cache.expanded(len(rows), first) if cache else None
        positions = torch.arange(first, first + width).unsqueeze(0).expand(len(rows), -1)
        hidden = decoder(
            input_ids=ids.to(device),
            attention_mask=None if bool(mask.all()) else mask.to(device),
            position_ids=positions.to(device),
            past_key_values=past,
            use_cache=past is not None,
        ).last_hidden_state
        last = torch.tensor([len(s) - 1 for s in suffixes], device=device)
        states = hidden[torch.arange(len(rows), device=device), last]
        logprobs = torch.log_softmax(head(states).float(), dim=-1).cpu()
        for r, i in enumerate(rows):
            out[i] = logprobs[r]
    return torch.stack(out) if out else torch.empty(0)
