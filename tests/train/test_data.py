"""Mixture sampler: schedules, determinism, repetition caps, exact continuation from a saved state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skywork.train.data import DataExhausted, MixtureSampler, TokenStream
from skywork.train.shards import TokenShards


def _sampler(streams_dir, seed=7, total=400, caps=(None, None), ends=(0.6, 0.4)):
    streams = [
        TokenStream("main", TokenShards(streams_dir / "main"), seed, caps[0]),
        TokenStream("stem", TokenShards(streams_dir / "stem"), seed, caps[1]),
    ]
    return MixtureSampler(streams, [0.9, 0.1], list(ends), 32, total, seed)


def test_linear_ramp_of_the_stem_share(token_streams):
    sampler = _sampler(token_streams)
    assert sampler.weights_at(0.0)[1] == pytest.approx(0.1)
    assert sampler.weights_at(0.5)[1] == pytest.approx(0.25)
    assert sampler.weights_at(1.0)[1] == pytest.approx(0.4)
    first = [sampler.next_sequence()[0] for _ in range(200)]
    second = [sampler.next_sequence()[0] for _ in range(200)]
    # observed shares follow the ramp: ~0.175 average in the first half, ~0.325 in the second
    assert 0.10 < first.count("stem") / 200 < 0.26
    assert 0.24 < second.count("stem") / 200 < 0.42


def test_same_seed_same_batches_other_seed_other_order(token_streams):
    a, b, c = _sampler(token_streams), _sampler(token_streams), _sampler(token_streams, seed=8)
    batch_a, batch_b, batch_c = a.next_batch(8), b.next_batch(8), c.next_batch(8)
    assert torch.equal(batch_a.input_ids, batch_b.input_ids)
    assert not torch.equal(batch_a.input_ids, batch_c.input_ids)


def test_state_dict_resumes_exactly(token_streams):
    reference = _sampler(token_streams)
    for _ in range(5):
        reference.next_batch(4)
    state = reference.state_dict()
    expected = [reference.next_batch(4).input_ids for _ in range(5)]
    resumed = _sampler(token_streams)
    resumed.load_state_dict(state)
    assert all(torch.equal(e, resumed.next_batch(4).input_ids) for e in expected)


def test_every_token_is_read_once_per_epoch(token_streams):
    shards = TokenShards(token_streams / "stem")
    stream = TokenStream("stem", shards, seed=3)
    pieces = stream.read(shards.num_tokens)
    assert stream.epoch == 1 and stream.cursor == 0
    got = np.sort(np.concatenate(pieces))
    want = np.sort(np.concatenate([shards.doc(i) for i in range(shards.num_docs)]))
    assert np.array_equal(got, want)


def test_repetition_cap_drops_the_source_then_exhausts(token_streams):
    stem_tokens = TokenShards(token_streams / "stem").num_tokens
    sampler = _sampler(token_streams, total=50, caps=(None, 1.0), ends=(0.2, 1.0))
    # stem's share ramps to 5/6 over 50 sequences; capped at one epoch it drops out and main takes over
    names, exhausted_at = [], None
    for i in range(400):
        names.append(sampler.next_sequence()[0])
        if exhausted_at is None and sampler.streams[1].exhausted:
            exhausted_at = i
    assert exhausted_at is not None
    assert stem_tokens <= sampler.streams[1].tokens_read < stem_tokens + 32
    assert names[exhausted_at - 40 : exhausted_at + 1].count("stem") > 25
    assert set(names[exhausted_at + 1 :]) == {"main"}
    capped = _sampler(token_streams, caps=(0.05, 0.05))
    with pytest.raises(DataExhausted, match="repetition cap"):
        for _ in range(1000):
            capped.next_sequence()


def test_packed_rows_reset_positions_and_mask_cross_document_labels(token_streams):
    sampler = _sampler(token_streams)
    batch = sampler.next_batch(8)
    starts = batch.position_ids == 0
    assert starts[:, 0].all() and starts.sum() > 8  # several documents per row
    # no prediction of a document's first token from the previous document
    assert (batch.labels[:, 1:][starts[:, 1:]] == -100).all()
    sampler.cross_document_attention = True
    crossing = sampler.next_batch(2)
    assert crossing.position_ids is None and (crossing.labels != -100).all()
