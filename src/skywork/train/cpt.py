"""``skywork train cpt``: continued pretraining from a model directory on raw text, on the one loop.

Documents (JSONL text fields, or whole .txt files) are tokenized once when the run starts as ``<s> text </s>``
and joined into fixed blocks of ``seq_len`` tokens like the official ``pt_data_preprocess.py`` (documents
concatenated, cut into blocks), by the shared :class:`~skywork.train.packing.DocumentPacker`, which keeps the
remainder for the next block instead of dropping it. By default positions restart per document and attention
stays inside it (``cross_document_attention: true`` is the official behaviour). The epoch order is a seeded
permutation, and the packer's position is saved in each checkpoint, so resume is exact. For corpora too large to
tokenize at start, ``skywork data tokenize`` them and run ``skywork train pretrain`` with ``model.init_from``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from skywork.train.batches import Batch
from skywork.train.data import load_validation
from skywork.train.finetune_config import CPTConfig
from skywork.train.packing import DocumentPacker, heldout_rows, to_batch
from skywork.train.shards import iter_texts
from skywork.utils.io import InputError, expand_paths


def read_documents(files: list[str], tokenizer, text_field: str = "text") -> tuple[list[np.ndarray], dict]:
    """``<s> text </s>`` token arrays of every document, and counts (documents, tokens, skipped by reason)."""
    docs, skipped = [], {}
    for path in expand_paths(list(files), suffixes=(".jsonl", ".jsonl.gz", ".txt"), field="data.files"):
        if path.suffix == ".txt":
            text = Path(path).read_text(encoding="utf-8")
            texts = [text] if text.strip() else []
            if not texts:
                skipped["empty_text"] = skipped.get("empty_text", 0) + 1
        else:
            texts = iter_texts(Path(path), text_field, skipped)
        for text in texts:
            ids = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
            docs.append(np.asarray([tokenizer.bos_token_id, *ids, tokenizer.eos_token_id], dtype=np.int64))
    if not docs:
        raise InputError("no text in data.files", field="data.files")
    return docs, {"documents": len(docs), "tokens": int(sum(len(d) for d in docs)), "skipped": skipped}


class TextBlockSource:
    """The loop's batch source over tokenized documents cut into ``seq_len`` blocks."""

    def __init__(self, docs: list[np.ndarray], seq_len: int, seed: int, cross: bool, validation: dict):
        self.docs, self.seq_len, self.seed, self.cross = docs, seq_len, seed, cross
        self.packer = DocumentPacker(len(docs), docs.__getitem__, self._permutation)
        self.validation = validation

    def _permutation(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.docs))

    def next_batch(self, rows: int) -> Batch:
        return to_batch([self.packer.read(self.seq_len) for _ in range(rows)], ["cpt"] * rows, self.cross)

    def validation_sets(self) -> dict[str, Batch]:
        return self.validation

    def log_fields(self) -> dict:
        return {"epoch": self.packer.epoch}

    def state_dict(self) -> dict:
        return self.packer.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.packer.load_state_dict(state)


def make_cpt_source(
    config: CPTConfig, world: int, tokenizer, counts_out: dict | None = None
) -> TextBlockSource:
    data = config.data
    docs, counts = read_documents(data.files, tokenizer, data.text_field)
    validation = load_validation(config, tokenizer) if data.validation else {}
    if data.heldout_documents > 0:
        if data.heldout_documents >= len(docs):
            raise InputError("heldout_documents leaves no training document", field="data.heldout_documents")
        held, docs = docs[: data.heldout_documents], docs[data.heldout_documents :]
        rows = heldout_rows(held, len(held), sum(len(d) for d in held), data.seq_len, data.eval_sequences)
        validation["heldout"] = to_batch(rows, ["heldout"] * len(rows), data.cross_document_attention)
    counts.update(train_documents=len(docs), seq_len=data.seq_len)
    if counts_out is not None:
        counts_out.update(counts)
    return TextBlockSource(docs, data.seq_len, config.seed, data.cross_document_attention, validation)


def run_cpt(config: CPTConfig, resume: str | None = "auto") -> dict:
    """Train one continued-pretraining stage; ``summary.json`` of kind ``cpt`` with the data counts."""
    from skywork.train.finetune_stage import run_finetune_stage

    extra: dict = {"data": {}}
    return run_finetune_stage(
        config,
        lambda cfg, world, tok: make_cpt_source(cfg, world, tok, extra["data"]),
        "cpt",
        resume,
        None,
        extra,
    )


def run_cpt_stage(config: CPTConfig, ctx) -> dict:
    """The recipe's ``cpt`` stage (registered in skywork.recipe.kinds): run_cpt, resuming a killed recipe."""
    return {"summary": run_cpt(config, resume="auto")}
