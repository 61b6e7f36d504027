"""A real vLLM OpenAI server on a tiny model, driven by the official ``openai`` client.

Modelled on vLLM's own server tests: exact usage, streamed text equal to the non-streamed one with exactly one
``finish_reason``, ``n`` choices with their indexes, ``stop`` honoured, the chat prompt token-identical to
``encode_chat``, bad requests answered 4xx JSON while the server keeps serving, 401 without the API key.
One server for the module (it takes about a minute to start on 2 CPU cores).
"""

from __future__ import annotations

import asyncio

import pytest

from skywork.serve.prepare import prepare_vllm_dir
from skywork.serve.vllm import VLLMServer, find_vllm_python
from skywork.tokenizer.chat import encode_chat

openai = pytest.importorskip(
    "openai", reason="the official client is the serve extra: pip install 'skywork[serve]'"
)
httpx = pytest.importorskip("httpx")

pytestmark = pytest.mark.slow

API_KEY = "test-key-not-secret"
MODEL = "tiny"
MAX_MODEL_LEN = 256
GREEDY = dict(
    temperature=0.0, extra_body={"ignore_eos": True}
)  # ignore_eos: exact lengths from a random model


@pytest.fixture(scope="module")
def server(served_model, tmp_path_factory):
    if find_vllm_python() is None:
        pytest.skip("no vLLM environment (.venv-vllm): create it with `make serve-setup`")
    model_dir, _ = served_model
    root = tmp_path_factory.mktemp("vllm")
    prepared = prepare_vllm_dir(model_dir, cache_root=root / "cache")
    with VLLMServer(
        prepared,
        served_model_name=MODEL,
        port=0,
        api_key=API_KEY,
        max_model_len=MAX_MODEL_LEN,
        kvcache_gib=1,
        log_path=root / "vllm.log",
        extra_args=["--enforce-eager"],  # no torch.compile warm-up: the start is what dominates this module
    ) as running:
        print(f"vLLM log: {running.log_path}")
        yield running


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key=API_KEY, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def tokenizer(served_model):
    return served_model[1]


def test_models_lists_the_served_name(client):
    assert [m.id for m in client.models.list().data] == [MODEL]


def test_completion_usage_is_exact(client, tokenizer):
    prompt = "def main():\n    return"
    out = client.completions.create(model=MODEL, prompt=prompt, max_tokens=7, logprobs=0, **GREEDY)
    choice = out.choices[0]
    assert choice.finish_reason == "length"
    assert len(choice.logprobs.tokens) == 7
    assert out.usage.prompt_tokens == len(tokenizer.encode(prompt))  # BOS included, as in pretraining
    assert out.usage.completion_tokens == 7
    assert out.usage.total_tokens == out.usage.prompt_tokens + 7


def test_stream_joins_to_the_non_streamed_text(client):
    kwargs = dict(model=MODEL, prompt="import os\nimport", max_tokens=12, **GREEDY)
    whole = client.completions.create(**kwargs)
    chunks = list(client.completions.create(stream=True, stream_options={"include_usage": True}, **kwargs))
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert text == whole.choices[0].text
    assert finishes == ["length"]
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens


def test_chat_stream_role_first_then_one_finish(client):
    messages = [{"role": "user", "content": "hello"}]
    kwargs = dict(model=MODEL, messages=messages, max_tokens=10, **GREEDY)
    whole = client.chat.completions.create(**kwargs)
    chunks = list(
        client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **kwargs)
    )
    with_choices = [c for c in chunks if c.choices]
    assert with_choices[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in with_choices)
    assert text == whole.choices[0].message.content
    assert [c.choices[0].finish_reason for c in with_choices if c.choices[0].finish_reason] == ["length"]
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens == 10


def test_n_gives_indexed_choices(client):
    out = client.completions.create(
        model=MODEL,
        prompt="class",
        max_tokens=4,
        n=3,
        temperature=1.0,
        seed=0,
        extra_body={"ignore_eos": True},
    )
    assert sorted(c.index for c in out.choices) == [0, 1, 2]
    assert out.usage.completion_tokens == 12


def test_stop_string_is_honoured(client):
    kwargs = dict(model=MODEL, prompt="for i in", max_tokens=24, **GREEDY)
    text = client.completions.create(**kwargs).choices[0].text
    stop = next(
        (text[i : i + 2] for i in range(len(text) // 2, len(text) - 1) if text[i : i + 2].strip()), None
    )
    if stop is None:
        pytest.skip(f"the random model's text has no usable stop string: {text!r}")
    stopped = client.completions.create(stop=[stop], **kwargs).choices[0]
    assert stopped.text == text[: text.index(stop)]
    assert stopped.finish_reason == "stop"


def test_chat_prompt_is_token_identical_to_encode_chat(server, client, tokenizer):
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "hi there"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "1+1等于几？"},
    ]
    expected = encode_chat(tokenizer, messages)
    tokenized = httpx.post(
        server.base_url + "/tokenize",
        json={"model": MODEL, "messages": messages, "add_generation_prompt": True},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=60,
    )
    assert tokenized.status_code == 200, tokenized.text
    assert tokenized.json()["tokens"] == expected
    out = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=1, temperature=0.0)
    assert out.usage.prompt_tokens == len(expected)


def _assert_error_json(response, status_range=range(400, 500)) -> dict:
    assert response.status_code in status_range, (response.status_code, response.text)
    error = response.json()["error"]
    assert {"message", "type", "code"} <= set(error), error
    return error


def test_bad_requests_answer_4xx_json_and_the_server_keeps_serving(server, client):
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
    url = server.base_url + "/v1/completions"
    _assert_error_json(httpx.post(url, content=b'{"model": "tiny", "prompt": ', headers=headers, timeout=60))
    bad_bodies = [
        {"model": "no-such-model", "prompt": "x", "max_tokens": 2},
        {"model": MODEL, "prompt": "x", "max_tokens": -1},
        {"model": MODEL, "prompt": "hello " * (MAX_MODEL_LEN + 10), "max_tokens": 2},
    ]
    for body in bad_bodies:
        _assert_error_json(httpx.post(url, json=body, headers=headers, timeout=60))
    with pytest.raises(openai.NotFoundError):
        client.completions.create(model="no-such-model", prompt="x", max_tokens=2)
    with pytest.raises(openai.BadRequestError):
        client.completions.create(model=MODEL, prompt="x", max_tokens=-1)
    assert (
        client.completions.create(model=MODEL, prompt="x", max_tokens=2, **GREEDY).usage.completion_tokens
        == 2
    )


def test_requests_without_the_api_key_get_401(server):
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        assert httpx.get(server.base_url + "/v1/models", headers=headers, timeout=30).status_code == 401
        response = httpx.post(
            server.base_url + "/v1/completions",
            json={"model": MODEL, "prompt": "x", "max_tokens": 1},
            headers=headers,
            timeout=30,
        )
        assert response.status_code == 401
    assert httpx.get(server.base_url + "/health", timeout=30).status_code == 200


def test_concurrent_streams_all_finish(server):
    async def one(client, i: int) -> int:
        stream = await client.completions.create(
            model=MODEL, prompt=f"x = {i}", max_tokens=8, stream=True, **GREEDY
        )
        finishes = [
            c.choices[0].finish_reason async for c in stream if c.choices and c.choices[0].finish_reason
        ]
        return len(finishes)

    async def run_all() -> list[int]:
        async with openai.AsyncOpenAI(
            base_url=server.base_url + "/v1", api_key=API_KEY, max_retries=0
        ) as client:
            return await asyncio.gather(*(one(client, i) for i in range(50)))

    assert asyncio.run(run_all()) == [1] * 50
