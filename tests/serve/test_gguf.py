"""GGUF export: llama.cpp's layout (names, shapes, vocabulary) and the RoPE permutation of q/k."""

from __future__ import annotations

import pytest
import torch

from skywork.model.gguf import export_gguf, rotate_half_to_interleaved
from skywork.testing import build_tiny_model, write_tiny_model_dir

gguf = pytest.importorskip("gguf", reason="GGUF export needs the gguf extra: pip install 'skywork[gguf]'")


def _rope_rotate_half(x: torch.Tensor, pos: torch.Tensor, theta: float = 10000.0) -> torch.Tensor:
    half = x.shape[-1] // 2
    freqs = pos[:, None] * theta ** (-torch.arange(half, dtype=torch.float64) / half)
    cos, sin = torch.cat([freqs.cos()] * 2, -1), torch.cat([freqs.sin()] * 2, -1)
    rotated = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos + rotated * sin


def _rope_interleaved(x: torch.Tensor, pos: torch.Tensor, theta: float = 10000.0) -> torch.Tensor:
    half = x.shape[-1] // 2
    freqs = pos[:, None] * theta ** (-torch.arange(half, dtype=torch.float64) / half)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = even * freqs.cos() - odd * freqs.sin()
    out[..., 1::2] = even * freqs.sin() + odd * freqs.cos()
    return out


def test_permuted_q_k_give_the_same_attention_scores_under_ggml_rope():
    torch.manual_seed(0)
    heads, head_dim, hidden, seq = 2, 16, 32, 7
    wq, wk = (
        torch.randn(heads * head_dim, hidden, dtype=torch.float64),
        torch.randn(heads * head_dim, hidden, dtype=torch.float64),
    )
    x, pos = torch.randn(seq, hidden, dtype=torch.float64), torch.arange(seq, dtype=torch.float64)

    def scores(q_weight, k_weight, rope):
        q = rope((x @ q_weight.T).reshape(seq, heads, head_dim).transpose(0, 1), pos)
        k = rope((x @ k_weight.T).reshape(seq, heads, head_dim).transpose(0, 1), pos)
        return q @ k.transpose(-1, -2)

    hf = scores(wq, wk, _rope_rotate_half)
    ggml = scores(
        rotate_half_to_interleaved(wq, heads), rotate_half_to_interleaved(wk, heads), _rope_interleaved
    )
    assert torch.allclose(hf, ggml, atol=1e-9)


@pytest.mark.parametrize("outtype", ["f16", "q8_0"])
def test_export_gguf_writes_the_llama_layout(tmp_path, tiny_tokenizer_dir, tiny_tokenizer, outtype):
    model = build_tiny_model(vocab_size=1008, hidden_size=128, num_attention_heads=2, num_key_value_heads=2)
    src = write_tiny_model_dir(tmp_path / "m", model, tiny_tokenizer_dir)
    reader = gguf.GGUFReader(str(export_gguf(src, tmp_path / "m.gguf", outtype=outtype)))
    fields = {name: reader.fields[name].contents() for name in reader.fields if not name.startswith("GGUF.")}
    assert fields["general.architecture"] == "llama"
    assert (fields["llama.block_count"], fields["llama.embedding_length"]) == (2, 128)
    assert (fields["llama.attention.head_count"], fields["llama.rope.dimension_count"]) == (2, 64)
    tokens = fields["tokenizer.ggml.tokens"]
    assert len(tokens) == 1008 and tokens[1:3] == ["<s>", "</s>"]
    assert tokens[1000:1003] == ["[USER]", "[BOT]", "[SEP]"]
    assert tokens[:1000] == [tiny_tokenizer.convert_ids_to_tokens(i) for i in range(1000)]
    tensors = {t.name: t for t in reader.tensors}
    assert len(tensors) == 3 + 9 * 2
    assert tensors["blk.1.ffn_down.weight"].shape.tolist() == [model.config.intermediate_size, 128]
    embedding = tensors["token_embd.weight"]
    if outtype == "f16":
        data = torch.from_numpy(embedding.data.copy()).float().reshape(1008, 128)
        assert torch.allclose(data, model.model.embed_tokens.weight, atol=1e-3)
    else:
        assert embedding.tensor_type == gguf.GGMLQuantizationType.Q8_0
        data = torch.from_numpy(gguf.quants.dequantize(embedding.data, embedding.tensor_type)).reshape(
            1008, 128
        )
        assert torch.allclose(data, model.model.embed_tokens.weight, atol=0.01)


def test_export_gguf_command(tmp_path, tiny_tokenizer_dir):
    from typer.testing import CliRunner

    from skywork.cli import app

    model = build_tiny_model(vocab_size=1008, hidden_size=128, num_attention_heads=2, num_key_value_heads=2)
    src = write_tiny_model_dir(tmp_path / "m", model, tiny_tokenizer_dir)
    result = CliRunner().invoke(
        app, ["export", "gguf", str(src), "-o", str(tmp_path / "m.gguf"), "--outtype", "q8_0"]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m.gguf").stat().st_size > 0


def _peaked_model(tokenizer):
    """A tiny model whose next-token logits are far apart, so f16 (llama.cpp) and fp32 argmaxes agree."""
    model = build_tiny_model(
        vocab_size=len(tokenizer), hidden_size=128, num_attention_heads=2, num_key_value_heads=2
    )
    with torch.no_grad():
        model.lm_head.weight.mul_(40.0)
    return model


@pytest.mark.slow
def test_llama_cpp_logits_and_greedy_tokens_equal_ours(tmp_path, tiny_tokenizer_dir):
    """Load the exported file in llama.cpp (llama-cpp-python, `make gguf-setup`): same ids, logits, greedy tokens.

    Logits agree to f16 precision (measured: 0.02 at a spread of 9), so greedy tokens must agree wherever our
    top-two margin is clearly larger than that; at a near-tie (0.05 was seen) f16 rounding may pick either token,
    and the comparison stops there.
    """
    import numpy as np

    llama_cpp = pytest.importorskip(
        "llama_cpp", reason="llama-cpp-python is not installed (`make gguf-setup` builds llama.cpp: minutes)"
    )
    from skywork.tokenizer import load

    tokenizer = load(tiny_tokenizer_dir)
    model = _peaked_model(tokenizer)
    src = write_tiny_model_dir(tmp_path / "m", model, tiny_tokenizer_dir)
    path = export_gguf(src, tmp_path / "m.gguf", outtype="f16")
    llm = llama_cpp.Llama(str(path), n_ctx=128, n_threads=1, verbose=False, logits_all=True)
    compared = 0
    try:
        for prompt in ("Hello world", "def f(x):\n    return", "今天天气很好", "[USER]hi[SEP][BOT]"):
            ids = tokenizer(prompt)["input_ids"]
            # the same vocabulary: llama.cpp's tokenizer (from the GGUF file) gives our ids, markers included
            assert llm.tokenize(prompt.encode(), add_bos=True, special=True) == ids, prompt
            llm.reset()
            llm.eval(ids)
            with torch.no_grad():
                ours = model(torch.tensor([ids])).logits[0].numpy()
            theirs = np.asarray(llm.scores[: len(ids)])
            assert np.abs(theirs - ours).max() < 0.01 * ours.std() + 0.05, prompt
            # greedy decoding, step by step on both sides
            sequence = list(ids)
            for _ in range(8):
                with torch.no_grad():
                    logits = model(torch.tensor([sequence])).logits[0, -1]
                top2 = logits.topk(2)
                llm.reset()
                theirs_next = next(llm.generate(sequence, top_k=1, top_p=1.0, temp=0.0, repeat_penalty=1.0))
                if float(top2.values[0] - top2.values[1]) < 0.25:
                    break  # a near-tie: either token is right at f16
                assert theirs_next == int(top2.indices[0]), (prompt, len(sequence) - len(ids))
                sequence.append(theirs_next)
                compared += 1
    finally:
        llm.close()
    assert compared >= 12  # most steps have clear margins: the check is not vacuous
