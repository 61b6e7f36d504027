"""SFT data end to end: files -> counted, tokenized examples -> packed micro-batches a training loop can draw.

Independent of ``skywork.train``: the loop sees :class:`PackedSFTBatches` as a batch source (``next_batch()``,
``state_dict()`` / ``load_state_dict()``) yielding model-ready dicts, and writes the counts of
:func:`build_sft_dataset` into its summary.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from skywork.finetune.formats import Format, OnError, ReadCounts, read_conversations
from skywork.finetune.packing import collate_packed, collate_padded, pack_greedy
from skywork.finetune.templates import TEMPLATES, Example, encode_example
from skywork.utils.config import field
from skywork.utils.io import InputError, expand_paths


@dataclass
class SFTDataConfig:
    """The SFT data keys (the loop's config embeds this section)."""

    files: list[str] = field(default_factory=list, help="SFT JSONL(.gz) files, directories or globs.")
    format: Literal["auto", "alpaca", "messages", "sharegpt"] = field(
        "auto", help="Row format; auto: detected per file from its first row."
    )
    template: Literal["official", "raw"] = field(
        "official",
        help="official: the Skywork chat encoding (what apply_chat_template and skywork chat produce); raw: the "
        "official build_dataset.py text (BOS + instruction, no markers, answer + </s>).",
    )
    max_seq_len: int = field(1024, help="Longer examples are cut (prompt from the left first) and counted.")
    seq_len: int = field(1024, help="Tokens per packed row (>= max_seq_len).")
    packing: bool = field(
        True, help="Pack several examples per row; false: one example per row, right-padded."
    )
    mask_history: bool = field(False, help="Train only the last answer of a multi-turn conversation.")
    train_on_prompt: bool = field(False, help="Also put a loss on prompt tokens (markers and user text).")
    on_error: Literal["raise", "skip"] = field(
        "raise", help="A row lacking a needed field: raise (naming file, line, field) or skip and count it."
    )
    attention_mask: Literal["4d", "none"] = field(
        "4d",
        help="4d: pass the block-diagonal mask (eager/SDPA); none: let transformers derive it from the "
        "restarting position ids (any kernel, flash-attention varlen).",
    )


def build_sft_dataset(
    files: Sequence[str | os.PathLike],
    tokenizer,
    template: str = "official",
    max_seq_len: int | None = 1024,
    format: Format = "auto",
    on_error: OnError = "raise",
    mask_history: bool = False,
    train_on_prompt: bool = False,
) -> tuple[list[Example], dict]:
    """Read, normalise, tokenize and label every row of ``files``; return the examples and what happened.

    ``counts``: ``rows_read``, ``by_format`` {format: rows}, ``skipped`` {reason: rows} (``empty_response``,
    and with ``on_error="skip"`` ``missing_field``, ``bad_type``, ``bad_role``, ``turn_order``,
    ``unknown_format``, plus ``no_supervised_tokens`` for an example left without a label), ``examples``,
    ``truncated``, ``answer_truncated``, ``tokens`` and ``supervised_tokens``.
    """
    if template not in TEMPLATES:
        raise ValueError(f"unknown template {template!r} (known: {', '.join(TEMPLATES)})")
    read = ReadCounts()
    examples: list[Example] = []
    truncated = answer_truncated = 0
    no_labels = 0
    for path in expand_paths(list(files), suffixes=(".jsonl", ".jsonl.gz"), field="files"):
        for conversation in read_conversations(path, format, on_error, read):
            example = encode_example(
                tokenizer, conversation, template, max_seq_len, mask_history, train_on_prompt
            )
            if example.supervised_tokens == 0:
                no_labels += 1
                continue
            truncated += example.truncated
            answer_truncated += example.answer_truncated
            examples.append(example)
    counts = read.as_dict()
    if no_labels:
        counts["skipped"]["no_supervised_tokens"] = no_labels
    counts.update(
        examples=len(examples),
        truncated=truncated,
        answer_truncated=answer_truncated,
        tokens=sum(len(e) for e in examples),
        supervised_tokens=sum(e.supervised_tokens for e in examples),
        template=template,
        max_seq_len=max_seq_len,
    )
    return examples, counts


class PackedSFTBatches:
    """Epochs of shuffled, packed micro-batches of ``micro_batch_size`` rows; exactly resumable.

    Epoch ``e`` shuffles the examples with ``(seed, e)``, packs them (:func:`pack_greedy`, or one per row without
    ``packing``) and shuffles the rows with ``(seed, e)`` again, so the whole epoch is a function of the seed and
    the state is just ``(epoch, position)``. ``epochs=None`` repeats forever; the last micro-batch of an epoch
    may be smaller unless ``drop_last``.

    Each batch is a dict ready for ``model(**batch)``: ``input_ids``, ``labels``, ``position_ids`` and (packed,
    ``attention_mask="4d"``) the 4D block-diagonal ``attention_mask``; unpacked batches carry a 2D padding mask
    and no position ids. :func:`~skywork.finetune.packing.supervised_token_count` gives a batch's loss count.
    """

    def __init__(
        self,
        examples: Sequence[Example],
        seq_len: int,
        micro_batch_size: int,
        pad_id: int,
        seed: int = 0,
        packing: bool = True,
        attention_mask: str = "4d",
        mask_dtype: torch.dtype = torch.float32,
        epochs: int | None = None,
        drop_last: bool = False,
    ):
        if not examples:
            raise ValueError("no SFT examples")
        longest = max(len(e) for e in examples)
        if longest > seq_len:
            raise ValueError(
                f"an example has {longest} tokens, more than seq_len {seq_len} (max_seq_len > seq_len?)"
            )
        if attention_mask not in ("4d", "none"):
            raise ValueError(f"unknown attention_mask {attention_mask!r} (4d or none)")
        self.examples = list(examples)
        self.seq_len, self.micro_batch_size, self.pad_id, self.seed = seq_len, micro_batch_size, pad_id, seed
        self.packing, self.attention_mask, self.mask_dtype = packing, attention_mask, mask_dtype
        self.epochs, self.drop_last = epochs, drop_last
        self.epoch, self.position = 0, 0  # position: micro-batches already given out in this epoch
        self._rows_epoch: int | None = None
        self._rows: list[list[int]] = []

    def rows(self, epoch: int) -> list[list[int]]:
        """Example indices of every row of ``epoch``, in the order they are served (cached for the current one)."""
        if self._rows_epoch != epoch:
            rng = np.random.default_rng([self.seed, epoch])
            order = rng.permutation(len(self.examples)).tolist()
            if self.packing:
                bins = pack_greedy([len(self.examples[i]) for i in order], self.seq_len)
                rows = [[order[j] for j in row] for row in bins]
                rows = [rows[k] for k in rng.permutation(len(rows)).tolist()]
            else:
                rows = [[i] for i in order]
            self._rows_epoch, self._rows = epoch, rows
        return self._rows

    def batches_per_epoch(self, epoch: int | None = None) -> int:
        n = len(self.rows(self.epoch if epoch is None else epoch))
        return n // self.micro_batch_size if self.drop_last else -(-n // self.micro_batch_size)

    def next_batch(self) -> dict:
        if self.position >= self.batches_per_epoch():
            self.epoch, self.position = self.epoch + 1, 0
        if self.epochs is not None and self.epoch >= self.epochs:
            raise StopIteration
        start = self.position * self.micro_batch_size
        rows = self.rows(self.epoch)[start : start + self.micro_batch_size]
        self.position += 1
        if not self.packing:
            return collate_padded([self.examples[row[0]] for row in rows], self.pad_id)
        packed = collate_packed(self.examples, rows, self.seq_len, self.pad_id)
        return packed.model_inputs(self.attention_mask, self.mask_dtype)

    def __iter__(self) -> Iterator[dict]:
        return self

    def __next__(self) -> dict:
        return self.next_batch()

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "position": self.position,
            "seed": self.seed,
            "examples": len(self.examples),
        }

    def load_state_dict(self, state: dict) -> None:
        if state.get("examples", len(self.examples)) != len(self.examples):
            raise ValueError(
                f"resuming SFT data of {state['examples']} examples with {len(self.examples)}: not the same data"
            )
        if state.get("seed", self.seed) != self.seed:
            raise ValueError(f"resuming SFT data shuffled with seed {state['seed']} under seed {self.seed}")
        self.epoch, self.position = int(state["epoch"]), int(state["position"])

    def stats(self) -> dict:
        """Packing efficiency of the current epoch: rows, and the share of row tokens that are real."""
        rows = self.rows(self.epoch)
        tokens = sum(len(self.examples[i]) for row in rows for i in row)
        capacity = len(rows) * self.seq_len if self.packing else tokens
        return {
            "rows": len(rows),
            "fill": tokens / capacity if capacity else 0.0,
            "examples_per_row": dict(Counter(len(row) for row in rows)),
        }


def load_sft_batches(
    config: SFTDataConfig,
    tokenizer,
    micro_batch_size: int,
    seed: int = 0,
    mask_dtype: torch.dtype = torch.float32,
    epochs: int | None = None,
) -> tuple[PackedSFTBatches, dict]:
    """The batch source a config describes, and the data counts (plus packing rows and fill) for the summary.

    Padding uses the tokenizer's pad id, else ``</s>`` (as the official train.py); it is never attended to nor
    trained, so its value does not matter.
    """
    if config.seq_len < config.max_seq_len:
        raise InputError(
            f"seq_len {config.seq_len} is shorter than max_seq_len {config.max_seq_len}", field="seq_len"
        )
    examples, counts = build_sft_dataset(
        config.files,
        tokenizer,
        config.template,
        config.max_seq_len,
        config.format,
        config.on_error,
        config.mask_history,
        config.train_on_prompt,
    )
    if not examples:
        raise InputError("no usable SFT example in the files", field="files")
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    batches = PackedSFTBatches(
        examples,
        config.seq_len,
        micro_batch_size,
        pad_id,
        seed=seed,
        packing=config.packing,
        attention_mask=config.attention_mask,
        mask_dtype=mask_dtype,
        epochs=epochs,
    )
    counts["packing"] = batches.stats()
    return batches, counts
