"""The generation engine against transformers' ``generate`` on a tiny random model (fp32)."""

from __future__ import annotations

import pytest
import torch

from skywork.inference import GenerationEngine, SamplingParams
from skywork.testing import build_tiny_model

PROMPTS = [
    "def main():",
    "import os\nimport sys\n\nclass Reader:\n    def __init__(self, path):",
    "今天天气很好",
    "x = 1",
    "for i in range(10):\n    print(i)\n# done",
    "机器学习是人工智能的一个重要分支。他在北京大学学习",
    "return",
    "while True:\n    line = stream.readline()\n    if not line:\n        break",
]


@pytest.fixture(scope="module")
def model(tiny_tokenizer):
    """Larger weights than the default, so greedy outputs depend on the prompt (a real test of batching)."""
    return build_tiny_model(len(tiny_tokenizer), seed=5, initializer_range=0.3)


def hf_generate(model, ids_list: list[list[int]], **kwargs) -> list[list[int]]:
    """transformers' generate on a left-padded batch; the new tokens of each row."""
    width = max(len(ids) for ids in ids_list)
    ids = torch.tensor([[0] * (width - len(x)) + x for x in ids_list])
    mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids_list])
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=mask, pad_token_id=0, **kwargs)
    return [row[width:].tolist() for row in out]


def ids_of(tokenizer, prompts):
    return [tokenizer(p)["input_ids"] for p in prompts]


NO_EOS = dict(eos_token_id=None)


@pytest.mark.parametrize("batch_size", [1, 8])
def test_greedy_equals_transformers(model, tiny_tokenizer, batch_size):
    engine = GenerationEngine(model, tiny_tokenizer, batch_size=batch_size)
    params = SamplingParams(max_new_tokens=16, stop_token_ids=())
    ours = [c[0].token_ids for c in engine.generate(PROMPTS, params)]
    ids = ids_of(tiny_tokenizer, PROMPTS)
    if batch_size == 1:
        ref = [hf_generate(model, [x], do_sample=False, max_new_tokens=16, **NO_EOS)[0] for x in ids]
    else:
        ref = hf_generate(model, ids, do_sample=False, max_new_tokens=16, **NO_EOS)
    assert ours == ref
    assert len({tuple(t) for t in ours}) == len(PROMPTS)


def test_completion_fields_and_token_id_prompts(model, tiny_tokenizer):
    engine = GenerationEngine(model, tiny_tokenizer)
    params = SamplingParams(max_new_tokens=5, stop_token_ids=())
    ids = ids_of(tiny_tokenizer, PROMPTS[:2])
    by_text = engine.generate(PROMPTS[:2], params)
    by_ids = engine.generate(ids, params)
    for c_text, c_ids, x in zip(by_text, by_ids, ids, strict=True):
        c = c_text[0]
        assert c == c_ids[0]
        assert c.finish_reason == "length" and c.completion_tokens == 5 and c.prompt_tokens == len(x)
        assert c.text == tiny_tokenizer.decode(c.token_ids, skip_special_tokens=True)


def test_stop_token_ids_per_row(model, tiny_tokenizer):
    """Rows stop at different steps; every row equals transformers with that stop id as EOS."""
    ids = ids_of(tiny_tokenizer, PROMPTS)
    free = hf_generate(model, ids, do_sample=False, max_new_tokens=12, **NO_EOS)
    stop_id = free[0][3]  # a token that ends prompt 0 at step 4 (and others wherever they produce it)
    ref = [hf_generate(model, [x], do_sample=False, max_new_tokens=12, eos_token_id=stop_id)[0] for x in ids]
    for drop in (True, False):
        engine = GenerationEngine(model, tiny_tokenizer, batch_size=8, drop_finished_rows=drop)
        out = [
            c[0]
            for c in engine.generate(PROMPTS, SamplingParams(max_new_tokens=12, stop_token_ids=(stop_id,)))
        ]
        assert [c.token_ids for c in out] == [r[: r.index(stop_id) + 1] if stop_id in r else r for r in ref]
        first = out[0]
        assert first.finish_reason == "stop" and first.stop == stop_id and len(first.token_ids) <= 4
        assert first.text == tiny_tokenizer.decode(first.token_ids[:-1], skip_special_tokens=True)
        assert any(c.finish_reason == "length" for c in out) or all(stop_id in r for r in ref)


def test_stop_strings(model, tiny_tokenizer):
    engine = GenerationEngine(model, tiny_tokenizer, batch_size=8)
    full = engine.generate(PROMPTS, SamplingParams(max_new_tokens=20, stop_token_ids=()))
    text = full[1][0].text
    stop = text[len(text) // 2 : len(text) // 2 + 2]
    assert stop.strip(), text
    cut = engine.generate(PROMPTS, SamplingParams(max_new_tokens=20, stop_token_ids=(), stop=(stop, "never")))
    c = cut[1][0]
    assert c.finish_reason == "stop" and c.stop == stop
    assert c.text == text[: text.index(stop)]
    assert full[1][0].token_ids[: len(c.token_ids)] == c.token_ids
    assert stop in tiny_tokenizer.decode(c.token_ids) and stop not in tiny_tokenizer.decode(c.token_ids[:-1])
    for f, g in zip(full, cut, strict=True):  # rows without the stop string run to max_new_tokens unchanged
        if stop not in f[0].text:
            assert g[0] == f[0]


def test_shared_prefix_gives_the_same_tokens(model, tiny_tokenizer):
    prefix = "import os\nimport sys\n"
    prompts = [prefix + tail for tail in ("x = 1", "def main():\n    return 0", "print(sys.argv)")]
    engine = GenerationEngine(model, tiny_tokenizer, batch_size=8)
    params = SamplingParams(max_new_tokens=10, stop_token_ids=())
    shared = engine.generate(prompts, params, shared_prefix=prefix)
    plain = [
        hf_generate(model, [x], do_sample=False, max_new_tokens=10, **NO_EOS)[0]
        for x in ids_of(tiny_tokenizer, prompts)
    ]
    assert [c[0].token_ids for c in shared] == plain


def test_repetition_penalty_equals_transformers(model, tiny_tokenizer):
    engine = GenerationEngine(model, tiny_tokenizer, batch_size=1)
    params = SamplingParams(max_new_tokens=16, repetition_penalty=1.3, stop_token_ids=())
    for prompt, x in zip(PROMPTS[:4], ids_of(tiny_tokenizer, PROMPTS[:4]), strict=True):
        ours = engine.generate([prompt], params)[0][0].token_ids
        ref = hf_generate(model, [x], do_sample=False, max_new_tokens=16, repetition_penalty=1.3, **NO_EOS)[0]
        assert ours == ref


def test_top_k_one_sampling_equals_greedy(model, tiny_tokenizer):
    engine = GenerationEngine(model, tiny_tokenizer, batch_size=8)
    greedy = engine.generate(PROMPTS, SamplingParams(max_new_tokens=12, stop_token_ids=()))
    sampled = engine.generate(
        PROMPTS, SamplingParams(max_new_tokens=12, temperature=0.9, top_k=1, seed=3, stop_token_ids=())
    )
    assert [c[0].token_ids for c in sampled] == [c[0].token_ids for c in greedy]


def test_seeded_sampling_equals_transformers_after_manual_seed(model, tiny_tokenizer):
    params = SamplingParams.official_demo(max_new_tokens=16, temperature=1.5, top_p=0.9, top_k=20, seed=11)
    engine = GenerationEngine(model, tiny_tokenizer, batch_size=1)
    ours = engine.generate([PROMPTS[0]], params.replace(stop_token_ids=()))[0][0].token_ids
    torch.manual_seed(11)
    kwargs = dict(do_sample=True, temperature=1.5, top_p=0.9, top_k=20, repetition_penalty=1.1)
    ref = hf_generate(model, ids_of(tiny_tokenizer, PROMPTS[:1]), max_new_tokens=16, **kwargs, **NO_EOS)[0]
    assert ours == ref


def test_n_samples_reproducible_for_a_seed(model, tiny_tokenizer):
    params = SamplingParams(max_new_tokens=12, temperature=1.5, n=3, seed=42, stop_token_ids=())
    runs = [
        GenerationEngine(model, tiny_tokenizer, batch_size=b).generate(PROMPTS[:3], params)
        for b in (8, 8, 3, 1)
    ]
    as_ids = [[[c.token_ids for c in per_prompt] for per_prompt in run] for run in runs]
    assert all(a == as_ids[0] for a in as_ids)  # same seed: same samples, whatever the batch size
    assert all(len(per_prompt) == 3 for per_prompt in as_ids[0])
    assert len({tuple(t) for t in as_ids[0][0]}) > 1  # the n samples differ
    other = GenerationEngine(model, tiny_tokenizer).generate(PROMPTS[:3], params.replace(seed=43))
    assert [[c.token_ids for c in p] for p in other] != as_ids[0]


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(max_new_tokens=40, stop_token_ids=()),
        SamplingParams(max_new_tokens=40, temperature=1.2, seed=0, stop_token_ids=()),
        SamplingParams.official_demo(max_new_tokens=40, seed=1),
    ],
)
def test_stream_concatenation_equals_generated_text(model, tiny_tokenizer, params):
    engine = GenerationEngine(model, tiny_tokenizer)
    for prompt in (PROMPTS[2], PROMPTS[5]):  # Chinese: multi-byte characters, byte-fallback pieces
        full = engine.generate([prompt], params)[0][0].text
        pieces = list(engine.stream(prompt, params))
        assert "".join(pieces) == full
        assert all(pieces)
        text = full[5:9]
        if text.strip():  # with a stop string the stream ends before it, like the non-streamed text
            stopped = params.replace(stop=(text,))
            assert "".join(engine.stream(prompt, stopped)) == engine.generate([prompt], stopped)[0][0].text


def test_official_demo_preset():
    p = SamplingParams.official_demo()
    assert (p.temperature, p.top_p, p.top_k, p.repetition_penalty, p.max_new_tokens) == (
        0.95,
        0.8,
        5,
        1.1,
        1000,
    )
    assert SamplingParams().greedy and not p.greedy
    with pytest.raises(ValueError):
        SamplingParams(top_p=0)


@pytest.mark.parametrize(
    "params", [SamplingParams(max_new_tokens=10), SamplingParams(max_new_tokens=10, seed=3)]
)
def test_a_batch_absorbed_mid_decoding_gives_each_row_its_own_tokens(model, tiny_tokenizer, params):
    """Continuous batching (the builtin server's): rows that join a running batch after its 4th step get the
    tokens they get alone, the running rows keep theirs, and every row stops at its own budget."""
    from skywork.inference.engine import DecodeBatch

    engine = GenerationEngine(model, tiny_tokenizer, batch_size=8, drop_finished_rows=True)
    alone = engine.generate(PROMPTS[:5], params)
    ids = ids_of(tiny_tokenizer, PROMPTS[:5])
    running = DecodeBatch(engine, params, ids[:2], [0, 1], 0)  # indices: seeded rows draw from seed + index
    joining = DecodeBatch(engine, params.replace(max_new_tokens=6), ids[2:], [2, 3, 4], 0)
    steps = running.run(None)
    for _ in range(4):
        next(steps)
    next(joining.run(None))  # prefilled, first token chosen
    running.absorb(joining)
    for _ in steps:
        pass
    for r in range(5):
        expected = alone[r][0].token_ids[: 10 if r < 2 else 6]
        assert running.tokens[r] == expected, r
        assert running.completion(r).prompt_tokens == len(ids[r])
    with pytest.raises(ValueError, match="same sampling settings"):
        other = DecodeBatch(engine, params.replace(temperature=0.5, seed=1), ids[:1], [0], 0)
        next(other.run(None))
        fresh = DecodeBatch(engine, params, ids[:1], [0], 0)
        next(fresh.run(None))
        fresh.absorb(other)


def test_a_continuation_keeps_the_space_sentencepiece_drops(model, tiny_tokenizer):
    """`skywork generate` and the completions API: prompt + text reads as the decoded whole (vLLM's rule), where
    decoding the new ids alone drops the space of a leading "▁" piece."""
    engine = GenerationEngine(model, tiny_tokenizer)
    params = SamplingParams(max_new_tokens=8)
    spaced = 0
    for prompt in PROMPTS:
        ids = tiny_tokenizer(prompt)["input_ids"]
        completion = engine.generate([prompt], params)[0][0]
        text = "".join(engine.stream(prompt, params, continuation=True))
        whole = tiny_tokenizer.decode(ids + completion.token_ids, skip_special_tokens=True)
        assert text == whole[len(tiny_tokenizer.decode(ids, skip_special_tokens=True)) :]
        assert text.lstrip() == completion.text.lstrip()
        spaced += text != completion.text
    assert spaced, "no prompt's continuation started with a '▁' piece: the test checks nothing"
