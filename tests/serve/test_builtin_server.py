"""The built-in server (FastAPI + uvicorn on the generation engine): the shared OpenAI suite and its own checks.

One real uvicorn server for the module, in a thread on a free 127.0.0.1 port, on a tiny model built in the
test; talked to only with the official ``openai`` client (and raw HTTP for malformed requests).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from typer.testing import CliRunner

from skywork.tokenizer.chat import encode_chat
from tests.serve.openai_suite import API_KEY, GREEDY, MAX_MODEL_LEN, MODEL, OpenAIServerSuite

openai = pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi", reason="the builtin server is the serve extra: pip install 'skywork[serve]'")
pytest.importorskip("uvicorn")


@pytest.fixture(scope="module")
def server(served_model):
    from skywork.serve.builtin import BuiltinServer

    model_dir, _ = served_model
    with BuiltinServer(
        model_dir, served_model_name=MODEL, port=0, api_key=API_KEY, max_model_len=MAX_MODEL_LEN
    ) as running:
        yield running


def _stats(server) -> dict:
    return httpx.get(server.base_url + "/stats", timeout=30).json()


class TestBuiltinServer(OpenAIServerSuite):
    def running_requests(self, server) -> int:
        stats = _stats(server)
        return stats["running_rows"] + stats["waiting"]

    def test_greedy_output_equals_skywork_generate(self, served_model, client):
        from skywork.cli import app

        model_dir, _ = served_model
        prompt, new = "def add(a, b):", 16
        result = CliRunner().invoke(
            app, ["generate", str(model_dir), "-p", prompt, "--greedy", "--max-new-tokens", str(new)]
        )
        assert result.exit_code == 0, result.output
        reference = result.stdout.removeprefix(prompt).removesuffix("\n")
        # unset repetition_penalty is the official 1.1, as `--greedy` keeps it; EOS and [SEP] stop both
        out = client.completions.create(model=MODEL, prompt=prompt, max_tokens=new, temperature=0.0)
        assert out.choices[0].text == reference

    def test_greedy_chat_equals_the_engine_on_encode_chat(self, served_model, client, tokenizer):
        from skywork.inference import GenerationEngine, SamplingParams
        from skywork.inference.generation import chat_stop_ids
        from skywork.model import load_model

        messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "写一个函数"}]
        params = SamplingParams.official_demo(
            temperature=0.0, max_new_tokens=12, stop_token_ids=chat_stop_ids(tokenizer)
        )
        prompt_ids = encode_chat(tokenizer, messages)
        engine = GenerationEngine(load_model(served_model[0]), tokenizer, batch_size=1)
        expected = engine.generate([prompt_ids], params)[0][0]
        out = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=12, temperature=0.0)
        assert out.usage.prompt_tokens == len(prompt_ids)
        assert out.choices[0].message.content == expected.text
        assert out.usage.completion_tokens == expected.completion_tokens

    def test_concurrent_requests_are_batched(self, server):
        assert _stats(server)["max_batch_rows"] > 1  # after the suite's concurrent streams

    def test_disconnected_rows_stop_generating(self, server, client):
        before = _stats(server)
        stream = client.completions.create(
            model=MODEL, prompt="while True:", max_tokens=MAX_MODEL_LEN - 16, stream=True, **GREEDY
        )
        next(iter(stream))
        stream.close()
        deadline = time.monotonic() + 60
        while self.running_requests(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        after = _stats(server)
        assert after["cancelled_rows"] == before["cancelled_rows"] + 1
        assert after["generated_tokens"] - before["generated_tokens"] < MAX_MODEL_LEN - 16

    def test_errors_name_their_field(self, server):
        headers = {"Authorization": f"Bearer {API_KEY}"}
        url = server.base_url + "/v1/chat/completions"
        body = {"model": MODEL, "messages": [{"role": "robot", "content": "x"}], "max_tokens": 2}
        error = httpx.post(url, json=body, headers=headers, timeout=30).json()["error"]
        assert error["param"] == "messages" and error["type"] == "invalid_request_error"
        error = httpx.post(url, json={"model": MODEL}, headers=headers, timeout=30).json()["error"]
        assert error["param"] == "messages"
        response = httpx.post(url, json={**body, "messages": [], "n": 99}, headers=headers, timeout=30)
        assert response.status_code == 400


def test_skywork_serve_builtin_starts_answers_and_stops_on_sigterm(served_model, tmp_path):
    """The registered command in its own process: health, one chat request, SIGTERM ends it cleanly."""
    from skywork.serve.vllm import free_port

    model_dir, _ = served_model
    port = free_port()
    command = [sys.executable, "-m", "skywork.cli", "serve", str(model_dir), "--engine", "builtin"]
    command += ["--port", str(port), "--served-model-name", MODEL]
    log = open(tmp_path / "serve.log", "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(base + "/health", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=60)
        out = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "你好"}], max_tokens=4, **GREEDY
        )
        assert out.usage.completion_tokens == 4
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, (tmp_path / "serve.log").read_text()
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
