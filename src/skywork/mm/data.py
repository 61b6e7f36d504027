"""Image+text batches for the one training loop: captions (alignment) or dialogues (instruction tuning).

Each example is one image and its conversation in the official chat format (the image in the first user turn,
one image token per patch), labelled on the answers only (:func:`skywork.finetune.templates.encode_example`).
Examples are bin-packed into rows exactly like text SFT (:class:`skywork.finetune.PackedSFTBatches`: positions
restart per example, so attention stays inside it), and an :class:`MMBatch` carries the images of its rows in
row order, which is the order LLaVA scatters image features into the image-token positions.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from skywork.finetune.data import PackedSFTBatches
from skywork.finetune.formats import Conversation, Turn
from skywork.finetune.packing import collate_packed, pack_greedy
from skywork.finetune.templates import Example, encode_example
from skywork.train.batches import Batch
from skywork.utils.config import field
from skywork.utils.io import InputError

CAPTION_PROMPTS = {"en": "Describe the image.", "zh": "描述这张图片。"}


@dataclass
class MMDataSection:
    files: list[str] = field(
        default_factory=list,
        help="Image JSONL files of `skywork.data.synth.images` (train/images.jsonl, ...).",
    )
    use: Literal["captions", "dialogues", "both", "questions", "dialogues+questions"] | None = field(
        None,
        help="captions: 'describe the image' -> caption (alignment); dialogues: the QA dialogues; both; "
        "questions: every question of an image (qa and yes/no) as its own one-turn example; "
        "dialogues+questions; null: the stage kind's default (mm_encoder: both, mm_align: captions, "
        "mm_instruct: dialogues).",
    )
    question_kinds: list[str] | None = field(
        None,
        help="With use questions: only these kinds (color, count, shape, position, size, reading, chart, digit, "
        "parity) and yes/no categories (existence, count, position, ocr, chart); null: all.",
    )
    languages: list[str] = field(
        default_factory=lambda: ["en", "zh"], help="Caption languages used (captions)."
    )
    seq_len: int = field(160, help="Tokens per packed row (image tokens included).")
    heldout_images: int = field(
        48, help="Images held out of `files` (chosen with the seed) as the validation set."
    )
    packing: bool = field(True, help="Pack several examples per row (false: one example per row, padded).")
    max_images: int | None = field(None, help="Use at most this many images of the files (null: all).")


@dataclass
class MMExample:
    example: Example
    image: int  # index into the source's pixel tensor


@dataclass
class MMBatch(Batch):
    """A :class:`Batch` plus ``pixel_values`` (one image per example, in row order) and images per row."""

    pixel_values: torch.Tensor | None = None
    images_per_row: list[int] | None = None

    def rows(self, part: slice) -> MMBatch:
        base = super().rows(part)
        counts = self.images_per_row or []
        index = range(len(counts))[part]
        start = sum(counts[: index.start]) if len(index) else 0
        stop = start + sum(counts[index.start : index.stop]) if len(index) else 0
        return MMBatch(
            base.input_ids,
            base.labels,
            base.position_ids,
            base.sources,
            base.attention_mask,
            None if self.pixel_values is None else self.pixel_values[start:stop],
            [counts[i] for i in index],
        )

    def model_inputs(self, device: torch.device) -> dict[str, torch.Tensor]:
        inputs = super().model_inputs(device)
        if self.pixel_values is not None and len(self.pixel_values):
            inputs["pixel_values"] = self.pixel_values.to(device, non_blocking=True)
        return inputs


def read_image_rows(files: list[str], max_images: int | None = None) -> list[dict]:
    """Rows of image JSONL files; a malformed line is an InputError naming file and line."""
    rows: list[dict] = []
    for name in files:
        path = Path(name)
        if not path.is_file():
            raise InputError("image file not found", path, field="data.files")
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise InputError(f"not JSON: {err.msg}", path, number) from None
                for key in ("image", "captions", "dialogues"):
                    if key not in row:
                        raise InputError(f"missing field {key!r}", path, number, key)
                row["_source"] = f"{path.name}:{number}"
                rows.append(row)
                if max_images is not None and len(rows) >= max_images:
                    return rows
    return rows


def conversations(
    row: dict, use: str, languages: list[str], question_kinds: list[str] | None = None
) -> list[Conversation]:
    """The conversations one image row trains: its captions, its dialogues and/or each of its questions."""
    from skywork.data.synth.images import IMAGE_PLACEHOLDER

    out = []
    if use in ("captions", "both"):
        out += [
            Conversation(
                (Turn(IMAGE_PLACEHOLDER + CAPTION_PROMPTS[lang], row["captions"][lang]),),
                source=row["_source"],
            )
            for lang in languages
            if lang in row["captions"]
        ]
    if use in ("dialogues", "both", "dialogues+questions"):
        for dialogue in row["dialogues"]:
            messages = dialogue["messages"]
            turns = tuple(
                Turn(messages[i]["content"], messages[i + 1]["content"])
                for i in range(0, len(messages) - 1, 2)
            )
            out.append(Conversation(turns, source=row["_source"]))
    if use in ("questions", "dialogues+questions"):
        for q in row.get("qa", []) + row.get("yesno", []):
            if question_kinds is None or q.get("kind", q.get("category")) in question_kinds:
                if q["lang"] in languages:
                    turn = Turn(IMAGE_PLACEHOLDER + q["question"], q["answer"])
                    out.append(Conversation((turn,), source=row["_source"]))
    return out


def encode_rows(
    rows: list[dict], tokenizer, data: MMDataSection, image_token: str, per_image: int
) -> list[MMExample]:
    """Encoded examples, image index = row index."""
    from skywork.data.synth.images import IMAGE_PLACEHOLDER
    from skywork.mm.processor import expand_example, image_token_id

    token_id = image_token_id(tokenizer, image_token)
    examples = []
    for index, row in enumerate(rows):
        for conversation in conversations(row, data.use, data.languages, data.question_kinds):
            turns = tuple(
                Turn(t.user.replace(IMAGE_PLACEHOLDER, image_token), t.assistant) for t in conversation.turns
            )
            encoded = encode_example(tokenizer, Conversation(turns, source=conversation.source))
            example = expand_example(encoded, token_id, per_image)
            if len(example) > data.seq_len:
                raise InputError(
                    f"example of {len(example)} tokens is longer than seq_len {data.seq_len}",
                    conversation.source,
                    field="data.seq_len",
                )
            examples.append(MMExample(example, index))
    return examples


class MMBatchSource:
    """The loop's batch source over packed image+text examples; logs images seen and images/s."""

    def __init__(
        self,
        examples: list[MMExample],
        heldout: list[MMExample],
        pixels: torch.Tensor,
        data,
        rows: int,
        pad_id: int,
        seed: int,
    ):
        self.pixels, self.global_rows = pixels, rows
        self.examples = examples
        self.batches = PackedSFTBatches(
            [e.example for e in examples],
            data.seq_len,
            rows,
            pad_id,
            seed=seed,
            packing=data.packing,
            attention_mask="none",
            drop_last=True,
        )
        if self.batches.batches_per_epoch() == 0:
            raise InputError(
                f"fewer packed rows than one global batch ({rows}): lower micro_batch_size", field="data"
            )
        self.validation = {"heldout": self._fixed(heldout, data.seq_len, pad_id)} if heldout else {}
        self.images_seen = 0
        self._logged, self._logged_at = 0, time.perf_counter()

    def _batch(
        self, examples: list[MMExample], rows: list[list[int]], seq_len: int, pad_id: int, name: str
    ) -> MMBatch:
        packed = collate_packed([e.example for e in examples], rows, seq_len, pad_id)
        images = [examples[i].image for row in rows for i in row]
        return MMBatch(
            packed.input_ids,
            packed.labels,
            packed.position_ids,
            [name] * len(rows),
            None,
            self.pixels[images],
            [len(row) for row in rows],
        )

    def _fixed(self, examples: list[MMExample], seq_len: int, pad_id: int) -> MMBatch:
        rows = pack_greedy([len(e.example) for e in examples], seq_len)
        return self._batch(examples, rows, seq_len, pad_id, "heldout")

    def next_batch(self, rows: int) -> MMBatch:
        if rows != self.global_rows:
            raise ValueError(f"MM batches hold {self.global_rows} rows, asked for {rows}")
        self.batches.next_batch()  # advances epoch/position (and raises at the end) exactly like text SFT
        start = (self.batches.position - 1) * self.global_rows
        layout = self.batches.rows(self.batches.epoch)[start : start + self.global_rows]
        batch = self._batch(self.examples, layout, self.batches.seq_len, self.batches.pad_id, "mm")
        self.images_seen += len(batch.pixel_values)
        return batch

    def validation_sets(self) -> dict[str, Batch]:
        return self.validation

    def log_fields(self) -> dict:
        now = time.perf_counter()
        rate = (self.images_seen - self._logged) / max(1e-9, now - self._logged_at)
        self._logged, self._logged_at = self.images_seen, now
        return {"images": self.images_seen, "images_per_s": rate, "epoch": self.batches.epoch}

    def state_dict(self) -> dict:
        return {**self.batches.state_dict(), "images_seen": self.images_seen}

    def load_state_dict(self, state: dict) -> None:
        self.batches.load_state_dict(state)
        self.images_seen = self._logged = int(state.get("images_seen", 0))


def make_mm_source(config, world: int, tokenizer, counts_out: dict | None = None) -> MMBatchSource:
    """Read the image files, hold ``heldout_images`` out (by seed), encode and pack; global batch = micro x world."""
    from skywork.mm.model import image_tokens_per_image
    from skywork.mm.processor import pixels

    data, vision = config.data, config.mm.vision
    if not data.files:
        raise InputError("data.files is empty: give image JSONL files", field="data.files")
    rows = read_image_rows(data.files, data.max_images)
    if len(rows) <= data.heldout_images:
        raise InputError(
            f"{len(rows)} images leave none for training after heldout_images", field="data.files"
        )
    per_image = image_tokens_per_image(vision.image_size, vision.patch_size)
    held = set(np.random.default_rng([config.seed, 7]).permutation(len(rows))[: data.heldout_images].tolist())
    train_rows = [r for i, r in enumerate(rows) if i not in held]
    held_rows = [rows[i] for i in sorted(held)]
    all_rows = train_rows + held_rows
    pixel_values = pixels([r["image"] for r in all_rows], vision.image_size)
    encoded = encode_rows(all_rows, tokenizer, data, vision.image_token, per_image)
    train_examples = [e for e in encoded if e.image < len(train_rows)]
    heldout = [e for e in encoded if e.image >= len(train_rows)]
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    source = MMBatchSource(
        train_examples, heldout, pixel_values, data, config.micro_batch_size * world, pad_id, config.seed
    )
    if counts_out is not None:
        counts_out.update(
            images=len(train_rows),
            heldout_images=len(held_rows),
            examples=len(train_examples),
            image_tokens_per_image=per_image,
            packing=source.batches.stats(),
            use=data.use,
        )
    return source
