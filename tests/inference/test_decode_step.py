"""The engine's decoding step against the model's own forward: the same logits, bit for bit."""

from __future__ import annotations

import pytest
import torch
from transformers import DynamicCache

from skywork.inference import GenerationEngine, SamplingParams
from skywork.inference.decode_step import DecodeStep
from skywork.testing import build_tiny_model

VOCAB = 1000


def left_padded(rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.tensor([[0] * (width - len(r)) + r for r in rows])
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
    positions = (mask.cumsum(1) - 1).clamp(min=0)
    return ids, mask, positions


def steps_both_ways(model, rows: list[list[int]], steps: int = 4) -> tuple[list, list]:
    """Prefill once, then ``steps`` steps through model(...) and through DecodeStep from copies of one cache."""
    ids, mask, positions = left_padded(rows)
    step = DecodeStep.for_model(model)
    assert step is not None
    with torch.no_grad():
        cache_a = DynamicCache(config=model.config)
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache_a, use_cache=True)
        cache_b = DynamicCache(config=model.config)
        model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache_b, use_cache=True)
        token = out.logits[:, -1].argmax(-1)
        next_pos = positions[:, -1] + 1
        ours, theirs = [], []
        for _ in range(steps):
            mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=1)
            ref = model(
                input_ids=token[:, None],
                attention_mask=mask,
                position_ids=next_pos[:, None],
                cache=cache_a,
                use_cache=True,
            ).logits[:, -1]
            got = step(token, next_pos, mask, cache_b)
            theirs.append(ref)
            ours.append(got)
            token, next_pos = ref.argmax(-1), next_pos + 1
    return ours, theirs


ROWS = [[1, 5, 9, 200, 17, 3], [1, 44, 2], [1, 7, 7, 7, 81, 90, 91, 92, 93]]


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"num_key_value_heads": 2},  # GQA
        {"rope_scaling": {"rope_type": "linear", "factor": 2.0}},
        {"rope_scaling": {"rope_type": "dynamic", "factor": 2.0}},
        {"rope_scaling": {"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 16}},
    ],
    ids=["mha", "gqa", "linear", "dynamic", "yarn"],
)
@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_logits_equal_the_forward(overrides, attention):
    model = build_tiny_model(VOCAB, seed=3, initializer_range=0.2, **overrides)
    model.set_attn_implementation(attention)
    for rows in (ROWS, ROWS[:1]):  # padded batch, and one row (no mask at all)
        ours, theirs = steps_both_ways(model, rows)
        for got, ref in zip(ours, theirs, strict=True):
            assert torch.equal(got, ref)


def test_bf16_and_int8_equal_the_forward():
    from skywork.model.quantize import quantize_model

    model = build_tiny_model(VOCAB, seed=4, initializer_range=0.2).to(torch.bfloat16)
    ours, theirs = steps_both_ways(model, ROWS)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))
    quantize_model(model, "int8")
    ours, theirs = steps_both_ways(model, ROWS)
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs, strict=True))


def test_engine_output_unchanged_by_the_step(tiny_tokenizer):
    """Greedy and seeded sampling through the engine, with the step and with the model's forward."""
    model = build_tiny_model(len(tiny_tokenizer), seed=5, initializer_range=0.3)
    prompts = ["def main():", "今天天气很好", "for i in range(10):\n    print(i)"]
    results = []
    for fast in (True, False):
        engine = GenerationEngine(model, tiny_tokenizer, batch_size=4)
        if not fast:
            engine.decode_step = None
        greedy = engine.generate(prompts, SamplingParams(max_new_tokens=12, stop_token_ids=()))
        sampled = engine.generate(
            prompts,
            SamplingParams(max_new_tokens=12, temperature=0.8, top_p=0.9, seed=7, n=2, stop_token_ids=()),
        )
        results.append([[c.token_ids for c in r] for r in greedy + sampled])
    assert results[0] == results[1]
    assert len({tuple(r[0]) for r in results[0][:3]}) == 3


def test_refused_where_it_would_bypass_something():
    model = build_tiny_model(VOCAB, seed=1)
    assert DecodeStep.for_model(model) is not None
    handle = model.model.layers[0].register_forward_hook(lambda *a: None)
    assert DecodeStep.for_model(model) is None  # a hook the step would skip
    handle.remove()
    assert DecodeStep.for_model(torch.nn.Linear(2, 2)) is None  # not a LLaMA causal LM
