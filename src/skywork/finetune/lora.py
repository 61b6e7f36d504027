"""LoRA adapters with PEFT: wrap a model for training, save the adapter in PEFT's format, merge it into the base.

The adapter directory is what ``peft.PeftModel.from_pretrained(base, ADAPTER)`` loads (``adapter_config.json``
+ ``adapter_model.safetensors``), plus the tokenizer files and chat template, and its
``base_model_name_or_path`` is the absolute base model directory, so ``skywork export merge-lora ADAPTER -o OUT``
needs nothing else. QLoRA (an 8- or 4-bit frozen base) needs bitsandbytes on a CUDA GPU; anywhere else it fails
with a message saying so before any weight is loaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from skywork.utils.optional import require

ADAPTER_CONFIG = "adapter_config.json"


def check_quantization(quantize: str, device: torch.device) -> None:
    """Refuse QLoRA where it cannot run: bitsandbytes 8/4-bit kernels are CUDA only."""
    if quantize == "none":
        return
    if device.type != "cuda":
        raise RuntimeError(
            f"lora.quantize: {quantize} (QLoRA) needs a CUDA GPU: bitsandbytes' 8/4-bit kernels do not run on "
            f"{device.type}. Set lora.quantize: none to train the LoRA adapter on a full-precision base."
        )
    require("bitsandbytes", "qlora", "QLoRA (lora.quantize)")
    raise NotImplementedError(
        "lora.quantize: loading the base in 8/4 bits is not wired into the loop yet; use lora.quantize: none"
    )


def apply_lora(model, lora, base_dir: str | Path | None = None):
    """``model`` wrapped by PEFT with the ``lora`` section's rank, alpha, dropout, targets and modules_to_save."""
    require("peft", "finetune", "LoRA")
    from peft import LoraConfig, get_peft_model

    targets = lora.target_modules
    config = LoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules="all-linear" if list(targets) == ["all-linear"] else list(targets),
        modules_to_save=list(lora.modules_to_save) or None,
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, config)
    if base_dir is not None:
        peft_model.peft_config["default"].base_model_name_or_path = str(Path(base_dir).resolve())
    return peft_model


def is_adapter_dir(path: str | Path) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file()


def save_adapter(out_dir: Path, peft_model, state_dict: dict | None = None) -> Path:
    """Write the adapter in PEFT's format (``state_dict``: the full PEFT state, e.g. gathered from FSDP)."""
    peft_model = getattr(peft_model, "module", peft_model)  # DDP
    peft_model.save_pretrained(str(out_dir), state_dict=state_dict, safe_serialization=True)
    return out_dir


def load_adapter_model(adapter_dir: str | Path, base_dir: str | Path | None = None, dtype=torch.float32):
    """Base model + adapter as a ``PeftModel`` (base from ``adapter_config.json`` unless ``base_dir``)."""
    require("peft", "finetune", "LoRA")
    from peft import PeftModel

    from skywork.model import load_model

    base_dir = (
        base_dir or json.loads((Path(adapter_dir) / ADAPTER_CONFIG).read_text())["base_model_name_or_path"]
    )
    base = load_model(base_dir, dtype=dtype)
    return PeftModel.from_pretrained(base, str(adapter_dir)).eval()


def merge_lora(adapter_dir: str | Path, out_dir: str | Path, base_dir: str | Path | None = None) -> Path:
    """Merge the adapter into its base (fp32) and write a plain model directory with the adapter's tokenizer."""
    from skywork.model.checkpoint import save_model_dir
    from skywork.utils.io import atomic_dir

    merged = load_adapter_model(adapter_dir, base_dir).merge_and_unload()
    tokenizer_dir = Path(adapter_dir)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        save_model_dir(
            tmp,
            merged.config,
            merged.state_dict(),
            architecture="SkyworkForCausalLM",
            tokenizer_dir=tokenizer_dir,
        )
    return out_dir
