import torch
from typer.testing import CliRunner

from skywork.cli import app
from skywork.inference import SamplingParams
from skywork.inference.generation import ChatSession, generate_text
from skywork.testing import build_tiny_model


def test_greedy_generation_with_and_without_kv_cache_agree(tiny_tokenizer):
    model = build_tiny_model(vocab_size=len(tiny_tokenizer))
    ids = torch.tensor([tiny_tokenizer.encode("def main():")])
    kwargs = dict(
        do_sample=False,
        max_new_tokens=20,
        pad_token_id=0,
        eos_token_id=None,
        attention_mask=torch.ones_like(ids),
    )
    with torch.no_grad():
        cached = model.generate(ids, use_cache=True, **kwargs)
        uncached = model.generate(ids, use_cache=False, **kwargs)
    assert cached.shape[1] == ids.shape[1] + 20
    assert torch.equal(cached, uncached)


def test_streaming_and_chat_session(tiny_tokenizer):
    model = build_tiny_model(vocab_size=len(tiny_tokenizer))
    sampling = SamplingParams.official_demo(max_new_tokens=12, temperature=0.0)
    pieces = list(generate_text(model, tiny_tokenizer, "import os", sampling))
    assert pieces and "".join(pieces)
    session = ChatSession(model, tiny_tokenizer, SamplingParams.official_demo(max_new_tokens=8, seed=0))
    reply = "".join(session.send("你好"))
    assert session.messages[-1] == {"role": "assistant", "content": reply.strip()}
    session.reset()
    assert session.messages == []


def test_cli_info_and_generate(tmp_path, tiny_tokenizer_dir):
    runner = CliRunner()
    result = runner.invoke(app, ["info", "skywork-13b", "--json"])
    assert result.exit_code == 0, result.output
    assert '"params": 13854113280' in result.output
    model = build_tiny_model(vocab_size=1003)
    model.save_pretrained(tmp_path / "m")
    for f in ("tokenizer.model", "tokenizer_config.json"):
        (tmp_path / "m" / f).write_bytes((tiny_tokenizer_dir / f).read_bytes())
    result = runner.invoke(
        app, ["generate", str(tmp_path / "m"), "--prompt", "hello", "--greedy", "--max-new-tokens", "5"]
    )
    assert result.exit_code == 0, result.output
    assert "hello" in result.output
    result = runner.invoke(
        app, ["chat", str(tmp_path / "m"), "--greedy", "--max-new-tokens", "4"], input="hi\n/reset\n/exit\n"
    )
    assert result.exit_code == 0, result.output
    assert "bot> " in result.output and "conversation cleared" in result.output
