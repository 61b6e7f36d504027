"""The vLLM-ready directory and the security defaults, without starting vLLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skywork.cli import app
from skywork.serve.prepare import prepare_vllm_dir
from skywork.serve.vllm import ServeError, VLLMServer, check_exposure, is_loopback
from skywork.tokenizer.chat import encode_chat


def test_prepared_dir_is_plain_llama_with_official_defaults(served_model, tmp_path):
    model_dir, tokenizer = served_model
    out = prepare_vllm_dir(model_dir, cache_root=tmp_path)
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["LlamaForCausalLM"] and config["model_type"] == "llama"
    generation = json.loads((out / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("[SEP]")]
    assert (generation["temperature"], generation["top_p"], generation["top_k"]) == (0.95, 0.8, 5)
    assert generation["repetition_penalty"] == 1.1 and generation["do_sample"] is True
    assert (
        json.loads((out / "tokenizer_config.json").read_text())["tokenizer_class"]
        == "PreTrainedTokenizerFast"
    )


def test_prepared_tokenizer_renders_chat_as_encode_chat(served_model, tmp_path):
    from transformers import AutoTokenizer

    model_dir, tokenizer = served_model
    written = AutoTokenizer.from_pretrained(prepare_vllm_dir(model_dir, cache_root=tmp_path))
    messages = [{"role": "user", "content": "  hello [there]  "}, {"role": "assistant", "content": "hi"}]
    messages.append({"role": "user", "content": "写一首诗"})
    rendered = written.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert written.encode(rendered, add_special_tokens=False) == encode_chat(tokenizer, messages)
    assert written.encode("plain text 123") == tokenizer.encode("plain text 123")


def test_prepared_dir_is_cached_by_source_digest(served_model, tmp_path):
    model_dir, _ = served_model
    first = prepare_vllm_dir(model_dir, cache_root=tmp_path)
    stamp = (first / "model.safetensors").stat().st_mtime_ns
    assert prepare_vllm_dir(model_dir, cache_root=tmp_path) == first
    assert (first / "model.safetensors").stat().st_mtime_ns == stamp


def test_non_loopback_host_needs_an_api_key():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    check_exposure("127.0.0.1", None)
    check_exposure("0.0.0.0", "secret")
    with pytest.raises(ServeError, match="API key"):
        check_exposure("0.0.0.0", None)
    with pytest.raises(ServeError, match="API key"):
        VLLMServer(Path("unused"), "x", host="0.0.0.0").start()  # refused before anything starts


def test_cli_refuses_exposed_host_without_a_key(served_model):
    model_dir, _ = served_model
    runner = CliRunner(env={"COLUMNS": "400", "SKYWORK_API_KEY": ""})
    for engine in ("vllm", "builtin"):  # refused before anything loads or starts
        result = runner.invoke(app, ["serve", str(model_dir), "--host", "0.0.0.0", "--engine", engine])
        assert result.exit_code == 2 and "API key" in result.output, result.output
    result = runner.invoke(app, ["serve", str(model_dir), "--engine", "vllm", "--quantize", "int8"])
    assert result.exit_code == 2 and "builtin" in result.output, result.output


def test_auto_engine_is_vllm_when_its_environment_exists(tmp_path, monkeypatch):
    from skywork.serve.cli import resolve_engine

    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    monkeypatch.setenv("SKYWORK_VLLM_VENV", str(venv))
    assert resolve_engine("auto") == "vllm"
    assert resolve_engine("builtin") == "builtin"


def test_a_server_that_dies_is_reported_with_its_log(tmp_path):
    import sys

    (tmp_path / "config.json").write_text(json.dumps({"max_position_embeddings": 128}))
    # The project's python has no vLLM: the process exits at once with an import error.
    server = VLLMServer(tmp_path, "x", port=0, python=Path(sys.executable), log_path=tmp_path / "log")
    with pytest.raises(ServeError, match="exited with status") as err:
        server.start()
    assert "vllm" in str(err.value) and server.process is None
