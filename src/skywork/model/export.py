"""Export a Skywork checkpoint as a plain LLaMA one (``model_type: llama``) that any LLaMA tool accepts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from skywork.model.loading import load_model
from skywork.utils.io import atomic_dir, atomic_write_json

TOKENIZER_FILES = ("tokenizer.model", "tokenizer.json", "special_tokens_map.json", "chat_template.jinja")


def export_llama(src: str | Path, out: str | Path, dtype: torch.dtype | None = None) -> Path:
    """Write ``out`` with LlamaForCausalLM weights (safetensors), a llama config and the tokenizer files."""
    src, out = Path(src), Path(out)
    model = load_model(src, dtype=dtype)
    config_dict = model.config.to_dict()
    for key in ("model_type", "architectures", "auto_map", "_name_or_path", "transformers_version"):
        config_dict.pop(key, None)
    llama_config = LlamaConfig(**config_dict)
    llama_config.architectures = ["LlamaForCausalLM"]
    with torch.device("meta"):
        llama = LlamaForCausalLM(llama_config)
    llama.load_state_dict(model.state_dict(), assign=True)
    with atomic_dir(out) as tmp:
        llama.save_pretrained(tmp, safe_serialization=True)
        _copy_tokenizer(src, tmp)
    return out


def _copy_tokenizer(src: Path, dst: Path) -> None:
    """Copy tokenizer files, retargeting the config at transformers' own LLaMA tokenizer (no remote code)."""
    for name in TOKENIZER_FILES:
        if (src / name).exists():
            shutil.copy2(src / name, dst / name)
    cfg_path = src / "tokenizer_config.json"
    if cfg_path.exists():
        cfg = json.loads(cfg_path.read_text())
        cfg.pop("auto_map", None)
        cfg["tokenizer_class"] = "LlamaTokenizer"
        atomic_write_json(dst / "tokenizer_config.json", cfg)
