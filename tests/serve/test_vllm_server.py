"""A real vLLM OpenAI server on a tiny model, driven by the official ``openai`` client.

The assertions are the shared suite (``openai_suite.py``, also run against the builtin server) plus vLLM's
logprobs. One server for the module (it takes about a minute to start on 2 CPU cores); skipped without
``.venv-vllm`` (``make serve-setup``), failed instead where ``SKYWORK_REQUIRE_VLLM`` is set (CI).
"""

from __future__ import annotations

import os

import pytest

from skywork.serve.prepare import prepare_vllm_dir
from skywork.serve.vllm import VLLMServer, find_vllm_python
from tests.serve.openai_suite import API_KEY, GREEDY, MAX_MODEL_LEN, MODEL, OpenAIServerSuite

openai = pytest.importorskip(
    "openai", reason="the official client is the serve extra: pip install 'skywork[serve]'"
)
httpx = pytest.importorskip("httpx")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(served_model, tmp_path_factory):
    if find_vllm_python() is None:
        if os.environ.get("SKYWORK_REQUIRE_VLLM"):  # CI: a broken `make serve-setup` must show red
            pytest.fail("SKYWORK_REQUIRE_VLLM is set but there is no vLLM environment (.venv-vllm)")
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


class TestVLLMServer(OpenAIServerSuite):
    def running_requests(self, server) -> int:
        """Running plus waiting requests, from vLLM's Prometheus ``/metrics``."""
        text = httpx.get(server.base_url + "/metrics", timeout=30).text
        names = ("vllm:num_requests_running", "vllm:num_requests_waiting")
        lines = [line for line in text.splitlines() if line.startswith(names)]
        assert lines, "vLLM's /metrics lists no request gauges"
        return int(sum(float(line.rsplit(" ", 1)[1]) for line in lines))

    def test_logprobs_count_the_completion_tokens(self, client):
        out = client.completions.create(model=MODEL, prompt="def main():", max_tokens=7, logprobs=0, **GREEDY)
        assert len(out.choices[0].logprobs.tokens) == 7
