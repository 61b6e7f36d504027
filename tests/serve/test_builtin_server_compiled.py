"""The OpenAI suite once more against ``skywork serve --engine builtin --compile`` (the compiled decoding step).

Compiling happens in the scheduler's thread before the socket opens (two graphs: one row, several rows, tens of
seconds on 2 cores); every request after that must run without compiling again, whatever its batch.
"""

from __future__ import annotations

import pytest

from tests.serve.openai_suite import API_KEY, MAX_MODEL_LEN, MODEL, OpenAIServerSuite
from tests.serve.test_builtin_server import TestBuiltinServer

pytest.importorskip("openai")
httpx = pytest.importorskip("httpx")
pytest.importorskip("fastapi", reason="the builtin server is the serve extra: pip install 'skywork[serve]'")


@pytest.fixture(scope="module")
def server(served_model):
    from skywork.serve.builtin import BuiltinServer

    model_dir, _ = served_model
    with BuiltinServer(
        model_dir,
        served_model_name=MODEL,
        port=0,
        api_key=API_KEY,
        max_model_len=MAX_MODEL_LEN,
        compile=True,
    ) as running:
        yield running


class TestCompiledBuiltinServer(OpenAIServerSuite):
    running_requests = TestBuiltinServer.running_requests
    test_greedy_output_equals_skywork_generate = TestBuiltinServer.test_greedy_output_equals_skywork_generate

    def test_compiled_before_serving_and_never_again(self, server, client):
        import torch._dynamo.utils as dynamo_utils

        scheduler = server.service.scheduler
        assert server.service.engine.decode_step.compiled
        assert scheduler.warm_up_s > 0
        frames = dynamo_utils.counters["frames"]["ok"]
        for rows in (1, 3, 5):  # batches of other sizes than the warm-up's (n rows of one prompt)
            out = client.completions.create(
                model=MODEL, prompt="def f(x):", n=rows, max_tokens=6, temperature=0.0
            )
            assert len(out.choices) == rows
            assert len({c.text for c in out.choices}) == 1  # greedy: the same text in every row
        assert dynamo_utils.counters["frames"]["ok"] == frames  # no new compiled graph
