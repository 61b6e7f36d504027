"""A tiny served model: the test tokenizer with the chat markers inside the model's vocabulary."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def served_model(tmp_path_factory):
    """(model directory, tokenizer) of a skywork-tiny-like model whose embedding covers [USER], [BOT], [SEP].

    Heads of 64 (the demo's): vLLM's CPU attention rejects skywork-tiny's head_dim 16 at the first request.
    """
    from skywork.testing import build_tiny_model, build_tiny_tokenizer, write_tiny_model_dir
    from skywork.tokenizer import load

    root = tmp_path_factory.mktemp("served")
    tokenizer_dir = build_tiny_tokenizer(root / "tok", vocab_size=1000)
    tokenizer = load(tokenizer_dir)
    model = build_tiny_model(
        vocab_size=len(tokenizer), hidden_size=128, num_attention_heads=2, num_key_value_heads=2
    )
    model_dir = write_tiny_model_dir(root / "tiny", model, tokenizer_dir)
    return model_dir, tokenizer


@pytest.fixture(scope="module")
def client(server):
    """The official OpenAI client on the module's ``server`` fixture (builtin or vLLM)."""
    import openai

    from tests.serve.openai_suite import API_KEY

    return openai.OpenAI(base_url=server.base_url + "/v1", api_key=API_KEY, max_retries=0, timeout=120)


@pytest.fixture(scope="module")
def tokenizer(served_model):
    return served_model[1]
