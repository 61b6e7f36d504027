"""The vLLM-ready directory and the security defaults, without starting vLLM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from skywork.cli import app
from skywork.serve.prepare import prepare_vllm_dir
from skywork.serve.vllm import ServeError, VLLMServer, check_exposure, check_extra_args, is_loopback
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


def test_extra_vllm_args_cannot_override_managed_flags(served_model):
    assert check_extra_args(["--stream-interval=4", "--max-num-seqs", "64"]) == [
        "--stream-interval=4", "--max-num-seqs", "64",
    ]  # fmt: skip
    bad = (
        "--host=0.0.0.0",
        "--trust-remote-code",
        "--trust_remote_code",
        "--port=9",
        "--hos=0.0.0.0",
        "--trust-rem",
    )
    for arg in (
        *bad,
        "--host 0.0.0.0",
    ):  # abbreviations argparse would expand, and a flag with its value in one
        with pytest.raises(ServeError, match="not accepted"):
            check_extra_args([arg])
    model_dir, _ = served_model
    runner = CliRunner(env={"COLUMNS": "400", "SKYWORK_API_KEY": ""})
    result = runner.invoke(app, ["serve", str(model_dir), "--engine", "vllm", "--vllm-arg=--host=0.0.0.0"])
    assert result.exit_code == 2 and "not accepted" in result.output, result.output
    result = runner.invoke(
        app, ["serve", str(model_dir), "--engine", "builtin", "--vllm-arg=--max-num-seqs=8"]
    )
    assert result.exit_code == 2 and "needs the vllm engine" in result.output, result.output


def test_cli_refuses_exposed_host_without_a_key(served_model, tmp_path):
    from skywork.model.quantize import quantize_checkpoint

    model_dir, _ = served_model
    runner = CliRunner(env={"COLUMNS": "400", "SKYWORK_API_KEY": ""})
    for engine in ("vllm", "builtin"):  # refused before anything loads or starts
        result = runner.invoke(app, ["serve", str(model_dir), "--host", "0.0.0.0", "--engine", engine])
        assert result.exit_code == 2 and "API key" in result.output, result.output
    # vLLM serves a W8A8 copy of the bf16 source (--quantize int8), not our weight-only int8 directory
    ours = quantize_checkpoint(model_dir, tmp_path / "int8")
    result = runner.invoke(app, ["serve", str(ours), "--engine", "vllm", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 2 and "builtin engine only" in result.output, result.output


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


def test_w8a8_copy_is_compressed_tensors_int8_per_channel(served_model, tmp_path):
    from safetensors.torch import load_file

    from skywork.model.checkpoint import weight_files

    model_dir, _ = served_model
    plain = prepare_vllm_dir(model_dir, cache_root=tmp_path)
    int8 = prepare_vllm_dir(model_dir, cache_root=tmp_path, quantize="int8")
    assert int8 != plain
    quant = json.loads((int8 / "config.json").read_text())["quantization_config"]
    assert (quant["quant_method"], quant["format"], quant["ignore"]) == (
        "compressed-tensors",
        "int-quantized",
        ["lm_head"],
    )
    group = quant["config_groups"]["group_0"]
    assert group["weights"]["strategy"] == "channel" and group["input_activations"]["dynamic"] is True
    reference = {k: v for f in weight_files(plain)[1] for k, v in load_file(str(f)).items()}
    written = {k: v for f in weight_files(int8)[1] for k, v in load_file(str(f)).items()}
    name = "model.layers.0.mlp.down_proj"
    weight, scale = written[f"{name}.weight"], written[f"{name}.weight_scale"]
    assert weight.dtype == torch.int8 and scale.shape == (weight.shape[0], 1)
    original = reference[f"{name}.weight"].float()
    assert (
        (weight.float() * scale.float() - original).abs() <= original.abs().amax(1, keepdim=True) / 127 + 1e-3
    ).all()
    assert written["lm_head.weight"].dtype == reference["lm_head.weight"].dtype == torch.bfloat16
    assert f"{'model.layers.0.input_layernorm'}.weight_scale" not in written


def test_vllm_refuses_our_int8_directory_with_the_reason(served_model, tmp_path):
    from skywork.model.quantize import quantize_checkpoint
    from skywork.serve.prepare import PrepareError

    ours = quantize_checkpoint(served_model[0], tmp_path / "int8")
    with pytest.raises(PrepareError, match="builtin engine only"):
        prepare_vllm_dir(ours, cache_root=tmp_path / "cache")
