"""Skywork configuration and the named presets (the one place model shapes are defined)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from transformers import LlamaConfig


class SkyworkConfig(LlamaConfig):
    """The released Skywork configuration: LLaMA's, under its own ``model_type`` so official dirs load natively."""

    model_type = "skywork"


@dataclass(frozen=True)
class Preset:
    """A named model shape plus the facts a config file does not hold."""

    description: str
    config: dict
    train_seq_len: int


_COMMON = dict(
    hidden_act="silu",
    tie_word_embeddings=False,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
    attention_bias=False,
    mlp_bias=False,
)

PRESETS: dict[str, Preset] = {
    # Exactly the released Skywork-13B config (spec 3.1); vocab 65519 = 65536 - 17 reserved not in the embedding.
    "skywork-13b": Preset(
        "Skywork-13B as released: 52 layers, hidden 4608, FFN 12288, 36 heads of 128",
        dict(
            _COMMON,
            vocab_size=65519,
            hidden_size=4608,
            intermediate_size=12288,
            num_hidden_layers=52,
            num_attention_heads=36,
            num_key_value_heads=36,
            rms_norm_eps=1e-6,
            rope_theta=10000.0,
            max_position_embeddings=131072,
            initializer_range=0.01,
        ),
        train_seq_len=4096,
    ),
    # LLaMA2-13B as released (the report's comparison; its Table 3 prints FFN 13,696, the checkpoint has 13,824).
    "llama2-13b": Preset(
        "LLaMA2-13B: 40 layers, hidden 5120, FFN 13824, 40 heads of 128",
        dict(
            _COMMON,
            vocab_size=32000,
            hidden_size=5120,
            intermediate_size=13824,
            num_hidden_layers=40,
            num_attention_heads=40,
            num_key_value_heads=40,
            rms_norm_eps=1e-5,
            rope_theta=10000.0,
            max_position_embeddings=4096,
            initializer_range=0.02,
            pad_token_id=None,
        ),
        train_seq_len=4096,
    ),
    # The CPU demo model: Skywork's deep-and-narrow shape scaled down (~40M parameters with a 16k vocabulary).
    "skywork-small": Preset(
        "CPU demo model: 8 layers, hidden 512, FFN 1408, 8 heads of 64",
        dict(
            _COMMON,
            vocab_size=16384,
            hidden_size=512,
            intermediate_size=1408,
            num_hidden_layers=8,
            num_attention_heads=8,
            num_key_value_heads=8,
            rms_norm_eps=1e-6,
            rope_theta=10000.0,
            max_position_embeddings=4096,
            initializer_range=0.02,
        ),
        train_seq_len=512,
    ),
    # For tests: a few layers, hidden 64, builds and runs in milliseconds.
    "skywork-tiny": Preset(
        "test model: 2 layers, hidden 64, FFN 128, 4 heads of 16",
        dict(
            _COMMON,
            vocab_size=512,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=4,
            rms_norm_eps=1e-6,
            rope_theta=10000.0,
            max_position_embeddings=2048,
            initializer_range=0.02,
        ),
        train_seq_len=128,
    ),
}


def make_config(preset: str, **overrides) -> SkyworkConfig:
    """A :class:`SkyworkConfig` from a preset name, with keyword overrides (e.g. ``vocab_size=len(tokenizer)``)."""
    if preset not in PRESETS:
        raise KeyError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    kwargs = dict(PRESETS[preset].config)
    kwargs.update(overrides)
    return SkyworkConfig(**kwargs)


def load_config(preset_or_dir: str | Path) -> SkyworkConfig | LlamaConfig:
    """A preset name or a model directory's ``config.json`` (skywork or llama) as a config object."""
    if str(preset_or_dir) in PRESETS:
        return make_config(str(preset_or_dir))
    path = Path(preset_or_dir)
    cfg_file = path / "config.json" if path.is_dir() else path
    if not cfg_file.exists():
        raise FileNotFoundError(
            f"{preset_or_dir}: neither a preset ({', '.join(PRESETS)}) nor a model directory"
        )
    data = json.loads(cfg_file.read_text())
    data.pop("auto_map", None)  # official dirs point at remote code; we never run it
    if data.get("model_type") == "llama":
        return LlamaConfig(**{k: v for k, v in data.items() if k != "model_type"})
    return SkyworkConfig(**{k: v for k, v in data.items() if k != "model_type"})
