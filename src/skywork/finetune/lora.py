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
    """Refuse QLoRA where it cannot run (bitsandbytes' 8/4-bit kernels are CUDA only), before loading anything."""
    if quantize == "none":
        return
    if device.type != "cuda":
        raise RuntimeError(
            f"lora.quantize: {quantize} (QLoRA) needs a CUDA GPU: bitsandbytes' 8/4-bit kernels do not run on "
            f"{device.type}. Set lora.quantize: none to train the LoRA adapter on a full-precision base."
        )
    require("bitsandbytes", "qlora", "QLoRA (lora.quantize)")


def quantization_config(quantize: str, compute_dtype: torch.dtype):
    """transformers' ``BitsAndBytesConfig``: LLM.int8() for 8bit; NF4 with double quantization for 4bit (the
    QLoRA paper's), computing in ``compute_dtype``. What the official train.py meant to pass (see docs)."""
    from transformers import BitsAndBytesConfig

    if quantize == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    if quantize == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute_dtype,
        )
    raise ValueError(f"lora.quantize: {quantize!r} is not none, 8bit or 4bit")


def load_quantized_base(
    base_dir: str | Path,
    quantize: str,
    device: torch.device,
    compute_dtype: torch.dtype = torch.bfloat16,
    attention: str = "sdpa",
    gradient_checkpointing: bool = False,
):
    """The frozen base of a QLoRA run: ``base_dir`` loaded in 8 or 4 bits on ``device`` (a CUDA GPU) and made
    ready for k-bit training (norms in fp32, input gradients on) by ``peft.prepare_model_for_kbit_training``."""
    check_quantization(quantize, device)
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    import skywork  # noqa: F401  (registers SkyworkConfig / SkyworkForCausalLM with the Auto classes)

    model = AutoModelForCausalLM.from_pretrained(
        str(base_dir),
        quantization_config=quantization_config(quantize, compute_dtype),
        dtype=compute_dtype,
        device_map={"": device.index or 0},
        attn_implementation=attention,
        trust_remote_code=False,
    )
    model.config.use_cache = False
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=gradient_checkpointing)
    return model.train()


def keep_only_trainable_state(peft_model) -> None:
    """Make ``state_dict()`` hold the trained parameters only (adapter, ``modules_to_save``) and let
    ``load_state_dict`` accept that: for a QLoRA model, whose frozen 8/4-bit base is reloaded from ``init_from``
    and whose quantization-state entries (``weight.absmax``, ``SCB``, ...) the checkpoint code cannot map to
    parameters. Checkpoints and ``final/`` then carry the adapter state alone."""
    trainable = {name for name, p in peft_model.named_parameters() if p.requires_grad}

    def drop_frozen(module, state_dict, prefix, local_metadata) -> None:
        for key in list(state_dict):
            if key[len(prefix) :] not in trainable:
                del state_dict[key]

    def allow_missing_frozen(module, incompatible) -> None:
        incompatible.missing_keys[:] = [k for k in incompatible.missing_keys if k in trainable]

    peft_model.register_state_dict_post_hook(drop_frozen)
    peft_model.register_load_state_dict_post_hook(allow_missing_frozen)


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
