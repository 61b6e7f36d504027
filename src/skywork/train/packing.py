"""The one packer: documents cut into rows of exactly ``seq_len`` tokens, for training and validation alike.

A :class:`DocumentPacker` reads documents in an order (a seeded permutation per epoch for training, the stored
order for held-out sets) and cuts them into rows; a document that does not fit continues in the next row, so no
token is dropped (unlike the official ``group_texts``). Its position is four integers (epoch, cursor, offset,
tokens read), which is what makes resume exact. :func:`to_batch` turns rows of pieces into a :class:`Batch`:
each piece starts a segment, whose positions restart at 0 and whose first token is not predicted from the
previous document (label -100), unless attention may cross documents.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from skywork.train.batches import IGNORE_INDEX, Batch


class DocumentPacker:
    """Rows of ``n`` tokens from ``num_docs`` documents read in ``order(epoch)``; endless (epochs repeat)."""

    def __init__(
        self,
        num_docs: int,
        doc: Callable[[int], np.ndarray],
        order: Callable[[int], np.ndarray] | None = None,
    ):
        self.num_docs, self.doc = num_docs, doc
        self.order = order or (lambda epoch: np.arange(num_docs))  # default: the stored order every epoch
        self.epoch = self.cursor = self.offset = self.tokens_read = 0
        self._order_epoch, self._order = -1, np.empty(0, dtype=np.int64)

    def _current_order(self) -> np.ndarray:
        if self._order_epoch != self.epoch:
            self._order, self._order_epoch = self.order(self.epoch), self.epoch
        return self._order

    def read(self, n: int) -> list[np.ndarray]:
        """The next ``n`` tokens as pieces, one per (part of a) document; a piece always starts a segment."""
        pieces: list[np.ndarray] = []
        need = n
        while need > 0:
            doc = self.doc(int(self._current_order()[self.cursor]))
            piece = doc[self.offset : self.offset + need]
            pieces.append(np.asarray(piece, dtype=np.int64))
            need -= len(piece)
            self.offset += len(piece)
            self.tokens_read += len(piece)
            if self.offset >= len(doc):
                self.offset = 0
                self.cursor += 1
                if self.cursor >= self.num_docs:
                    self.cursor = 0
                    self.epoch += 1
        return pieces

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "cursor": self.cursor,
            "offset": self.offset,
            "tokens_read": self.tokens_read,
        }

    def load_state_dict(self, state: dict) -> None:
        self.epoch, self.cursor = int(state["epoch"]), int(state["cursor"])
        self.offset, self.tokens_read = int(state["offset"]), int(state["tokens_read"])


def heldout_rows(
    documents: Sequence[np.ndarray] | Callable[[int], np.ndarray],
    num_docs: int,
    num_tokens: int,
    seq_len: int,
    max_rows: int,
) -> list[list[np.ndarray]]:
    """Validation rows: documents in stored order packed into ``seq_len`` rows, the same rows at every evaluation.

    ``min(max_rows, num_tokens // seq_len)`` rows (at least one; a set shorter than one row repeats itself).
    """
    doc = documents if callable(documents) else documents.__getitem__
    packer = DocumentPacker(num_docs, doc)
    return [packer.read(seq_len) for _ in range(min(max_rows, max(1, num_tokens // seq_len)))]


def to_batch(rows: list[list[np.ndarray]], sources: list[str], cross_document_attention: bool) -> Batch:
    """Concatenate each row's document pieces; without cross-document attention, give per-document positions
    and drop the prediction of a document's first token from the previous document's last one."""
    input_ids = torch.from_numpy(np.stack([np.concatenate(pieces) for pieces in rows]))
    labels = input_ids.clone()
    if cross_document_attention:
        return Batch(input_ids, labels, None, sources)
    position_ids = torch.empty_like(input_ids)
    for r, pieces in enumerate(rows):
        start = 0
        for piece in pieces:
            position_ids[r, start : start + len(piece)] = torch.arange(len(piece))
            if start > 0:
                labels[r, start] = IGNORE_INDEX
            start += len(piece)
    return Batch(input_ids, labels, position_ids, sources)
