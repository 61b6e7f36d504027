"""vLLM on a briefly trained tiny model: greedy output equals ``skywork generate --greedy``, and the W8A8 int8 copy.

A random model's logits are nearly flat, so bf16 (vLLM) against fp32 (ours) argmax comparisons flip on ties; a
model trained for a few seconds on one paragraph continues it with clear margins, which makes the comparison a
test of the serving path (weights, RoPE, chat template, sampling defaults) instead of rounding. The second server
serves the compressed-tensors W8A8 copy (``--quantize int8``): it must pick vLLM's int8 kernel and score the same
continuation with log-probabilities close to the bf16 model's. Two vLLM starts (~1 min each on 2 CPU cores);
skipped without ``.venv-vllm``, failed instead where ``SKYWORK_REQUIRE_VLLM`` is set (CI).
"""

from __future__ import annotations

import os

import pytest
import torch

from skywork.serve.prepare import prepare_vllm_dir
from skywork.serve.vllm import VLLMServer, find_vllm_python

openai = pytest.importorskip(
    "openai", reason="the official client is the serve extra: pip install 'skywork[serve]'"
)

pytestmark = pytest.mark.slow

MODEL = "trained"
PARAGRAPH = (
    "The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a single step. "
    "All that glitters is not gold. Where there is a will there is a way. Practice makes perfect. "
)
PROMPT = "The quick brown fox jumps"
NEW_TOKENS = 12


def _require_vllm() -> None:
    if find_vllm_python() is None:
        if os.environ.get("SKYWORK_REQUIRE_VLLM"):  # CI: a broken `make serve-setup` must show red
            pytest.fail("SKYWORK_REQUIRE_VLLM is set but there is no vLLM environment (.venv-vllm)")
        pytest.skip("no vLLM environment (.venv-vllm): create it with `make serve-setup`")


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    """A skywork-tiny-shaped model (heads of 64, as vLLM's CPU attention needs) fitted to PARAGRAPH."""
    from skywork.testing import build_tiny_model, build_tiny_tokenizer, write_tiny_model_dir
    from skywork.tokenizer import load

    _require_vllm()
    root = tmp_path_factory.mktemp("trained")
    tokenizer_dir = build_tiny_tokenizer(root / "tok", vocab_size=1000)
    tokenizer = load(tokenizer_dir)
    torch.manual_seed(0)
    model = build_tiny_model(
        vocab_size=len(tokenizer), hidden_size=128, num_attention_heads=2, num_key_value_heads=2
    )
    ids = torch.tensor([tokenizer(PARAGRAPH * 3)["input_ids"][:192]])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(60):
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    assert loss.item() < 0.5, f"the tiny model did not fit the paragraph (loss {loss.item():.2f})"
    return write_tiny_model_dir(root / "model", model, tokenizer_dir), tokenizer


def _serve(model_dir, root, quantize=None):
    prepared = prepare_vllm_dir(model_dir, cache_root=root / "cache", quantize=quantize)
    return VLLMServer(
        prepared,
        served_model_name=MODEL,
        port=0,
        max_model_len=256,
        kvcache_gib=1,
        log_path=root / f"vllm-{quantize or 'bf16'}.log",
        extra_args=["--enforce-eager"],
    )


def _client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key="none", max_retries=0, timeout=120)


def _our_logprobs(model_dir, tokenizer, prompt: str, continuation_ids: list[int]) -> torch.Tensor:
    """Log-probabilities our fp32 model gives the continuation's tokens after the prompt (teacher-forced)."""
    from skywork.model import load_model

    model = load_model(model_dir, dtype="fp32")
    prompt_ids = tokenizer(prompt)["input_ids"]
    ids = torch.tensor([prompt_ids + continuation_ids])
    with torch.no_grad():
        logp = model(input_ids=ids).logits[0].float().log_softmax(-1)
    start = len(prompt_ids) - 1
    return logp[start : start + len(continuation_ids)].gather(1, torch.tensor(continuation_ids)[:, None])[
        :, 0
    ]


def test_vllm_greedy_equals_skywork_generate(trained_model, tmp_path_factory):
    from typer.testing import CliRunner

    from skywork.cli import app

    model_dir, _ = trained_model
    result = CliRunner().invoke(
        app, ["generate", str(model_dir), "-p", PROMPT, "--greedy", "--max-new-tokens", str(NEW_TOKENS)]
    )
    assert result.exit_code == 0, result.output
    reference = result.stdout.removeprefix(PROMPT).removesuffix("\n")
    assert reference.strip(), "the trained model should continue its paragraph"
    with _serve(model_dir, tmp_path_factory.mktemp("vllm-bf16")) as server:
        # temperature 0; the prepared generation config carries the official repetition_penalty, as --greedy keeps
        out = _client(server).completions.create(
            model=MODEL, prompt=PROMPT, max_tokens=NEW_TOKENS, temperature=0.0
        )
    assert out.choices[0].text == reference


def test_vllm_serves_the_w8a8_int8_copy_close_to_bf16(trained_model, tmp_path_factory):
    model_dir, tokenizer = trained_model
    root = tmp_path_factory.mktemp("vllm-int8")
    with _serve(model_dir, root, quantize="int8") as server:
        out = _client(server).completions.create(
            model=MODEL,
            prompt=PROMPT,
            max_tokens=NEW_TOKENS,
            temperature=0.0,
            logprobs=0,
            extra_body={"ignore_eos": True, "repetition_penalty": 1.0, "return_tokens_as_token_ids": True},
        )
        log = server.log_path.read_text(encoding="utf-8", errors="replace")
    assert "W8A8Int8" in log or "Int8ScaledMM" in log, "vLLM did not report an int8 linear kernel"
    choice = out.choices[0]
    assert out.usage.completion_tokens == NEW_TOKENS
    served_logprobs = torch.tensor(choice.logprobs.token_logprobs)
    continuation = [int(t.removeprefix("token_id:")) for t in choice.logprobs.tokens]  # vLLM's own ids
    ours = _our_logprobs(model_dir, tokenizer, PROMPT, continuation)
    # the int8 model's greedy choices are ones our fp32 model also finds likely, with about the same confidence
    assert ours.mean().item() > -1.0, ours
    assert (served_logprobs - ours).abs().mean().item() < 0.25, (served_logprobs, ours)
