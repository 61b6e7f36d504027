"""A tiny served model: the test tokenizer with the chat markers inside the model's vocabulary."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def served_model(tmp_path_factory):
    """(model directory, tokenizer) of a skywork-tiny-like model whose embedding covers [USER], [BOT], [SEP].

    Heads of 64 (the demo's): vLLM's CPU attention rejects skywork-tiny's head_dim 16 at the first request.
    """
    from skywork.model.checkpoint import save_model_dir
    from skywork.testing import build_tiny_model, build_tiny_tokenizer
    from skywork.tokenizer import load

    root = tmp_path_factory.mktemp("served")
    tokenizer_dir = build_tiny_tokenizer(root / "tok", vocab_size=1000)
    tokenizer = load(tokenizer_dir)
    model = build_tiny_model(
        vocab_size=len(tokenizer), hidden_size=128, num_attention_heads=2, num_key_value_heads=2
    )
    model_dir = save_model_dir(
        root / "tiny",
        model.config,
        model.state_dict(),
        architecture="SkyworkForCausalLM",
        tokenizer_dir=tokenizer_dir,
    )
    return model_dir, tokenizer
