"""Packing cannot leak: each packed example gives the logits and loss it gives alone, and packed training
follows the unpacked loss trajectory. Also the bin packer, the collators and the resumable batch source."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from skywork.finetune.data import PackedSFTBatches
from skywork.finetune.packing import (
    block_causal_mask,
    collate_packed,
    collate_padded,
    pack_greedy,
    supervised_token_count,
)
from skywork.finetune.templates import IGNORE, Example
from skywork.testing import build_tiny_model

VOCAB = 300
LENGTHS = [23, 5, 17, 2, 31, 9, 12, 40, 3, 26, 14, 7]  # ragged, several per row of 48
SEQ_LEN = 48


def random_examples(lengths: list[int], vocab_size: int, seed: int = 0) -> list[Example]:
    """Examples of random tokens: a prompt (no labels) of about a third, then a trained answer."""
    generator = torch.Generator().manual_seed(seed)
    examples = []
    for n in lengths:
        ids = torch.randint(3, vocab_size, (n,), generator=generator).tolist()
        prompt = max(1, n // 3)
        examples.append(Example(ids, [IGNORE] * prompt + ids[prompt:]))
    return examples


def summed_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of position t against label t+1, summed over supervised tokens."""
    return F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.shape[-1]),
        labels[:, 1:].reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )


def alone(model, example: Example) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.tensor([example.input_ids])
    labels = torch.tensor([example.labels])
    logits = model(input_ids=ids).logits
    return logits[0], summed_loss(logits, labels)


def tiny(attention: str, kv_heads: int):
    model = build_tiny_model(VOCAB, seed=0, num_key_value_heads=kv_heads)
    model.set_attn_implementation(attention)
    return model


@pytest.mark.parametrize("mask", ["4d", "none"])
@pytest.mark.parametrize(
    ("attention", "kv_heads"),
    [("sdpa", 4), ("sdpa", 2), ("eager", 2)],
    ids=["sdpa-mha", "sdpa-gqa", "eager-gqa"],
)
def test_packed_examples_match_each_example_run_alone(attention, kv_heads, mask):
    model = tiny(attention, kv_heads)
    examples = random_examples(LENGTHS, VOCAB)
    rows = pack_greedy([len(e) for e in examples], SEQ_LEN)
    assert max(len(row) for row in rows) >= 3 and len(rows) < len(examples)
    batch = collate_packed(examples, rows, SEQ_LEN, pad_id=0)
    inputs = batch.model_inputs(mask)
    labels = inputs.pop("labels")
    with torch.no_grad():
        logits = model(**inputs).logits
        single = [alone(model, example) for example in examples]
    for r, row in enumerate(rows):
        for segment, index in enumerate(row, start=1):
            where = (batch.segment_ids[r] == segment).nonzero().squeeze(1)
            start, end = int(where[0]), int(where[-1]) + 1
            expected_logits, expected_loss = single[index]
            torch.testing.assert_close(logits[r, start:end], expected_logits, atol=1e-5, rtol=0)
            # the example's loss inside the row: its own positions, labels shifted within it
            packed_loss = summed_loss(logits[r : r + 1, start:end], labels[r : r + 1, start:end])
            torch.testing.assert_close(packed_loss, expected_loss, atol=1e-5, rtol=1e-6)
    # and the batch's loss is the sum of its examples' losses: no label or attention crosses a boundary
    total = summed_loss(logits, labels)
    torch.testing.assert_close(total, sum(loss for _, loss in single), atol=1e-4, rtol=1e-6)
    count = supervised_token_count(labels)
    assert count == sum(e.supervised_tokens for e in examples)
    with torch.no_grad():  # transformers' own loss agrees when given the count
        hf_loss = model(**inputs, labels=labels, num_items_in_batch=count).loss
    torch.testing.assert_close(hf_loss, total / count, atol=1e-6, rtol=1e-5)


def test_position_id_route_needs_use_cache_false():
    """Why mask="none" batches carry use_cache=False: with a KV cache transformers skips packed detection."""
    model = tiny("sdpa", 4)
    examples = random_examples([9, 14], VOCAB)
    inputs = collate_packed(examples, [[0, 1]], 23, pad_id=0).model_inputs("none")
    inputs.pop("labels")
    assert inputs.pop("use_cache") is False
    with torch.no_grad():
        leaky = model(**inputs, use_cache=True).logits[0, 9:]
        kept = model(**inputs, use_cache=False).logits[0, 9:]
        expected = alone(model, examples[1])[0]
    torch.testing.assert_close(kept, expected, atol=1e-5, rtol=0)
    assert (leaky - expected).abs().max() > 1e-3


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_packed_training_follows_the_unpacked_loss_trajectory(optimizer):
    steps = [random_examples([21, 6, 30, 11, 4, 17], VOCAB, seed=s) for s in range(4)]
    trajectories = {}
    for packed in (True, False):
        model = tiny("sdpa", 2).train()
        make = torch.optim.SGD if optimizer == "sgd" else torch.optim.AdamW
        opt = make(model.parameters(), lr=0.05 if optimizer == "sgd" else 3e-3)
        losses = []
        for examples in steps:
            if packed:
                rows = pack_greedy([len(e) for e in examples], 40)
                inputs = collate_packed(examples, rows, 40, pad_id=0).model_inputs()
            else:
                inputs = collate_padded(examples, pad_id=0)
            labels = inputs.pop("labels")
            loss = summed_loss(model(**inputs).logits, labels) / supervised_token_count(labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        trajectories[packed] = losses
    assert trajectories[True][-1] < trajectories[True][0]  # it trains
    torch.testing.assert_close(trajectories[True], trajectories[False], atol=1e-5, rtol=1e-5)


def test_pack_greedy_fills_rows_deterministically():
    lengths = [7, 3, 9, 1, 4, 6, 2, 8, 5, 5]
    rows = pack_greedy(lengths, 10)
    assert rows == pack_greedy(lengths, 10)
    assert sorted(i for row in rows for i in row) == list(range(len(lengths)))
    assert all(sum(lengths[i] for i in row) <= 10 for row in rows)
    assert len(rows) == 5  # 50 tokens in rows of 10: perfect here
    with pytest.raises(ValueError, match="more than seq_len"):
        pack_greedy([11], 10)


def test_collate_packed_layout():
    examples = [Example([5, 6, 7], [IGNORE, 6, 7]), Example([8, 9], [8, 9])]
    batch = collate_packed(examples, [[0, 1]], 7, pad_id=0)
    assert batch.input_ids.tolist() == [[5, 6, 7, 8, 9, 0, 0]]
    assert batch.labels.tolist() == [[IGNORE, 6, 7, IGNORE, 9, IGNORE, IGNORE]]  # no label at a boundary
    assert batch.position_ids.tolist() == [[0, 1, 2, 0, 1, 0, 1]]
    assert batch.segment_ids.tolist() == [[1, 1, 1, 2, 2, 0, 0]]
    allowed = block_causal_mask(batch.segment_ids)
    assert allowed.shape == (1, 1, 7, 7) and allowed.dtype == torch.bool
    assert allowed[0, 0].int().tolist() == [
        [1, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0, 0],
        [0, 0, 0, 1, 0, 0, 0],
        [0, 0, 0, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0, 1, 1],
    ]
    additive = block_causal_mask(batch.segment_ids, torch.float32)
    assert torch.equal(additive == 0, allowed) and additive.min() == torch.finfo(torch.float32).min
    padded = collate_padded(examples, pad_id=2)
    assert padded["input_ids"].tolist() == [[5, 6, 7], [8, 9, 2]]
    assert padded["labels"].tolist() == [[IGNORE, 6, 7], [IGNORE, 9, IGNORE]]
    assert padded["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]


def test_batch_source_is_seeded_covers_each_example_once_and_resumes_exactly():
    examples = random_examples([5 + (i * 7) % 30 for i in range(40)], VOCAB)
    source = PackedSFTBatches(examples, seq_len=48, micro_batch_size=3, pad_id=0, seed=1)
    per_epoch = source.batches_per_epoch()
    first_epoch = [source.next_batch() for _ in range(per_epoch)]
    seen = sorted(i for row in source.rows(0) for i in row)
    assert seen == list(range(40))
    assert sum(supervised_token_count(b["labels"]) for b in first_epoch) == sum(
        e.supervised_tokens for e in examples
    )
    assert first_epoch[0]["attention_mask"].shape == (3, 1, 48, 48)
    assert set(first_epoch[0]) == {"input_ids", "labels", "position_ids", "attention_mask"}

    again = PackedSFTBatches(examples, seq_len=48, micro_batch_size=3, pad_id=0, seed=1)
    assert all(torch.equal(again.next_batch()["input_ids"], b["input_ids"]) for b in first_epoch)
    other_seed = PackedSFTBatches(examples, seq_len=48, micro_batch_size=3, pad_id=0, seed=2)
    assert not torch.equal(other_seed.next_batch()["input_ids"], first_epoch[0]["input_ids"])

    # resume mid-epoch-2 from a state dict: the same batches follow
    for _ in range(2):
        source.next_batch()
    state = source.state_dict()
    expected = [source.next_batch()["input_ids"] for _ in range(per_epoch)]
    resumed = PackedSFTBatches(examples, seq_len=48, micro_batch_size=3, pad_id=0, seed=1)
    resumed.load_state_dict(state)
    assert all(torch.equal(resumed.next_batch()["input_ids"], ids) for ids in expected)
    with pytest.raises(ValueError, match="seed"):
        PackedSFTBatches(examples, seq_len=48, micro_batch_size=3, pad_id=0, seed=3).load_state_dict(state)

    finite = PackedSFTBatches(examples, seq_len=48, micro_batch_size=4, pad_id=0, packing=False, epochs=1)
    batches = list(finite)
    assert len(batches) == 10 and set(batches[0]) == {"input_ids", "labels", "attention_mask"}
    assert sum(b["input_ids"].shape[0] for b in batches) == 40
