"""The OpenAI-API assertions every engine's server must pass, driven by the official ``openai`` client.

Modelled on vLLM's own server tests. A test module subclasses :class:`OpenAIServerSuite` as ``Test<Engine>`` and
provides the fixtures ``server`` (``.base_url``), ``client`` (an ``openai.OpenAI`` with the key) and
``tokenizer`` (ours, for the served model), and :meth:`OpenAIServerSuite.running_requests`.
"""

from __future__ import annotations

import asyncio
import time

import pytest

openai = pytest.importorskip(
    "openai", reason="the official client is the serve extra: pip install 'skywork[serve]'"
)
httpx = pytest.importorskip("httpx")

from skywork.tokenizer.chat import encode_chat  # noqa: E402

API_KEY = "test-key-not-secret"
MODEL = "tiny"
MAX_MODEL_LEN = 256
GREEDY = dict(
    temperature=0.0, extra_body={"ignore_eos": True}
)  # ignore_eos: exact lengths from a random model
CONCURRENT_STREAMS = 50


def assert_error_json(response, status_range=range(400, 500)) -> dict:
    assert response.status_code in status_range, (response.status_code, response.text)
    error = response.json()["error"]
    assert {"message", "type", "code"} <= set(error), error
    return error


class OpenAIServerSuite:
    """Shared tests; not collected itself (the name does not start with ``Test``)."""

    def running_requests(self, server) -> int:
        """How many requests the server is decoding now (engine-specific)."""
        raise NotImplementedError

    def test_models_lists_the_served_name(self, client):
        assert [m.id for m in client.models.list().data] == [MODEL]

    def test_completion_usage_is_exact(self, client, tokenizer):
        prompt = "def main():\n    return"
        out = client.completions.create(model=MODEL, prompt=prompt, max_tokens=7, **GREEDY)
        assert out.choices[0].finish_reason == "length"
        assert out.usage.prompt_tokens == len(tokenizer.encode(prompt))  # BOS included, as in pretraining
        assert out.usage.completion_tokens == 7
        assert out.usage.total_tokens == out.usage.prompt_tokens + 7

    def test_stream_joins_to_the_non_streamed_text(self, client):
        kwargs = dict(model=MODEL, prompt="import os\nimport", max_tokens=12, **GREEDY)
        whole = client.completions.create(**kwargs)
        chunks = list(
            client.completions.create(stream=True, stream_options={"include_usage": True}, **kwargs)
        )
        text = "".join(c.choices[0].text for c in chunks if c.choices)
        finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert text == whole.choices[0].text
        assert finishes == ["length"]
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12
        assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens

    def test_chat_stream_role_first_then_one_finish(self, client):
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

    def test_n_gives_indexed_choices(self, client):
        kwargs = dict(model=MODEL, prompt="class", max_tokens=4, n=3, temperature=1.0, seed=0)
        out = client.completions.create(**kwargs, extra_body={"ignore_eos": True})
        assert sorted(c.index for c in out.choices) == [0, 1, 2]
        assert out.usage.completion_tokens == 12
        chunks = list(client.completions.create(stream=True, **kwargs, extra_body={"ignore_eos": True}))
        finishes = sorted(c.choices[0].index for c in chunks if c.choices and c.choices[0].finish_reason)
        assert finishes == [0, 1, 2]

    def test_stop_string_is_honoured(self, client):
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

    def test_chat_prompt_is_token_identical_to_encode_chat(self, server, client, tokenizer):
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

    def test_bad_requests_answer_4xx_json_and_the_server_keeps_serving(self, server, client):
        headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        url = server.base_url + "/v1/completions"
        assert_error_json(
            httpx.post(url, content=b'{"model": "tiny", "prompt": ', headers=headers, timeout=60)
        )
        bad_bodies = [
            {"model": "no-such-model", "prompt": "x", "max_tokens": 2},
            {"model": MODEL, "prompt": "x", "max_tokens": -1},
            {"model": MODEL, "prompt": "hello " * (MAX_MODEL_LEN + 10), "max_tokens": 2},
        ]
        for body in bad_bodies:
            assert_error_json(httpx.post(url, json=body, headers=headers, timeout=60))
        with pytest.raises(openai.NotFoundError):
            client.completions.create(model="no-such-model", prompt="x", max_tokens=2)
        with pytest.raises(openai.BadRequestError):
            client.completions.create(model=MODEL, prompt="x", max_tokens=-1)
        out = client.completions.create(model=MODEL, prompt="x", max_tokens=2, **GREEDY)
        assert out.usage.completion_tokens == 2

    def test_requests_without_the_api_key_get_401(self, server):
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

    def test_concurrent_streams_all_finish(self, server):
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
                base_url=server.base_url + "/v1", api_key=API_KEY, max_retries=0, timeout=300
            ) as client:
                return await asyncio.gather(*(one(client, i) for i in range(CONCURRENT_STREAMS)))

        assert asyncio.run(run_all()) == [1] * CONCURRENT_STREAMS

    def test_a_client_that_disconnects_frees_its_slot(self, server, client):
        stream = client.completions.create(
            model=MODEL, prompt="while True:", max_tokens=MAX_MODEL_LEN - 16, stream=True, **GREEDY
        )
        for _ in zip(range(3), stream, strict=False):  # a few tokens, then hang up
            pass
        stream.close()
        deadline = time.monotonic() + 60
        while self.running_requests(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert self.running_requests(server) == 0
        out = client.completions.create(model=MODEL, prompt="x", max_tokens=2, **GREEDY)
        assert out.usage.completion_tokens == 2
