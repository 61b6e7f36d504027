"""RoPE scaling: every method loads back, matches transformers' LLaMA with the same rope config, reaches past the
original length, and survives the plain-LLaMA export."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
from typer.testing import CliRunner

from skywork.cli import app
from skywork.longctx.rope import METHODS, extend_config, extend_model_dir, ntk_theta
from skywork.model import load_model, save_model_dir
from skywork.model.export import export_llama
from skywork.testing import build_tiny_model

VOCAB, ORIGINAL, FACTOR = 300, 64, 4


@pytest.fixture(scope="module")
def base_dir(tmp_path_factory):
    model = build_tiny_model(vocab_size=VOCAB, max_position_embeddings=ORIGINAL)
    out = tmp_path_factory.mktemp("base") / "model"
    save_model_dir(out, model.config, model.state_dict(), architecture="SkyworkForCausalLM")
    return out


def _llama_twin(model) -> LlamaForCausalLM:
    """transformers' own LlamaForCausalLM built from the same config dict and weights."""
    data = model.config.to_dict()
    for key in ("model_type", "architectures", "longctx_extension"):
        data.pop(key, None)
    twin = LlamaForCausalLM(LlamaConfig(**data)).eval()
    twin.load_state_dict(model.state_dict())
    return twin


@pytest.mark.parametrize("method", METHODS)
def test_each_method_loads_back_and_matches_transformers_llama(tmp_path, base_dir, method):
    out = extend_model_dir(base_dir, tmp_path / method, FACTOR, method)
    config = json.loads((out / "config.json").read_text())
    assert config["longctx_extension"] == {"method": method, "factor": 4.0, "original_length": ORIGINAL}
    assert config["max_position_embeddings"] == (ORIGINAL if method == "dynamic" else ORIGINAL * FACTOR)
    model = load_model(out)
    expected_type = "default" if method == "ntk" else method
    assert model.config.rope_parameters["rope_type"] == expected_type
    ids = torch.randint(0, VOCAB, (2, ORIGINAL * FACTOR))  # 4x the trained length
    with torch.no_grad():
        ours = model(ids).logits
        theirs = _llama_twin(model)(ids).logits
    assert torch.isfinite(ours).all()
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("method", METHODS)
def test_scaling_changes_positions_beyond_the_original_length(tmp_path, base_dir, method):
    base = load_model(base_dir)
    out = extend_model_dir(base_dir, tmp_path / method, FACTOR, method)
    ids = torch.randint(0, VOCAB, (1, ORIGINAL * 2))
    with torch.no_grad():
        before, after = base(ids).logits, load_model(out)(ids).logits
    assert not torch.allclose(before[:, ORIGINAL:], after[:, ORIGINAL:])
    if method == "dynamic":  # dynamic NTK leaves sequences within the original length alone
        short = ids[:, :ORIGINAL]
        with torch.no_grad():
            assert torch.equal(base(short).logits, load_model(out)(short).logits)


def test_linear_interpolation_maps_position_p_to_p_over_factor(base_dir):
    base = load_model(base_dir)
    config = extend_config(base.config, FACTOR, "linear")
    rotary_base = base.model.rotary_emb
    rotary_ext = type(rotary_base)(config)
    x = torch.zeros(1, dtype=torch.float32)
    positions = torch.arange(0, ORIGINAL)[None]
    cos_ext, sin_ext = rotary_ext(x, positions * FACTOR)
    cos_base, sin_base = rotary_base(x, positions)
    assert torch.allclose(cos_ext, cos_base, atol=1e-5) and torch.allclose(sin_ext, sin_base, atol=1e-5)


def test_ntk_base_change_slows_the_lowest_frequency_by_the_factor():
    head_dim, theta = 16, 10000.0
    new = ntk_theta(theta, FACTOR, head_dim)
    lowest = (head_dim - 2) / head_dim
    assert (theta**-lowest) / (new**-lowest) == pytest.approx(FACTOR)


@pytest.mark.parametrize("method", ["yarn", "linear", "ntk", "dynamic"])
def test_export_to_plain_llama_keeps_the_scaling(tmp_path, base_dir, method):
    extended = extend_model_dir(base_dir, tmp_path / method, FACTOR, method)
    exported = export_llama(extended, tmp_path / "llama")
    config = json.loads((exported / "config.json").read_text())
    source = json.loads((extended / "config.json").read_text())
    assert config["model_type"] == "llama"
    for key in ("rope_parameters", "rope_scaling", "rope_theta", "max_position_embeddings"):
        assert config[key] == source[key], key  # both spellings survive the export
    if method == "yarn":
        assert config["rope_scaling"]["rope_type"] == "yarn" and config["rope_scaling"]["factor"] == 4.0
        assert config["max_position_embeddings"] == ORIGINAL * FACTOR
    llama = AutoModelForCausalLM.from_pretrained(exported)
    assert type(llama) is LlamaForCausalLM
    ids = torch.randint(0, VOCAB, (1, ORIGINAL * FACTOR))
    with torch.no_grad():
        assert torch.equal(llama(ids).logits, load_model(extended)(ids).logits)


def test_legacy_keys_are_written_for_older_tools(tmp_path, base_dir):
    config = json.loads(
        (extend_model_dir(base_dir, tmp_path / "lin", 2, "linear") / "config.json").read_text()
    )
    assert config["rope_scaling"] == {"rope_type": "linear", "factor": 2.0}
    assert config["rope_theta"] == 10000.0
    ntk = json.loads((extend_model_dir(base_dir, tmp_path / "ntk", 2, "ntk") / "config.json").read_text())
    assert ntk["rope_scaling"] is None and ntk["rope_theta"] == pytest.approx(ntk_theta(1e4, 2, 16))


def test_refuses_bad_requests(tmp_path, base_dir):
    with pytest.raises(ValueError, match="unknown RoPE"):
        extend_model_dir(base_dir, tmp_path / "x", 2, "rerope")
    with pytest.raises(ValueError, match=">= 1"):
        extend_model_dir(base_dir, tmp_path / "x", 0.5, "linear")
    once = extend_model_dir(base_dir, tmp_path / "once", 2, "ntk")
    with pytest.raises(ValueError, match="already extended"):
        extend_model_dir(once, tmp_path / "twice", 2, "linear")
    assert not (tmp_path / "x").exists() and not (tmp_path / "twice").exists()


def test_cli_extend(tmp_path, base_dir):
    out = tmp_path / "cli"
    args = ["longctx", "extend", str(base_dir), "-o", str(out), "--factor", "8", "--method", "yarn"]
    result = CliRunner().invoke(app, [*args, "--original-length", "32"])
    assert result.exit_code == 0, result.output
    config = json.loads((out / "config.json").read_text())
    assert config["rope_parameters"]["original_max_position_embeddings"] == 32
    assert config["max_position_embeddings"] == 256
    assert (out / "model.safetensors").read_bytes() == (base_dir / "model.safetensors").read_bytes()
    bad = CliRunner().invoke(app, [*args[:-1], "bogus"])
    assert bad.exit_code == 2 and "unknown RoPE" in bad.output
