import json

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

import skywork  # noqa: F401
from skywork.model import (
    CheckpointError,
    SkyworkConfig,
    SkyworkForCausalLM,
    load_model,
    make_config,
    model_stats,
)
from skywork.testing import build_tiny_model, write_official_checkpoint


def test_matches_transformers_llama_logits():
    model = build_tiny_model(vocab_size=300)
    llama = LlamaForCausalLM(
        LlamaConfig(**{k: v for k, v in model.config.to_dict().items() if k != "model_type"})
    )
    llama.load_state_dict(model.state_dict())
    llama.eval()
    ids = torch.randint(0, 300, (2, 17))
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, llama(ids).logits, atol=1e-5, rtol=0)


def test_13b_preset_is_the_released_config():
    cfg = make_config("skywork-13b")
    assert (cfg.num_hidden_layers, cfg.hidden_size, cfg.intermediate_size) == (52, 4608, 12288)
    assert (cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim) == (36, 36, 128)
    assert cfg.vocab_size == 65519 and cfg.max_position_embeddings == 131072
    assert cfg.rms_norm_eps == 1e-6 and cfg.rope_parameters["rope_theta"] == 10000.0
    assert (cfg.bos_token_id, cfg.eos_token_id, cfg.pad_token_id) == (1, 2, 0)
    assert cfg.tie_word_embeddings is False
    stats = model_stats(cfg)
    assert abs(stats.params / 1e9 - 13.85) < 0.01
    small = model_stats(make_config("skywork-small"))
    assert 10e6 < small.params < 100e6 and small.hidden % 64 == 0 and small.ffn % 64 == 0


@pytest.mark.parametrize("fmt", ["bin", "safetensors"])
def test_official_directory_loads_through_auto_classes(tmp_path, fmt):
    model = build_tiny_model(vocab_size=300)
    out = write_official_checkpoint(model, tmp_path / "official", fmt=fmt)
    index = "pytorch_model.bin.index.json" if fmt == "bin" else "model.safetensors.index.json"
    assert (out / index).exists(), "the test checkpoint must be sharded like the release"
    assert "auto_map" in json.loads((out / "config.json").read_text())
    assert isinstance(AutoConfig.from_pretrained(out), SkyworkConfig)
    loaded = AutoModelForCausalLM.from_pretrained(out)  # no trust_remote_code
    assert isinstance(loaded, SkyworkForCausalLM)
    ids = torch.randint(0, 300, (1, 11))
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).logits, model(ids).logits, atol=1e-6, rtol=0)


def test_truncated_shard_names_the_file(tmp_path):
    out = write_official_checkpoint(build_tiny_model(vocab_size=300), tmp_path / "m", fmt="bin")
    shard = sorted(out.glob("pytorch_model-*.bin"))[1]
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=shard.name):
        load_model(out)


def test_missing_shard_names_the_file(tmp_path):
    out = write_official_checkpoint(build_tiny_model(vocab_size=300), tmp_path / "m", fmt="safetensors")
    shard = sorted(out.glob("model-*.safetensors"))[-1]
    shard.unlink()
    with pytest.raises(CheckpointError, match=f"{shard.name}.*missing"):
        AutoModelForCausalLM.from_pretrained(out)


def test_wrong_shape_and_unknown_tensor_name_the_tensor(tmp_path):
    model = build_tiny_model(vocab_size=300)
    state = model.state_dict()
    state["model.layers.1.mlp.up_proj.weight"] = torch.zeros(3, 3)
    bad = SkyworkForCausalLM(model.config)
    out = write_official_checkpoint(bad, tmp_path / "shape", fmt="bin", max_shard_bytes=10**9)
    torch.save(state, out / "pytorch_model.bin")
    with pytest.raises(
        CheckpointError, match=r"model\.layers\.1\.mlp\.up_proj\.weight.*\[3, 3\].*\[128, 64\]"
    ):
        load_model(out)
    state = model.state_dict()
    state["model.layers.7.self_attn.q_proj.weight"] = torch.zeros(64, 64)
    torch.save(state, out / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match=r"pytorch_model\.bin.*unknown tensor 'model\.layers\.7"):
        load_model(out)


def test_bin_loading_is_weights_only(tmp_path):
    """A pickle that would run code is refused: .bin files go through torch.load(weights_only=True)."""
    out = write_official_checkpoint(
        build_tiny_model(vocab_size=300), tmp_path / "m", fmt="bin", max_shard_bytes=10**9
    )

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"model.embed_tokens.weight": Evil()}, out / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="pytorch_model.bin"):
        load_model(out)
