"""Packed sequences without cross-document attention give each document exactly its own computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skywork.testing import build_tiny_model
from skywork.train.packing import to_batch


def _per_token_loss(model, batch):
    logits = model(**batch.model_inputs(torch.device("cpu")), use_cache=False).logits[0, :-1]
    targets = batch.labels[0, 1:]
    return torch.nn.functional.cross_entropy(logits, targets.clamp(min=0), reduction="none"), targets != -100


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_pair_matches_documents_run_separately(attention):
    """Both kernels the trainer picks from (model.attention) honour the block-diagonal mask."""
    torch.manual_seed(0)
    model = build_tiny_model(vocab_size=300)
    model.set_attn_implementation(attention)
    doc_a = np.random.default_rng(0).integers(3, 300, size=23)
    doc_b = np.random.default_rng(1).integers(3, 300, size=17)
    packed = to_batch([[doc_a, doc_b]], ["x"], cross_document_attention=False)
    alone_a = to_batch([[doc_a]], ["x"], cross_document_attention=False)
    alone_b = to_batch([[doc_b]], ["x"], cross_document_attention=False)
    with torch.no_grad():
        loss_packed, valid = _per_token_loss(model, packed)
        loss_a, _ = _per_token_loss(model, alone_a)
        loss_b, _ = _per_token_loss(model, alone_b)
    # predictions inside A, then inside B; the A->B boundary prediction is masked out (label -100)
    assert torch.allclose(loss_packed[:22], loss_a, atol=1e-5)
    assert not valid[22]
    assert torch.allclose(loss_packed[23:], loss_b, atol=1e-5)
    # with cross-document attention, B's tokens see A and their losses change
    crossing = to_batch([[doc_a, doc_b]], ["x"], cross_document_attention=True)
    with torch.no_grad():
        loss_crossing, _ = _per_token_loss(model, crossing)
    assert not torch.allclose(loss_crossing[23:], loss_b, atol=1e-3)


def test_one_packer_for_streams_and_jsonl_held_out_sets(corpus_dir, token_streams, tiny_tokenizer):
    """A held-out .jsonl file and the token stream built from it give the same rows (one packer for both)."""
    from skywork.train.data import tokenize_documents
    from skywork.train.packing import heldout_rows
    from skywork.train.shards import TokenShards

    shards = TokenShards(token_streams / "val_main")
    from_stream = heldout_rows(shards.doc, shards.num_docs, shards.num_tokens, seq_len=64, max_rows=5)
    docs = tokenize_documents(corpus_dir / "val_main.jsonl", tiny_tokenizer, max_tokens=64 * 5)
    from_jsonl = heldout_rows(docs, len(docs), sum(len(d) for d in docs), seq_len=64, max_rows=5)
    assert len(from_stream) == len(from_jsonl) == 5
    for a, b in zip(from_stream, from_jsonl, strict=True):
        assert np.array_equal(np.concatenate(a), np.concatenate(b))
        assert [len(p) for p in a] == [len(p) for p in b]


def test_batch_rows_and_model_inputs_carry_masks():
    """A batch source may add an attention mask (padded rows); slicing and the forward kwargs keep it."""
    from skywork.train.batches import Batch

    ids = torch.arange(12).reshape(3, 4)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]])
    labels = ids.masked_fill(mask == 0, -100)
    batch = Batch(ids, labels, None, ["a", "b", "c"], mask)
    part = batch.rows(slice(1, 3))
    assert part.sources == ["b", "c"] and torch.equal(part.attention_mask, mask[1:])
    assert part.predicted_tokens() == 1 + 2
    inputs = part.model_inputs(torch.device("cpu"))
    assert set(inputs) == {"input_ids", "attention_mask"}
