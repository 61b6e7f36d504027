"""Export a Skywork checkpoint as a plain LLaMA one (``model_type: llama``) that any LLaMA tool accepts."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import GenerationConfig, LlamaConfig

from skywork.model.checkpoint import save_model_dir
from skywork.model.loading import load_model
from skywork.utils.io import atomic_dir, atomic_write_json

# Config keys that tie a directory to the Skywork classes (or to the run that wrote it); a LLaMA export drops them.
_SKYWORK_ONLY_KEYS = ("model_type", "architectures", "auto_map", "_name_or_path", "transformers_version")
# transformers' save_pretrained default, which exports have always used: a 13B bf16 export is one file.
EXPORT_SHARD_BYTES = 50 * 10**9


def export_llama(src: str | Path, out: str | Path, dtype: torch.dtype | None = None) -> Path:
    """Write ``out`` with LlamaForCausalLM weights (safetensors), a llama config and the tokenizer files."""
    src, out = Path(src), Path(out)
    model = load_model(src, dtype=dtype)
    config_dict = model.config.to_dict()
    for key in _SKYWORK_ONLY_KEYS:
        config_dict.pop(key, None)
    llama_config = LlamaConfig(**config_dict)
    with atomic_dir(out) as tmp:
        save_model_dir(
            tmp,
            llama_config,
            model.state_dict(),
            architecture="LlamaForCausalLM",
            tokenizer_dir=src,
            generation_config=GenerationConfig.from_model_config(llama_config),
            max_shard_bytes=EXPORT_SHARD_BYTES,
        )
        _retarget_tokenizer_config(tmp)
        _keep_legacy_rope_keys(tmp, llama_config)
    return out


def _keep_legacy_rope_keys(model_dir: Path, config: LlamaConfig) -> None:
    """A scaled RoPE (``skywork longctx extend``) also as ``rope_scaling`` + top-level ``rope_theta``: tools
    that predate transformers 5's ``rope_parameters`` (and transformers 4.x) then run the same positions."""
    from skywork.longctx.rope import legacy_rope_keys

    if not getattr(config, "longctx_extension", None) and legacy_rope_keys(config)["rope_scaling"] is None:
        return
    path = model_dir / "config.json"
    atomic_write_json(path, {**json.loads(path.read_text()), **legacy_rope_keys(config)})


def _retarget_tokenizer_config(model_dir: Path) -> None:
    """Point the copied tokenizer config at transformers' own LLaMA tokenizer (no remote code, no auto_map)."""
    cfg_path = model_dir / "tokenizer_config.json"
    if cfg_path.exists():
        cfg = json.loads(cfg_path.read_text())
        cfg.pop("auto_map", None)
        cfg["tokenizer_class"] = "LlamaTokenizer"
        atomic_write_json(cfg_path, cfg)
