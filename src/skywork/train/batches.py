"""What the training loop consumes: a :class:`Batch` of token rows and a :class:`BatchSource` that hands them out.

The loop (:mod:`skywork.train.loop`) knows nothing about where tokens come from. It asks its batch source for the
micro-batches of each step and for the held-out sets, and saves the source's position in every checkpoint::

    class BatchSource(Protocol):
        def next_batch(self, rows: int) -> Batch          # the next `rows` rows of the *global* batch
        def validation_sets(self) -> dict[str, Batch]     # fixed held-out batches, evaluated every eval_every steps
        def log_fields(self) -> dict                      # extra fields of each metrics row (e.g. mixture shares)
        def state_dict(self) -> dict                      # JSON-able position, saved in trainer_state.json
        def load_state_dict(self, state: dict) -> None    # continue exactly where state_dict() was taken

Every rank builds the same source and draws the whole global batch (``micro_batch_size x world`` rows per
micro-step), then keeps its own rows, so the data order does not depend on the number of processes.
``next_batch`` raises :class:`DataExhausted` when the data ran out; the loop then evaluates, checkpoints and stops.

Pretraining's source is :class:`skywork.train.data.ShardMixtureSource` (token shards, a mixture with the STEM ramp,
repetition caps). Later stages plug in their own: packed SFT examples (prompt tokens labelled -100), long-context
samples, self-generated data. A row carries ``labels`` with -100 wherever no loss is taken, ``position_ids`` that
restart at every packed example (the model then attends block-diagonally, see :meth:`Batch.model_inputs`) and an
optional ``attention_mask`` (1 = token, 0 = padding) for padded rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch

IGNORE_INDEX = -100  # label of a position that takes no loss (document starts, padding, prompts)


class DataExhausted(RuntimeError):
    """The batch source has no more data (pretraining: every source reached its repetition cap)."""


@dataclass
class Batch:
    """Token rows of one (micro-)batch; every tensor is (rows, seq_len)."""

    input_ids: torch.Tensor  # int64
    labels: torch.Tensor  # int64; label t is the token predicted at t-1; IGNORE_INDEX where no loss is taken
    position_ids: torch.Tensor | None = (
        None  # restart at 0 per packed document; None: attention crosses rows' docs
    )
    sources: list[str] = field(default_factory=list)  # where each row came from (logs, shares)
    attention_mask: torch.Tensor | None = None  # 1 = token, 0 = padding; None: no padding

    def rows(self, part: slice) -> Batch:
        """A slice of the rows (this rank's share of a global batch, an evaluation micro-batch)."""
        return Batch(
            self.input_ids[part],
            self.labels[part],
            None if self.position_ids is None else self.position_ids[part],
            self.sources[part],
            None if self.attention_mask is None else self.attention_mask[part],
        )

    def predicted_tokens(self) -> int:
        """Positions that take a loss (the first position predicts nothing)."""
        return int((self.labels[:, 1:] != IGNORE_INDEX).sum())

    def model_inputs(self, device: torch.device) -> dict[str, torch.Tensor]:
        """Forward kwargs. Packed rows pass per-document position ids and no mask: transformers 5
        (masking_utils.find_packed_sequence_indices) then builds a block-diagonal causal mask for SDPA (and uses
        varlen kernels under flash-attention), so no document sees another."""
        inputs = {"input_ids": self.input_ids.to(device, non_blocking=True)}
        if self.position_ids is not None:
            inputs["position_ids"] = self.position_ids.to(device, non_blocking=True)
        if self.attention_mask is not None:
            inputs["attention_mask"] = self.attention_mask.to(device, non_blocking=True)
        return inputs


@runtime_checkable
class BatchSource(Protocol):
    """Where the training loop gets its data; see the module docstring."""

    def next_batch(self, rows: int) -> Batch: ...

    def validation_sets(self) -> dict[str, Batch]: ...

    def log_fields(self) -> dict: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...
