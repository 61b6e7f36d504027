"""int8 weight-only checkpoints: they reload, stay int8 in memory, and change logits only a little."""

from __future__ import annotations

import json
import re

import pytest
import torch
from typer.testing import CliRunner

from skywork.cli import app
from skywork.model.config import make_config
from skywork.model.quantize import (
    OFFICIAL_13B_GIB,
    Int8Linear,
    load_quantized,
    measured_row,
    memory_row,
    quantize_model,
    weight_bytes,
)
from skywork.testing import build_tiny_model, write_tiny_model_dir


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory, tiny_tokenizer_dir):
    model = build_tiny_model(vocab_size=1000)
    out = tmp_path_factory.mktemp("q") / "src"
    write_tiny_model_dir(out, model, tiny_tokenizer_dir)
    return out, model


def test_quantize_command_writes_a_checkpoint_that_reloads(source_dir, tmp_path):
    src, model = source_dir
    result = CliRunner().invoke(app, ["quantize", str(src), "-o", str(tmp_path / "int8"), "--method", "int8"])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "int8" / "config.json").read_text())
    assert config["quantization_config"]["quant_method"] == "skywork-int8-weight-only"
    assert (tmp_path / "int8" / "tokenizer.model").exists()
    reloaded = load_quantized(tmp_path / "int8")
    layer = reloaded.model.layers[0].mlp.down_proj
    assert isinstance(layer, Int8Linear) and layer.weight.dtype == torch.int8
    assert not isinstance(reloaded.lm_head, Int8Linear)
    ids = torch.randint(0, 1000, (2, 11))
    with torch.no_grad():
        reference = model.to(torch.bfloat16)(ids).logits.float()
        quantized = reloaded(ids).logits.float()
    assert (quantized - reference).abs().max() < 0.05 * reference.abs().max()


def test_transformers_refuses_the_int8_directory_instead_of_loading_garbage(source_dir, tmp_path):
    from skywork.model.loading import load_model
    from skywork.model.quantize import quantize_checkpoint

    out = quantize_checkpoint(source_dir[0], tmp_path / "int8")
    with pytest.raises(Exception):  # noqa: B017 (transformers' own error for an unknown quant_method)
        load_model(out)


def test_int8_matmul_matches_dequantized_weights():
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 96, bias=True)
    layer = Int8Linear.from_linear(linear)
    x = torch.randn(3, 5, 64, dtype=torch.bfloat16)
    expected = torch.nn.functional.linear(x.float(), layer.dequantized(torch.float32), layer.bias.float())
    assert torch.allclose(layer(x).float(), expected, atol=0.05, rtol=0.02)
    assert (layer.dequantized(torch.float32) - linear.weight).abs().max() <= linear.weight.abs().max() / 127


def test_int8_kernel_for_few_rows_and_dequantized_bf16_matmul_for_many_agree():
    from skywork.model.quantize import INT8_KERNEL_MAX_ROWS

    torch.manual_seed(0)
    layer = Int8Linear.from_linear(torch.nn.Linear(64, 96, bias=False))
    x = torch.randn(INT8_KERNEL_MAX_ROWS + 8, 64, dtype=torch.bfloat16)
    many = layer(x).float()  # dequantize-and-matmul (bf16)
    assert torch.equal(many, torch.nn.functional.linear(x, layer.dequantized(torch.bfloat16)).float())
    few = torch.cat([layer(chunk) for chunk in x.split(4)]).float()  # the int8 kernel, 4 rows at a time
    assert torch.allclose(few, many, atol=0.05, rtol=0.02)


def test_memory_table_13b_matches_the_official_readme():
    row = memory_row(make_config("skywork-13b"), "skywork-13b")
    # Weights only; the README's numbers include the runtime's ~0.1 GiB.
    assert row["bf16_gib"] == pytest.approx(OFFICIAL_13B_GIB["bf16"], abs=0.2)
    assert row["int8_gib"] == pytest.approx(OFFICIAL_13B_GIB["int8"], abs=0.2)
    assert row["ratio"] < 0.55


def test_measured_weight_memory_of_a_real_model_equals_the_meta_count():
    model = build_tiny_model(vocab_size=1000)
    assert measured_row(model, "tiny") == memory_row(model.config, "tiny")
    quantized = quantize_model(build_tiny_model(vocab_size=1000))
    assert weight_bytes(quantized) < weight_bytes(build_tiny_model(vocab_size=1000).to(torch.bfloat16))


def test_int8_weights_match_torchao_int8_weight_only():
    quantization = pytest.importorskip("torchao.quantization", reason="torchao is the quant extra")
    torch.manual_seed(0)
    linear = torch.nn.Linear(128, 96, bias=False).to(torch.bfloat16)
    ours = Int8Linear.from_linear(linear)
    wrapped = torch.nn.Sequential(torch.nn.Linear(128, 96, bias=False).to(torch.bfloat16))
    wrapped[0].weight.data.copy_(linear.weight.data)
    quantization.quantize_(wrapped, quantization.Int8WeightOnlyConfig())
    step = linear.weight.float().abs().amax(dim=1, keepdim=True) / 127
    theirs = wrapped[0].weight.dequantize().float()
    assert ((ours.dequantized(torch.float32) - theirs).abs() <= step * 1.01 + 1e-3).all()
    x = torch.randn(4, 128, dtype=torch.bfloat16)
    reference = torch.nn.functional.linear(x.float(), linear.weight.float())
    for out in (ours(x).float(), wrapped(x).float()):
        assert (out - reference).abs().max() < 0.02 * reference.abs().max() + 0.02


def test_generate_quantize_int8_equals_the_engine_on_the_int8_model(source_dir):
    from skywork.inference import GenerationEngine, SamplingParams
    from skywork.model.quantize import load_for_inference
    from skywork.tokenizer import load

    src, _ = source_dir
    args = ["generate", str(src), "-p", "The quick brown", "--greedy", "--max-new-tokens", "6"]
    result = CliRunner().invoke(app, args + ["--quantize", "int8"])
    assert result.exit_code == 0, result.output
    model = load_for_inference(src, quantize="int8")
    assert isinstance(model.model.layers[0].self_attn.q_proj, Int8Linear)
    tokenizer = load(src)
    params = SamplingParams(max_new_tokens=6, temperature=0.0, repetition_penalty=1.1)
    expected = "".join(
        GenerationEngine(model, tokenizer).stream("The quick brown", params, continuation=True)
    )
    assert result.stdout.rstrip("\n").endswith("The quick brown" + expected)
    bad = CliRunner().invoke(app, args + ["--quantize", "int4"])
    assert bad.exit_code != 0 and "unknown quantization 'int4'" in bad.output


def test_eval_loss_quantize_int8_online_and_from_an_int8_directory(source_dir, tmp_path):
    from skywork.model.quantize import quantize_checkpoint

    src, _ = source_dir
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"text": f"line {i} of some text to score"}) + "\n" for i in range(6)))
    losses = {}
    int8_dir = quantize_checkpoint(src, tmp_path / "int8")
    for label, model, extra in (
        ("fp32", src, []),
        ("online", src, ["--quantize", "int8"]),
        ("dir", int8_dir, []),
    ):
        out = tmp_path / f"{label}.json"
        result = CliRunner().invoke(
            app, ["eval", "loss", str(model), "-d", str(data), "-o", str(out), *extra]
        )
        assert result.exit_code == 0, result.output
        losses[label] = json.loads(out.read_text())["pooled"]["loss"]
    assert losses["online"] == pytest.approx(losses["dir"], rel=1e-6)
    assert losses["online"] != losses["fp32"] and losses["online"] == pytest.approx(losses["fp32"], rel=0.02)


def test_bnb_int8_is_refused_without_a_cuda_gpu_before_loading(source_dir, tmp_path):
    """bitsandbytes LLM.int8 (the official 8-bit mode) is CUDA only: online and offline refuse with the reason."""
    from skywork.model.quantize import load_for_inference

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is visible: bench/gpu.sh checks bnb-int8 there")
    src, _ = source_dir

    def message(result) -> str:  # the usage error's text without rich's box and line breaks
        return re.sub(r"[\s│╭╮╰╯─]+", " ", result.output)

    online = CliRunner().invoke(app, ["generate", str(src), "-p", "x", "--quantize", "bnb-int8"])
    assert online.exit_code == 2 and "needs a CUDA GPU" in message(online)
    offline = CliRunner().invoke(
        app, ["quantize", str(src), "-o", str(tmp_path / "q"), "--method", "bnb-int8"]
    )
    assert offline.exit_code == 2 and "needs a CUDA GPU" in message(offline)
    assert not (tmp_path / "q").exists()
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        load_for_inference(src, device="cpu", quantize="bnb-int8")
