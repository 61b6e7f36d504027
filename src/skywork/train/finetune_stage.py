"""What SFT and CPT add around the one loop: the base model check, LoRA, and a ``final/`` with its tokenizer.

:func:`run_finetune_stage` is ``train(config, make_batches, resume, hooks)`` with :class:`StageHooks` that wrap the
model with a LoRA adapter (``lora.enabled``), save ``final/`` as a full model directory or as a PEFT adapter
directory, and in both cases copy the tokenizer files and write the chat template into ``tokenizer_config.json``,
so generation, chat, evaluation and serving use what training used.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import torch

from skywork.train.checkpoint import save_final
from skywork.train.loop import StageHooks, train
from skywork.utils.io import InputError, atomic_dir, atomic_write_json


def resolve_base(config) -> None:
    """Check ``model.init_from`` (required: fine-tuning starts from a model) and default the tokenizer to it."""
    base = config.model.init_from
    if not base:
        raise InputError(
            "model.init_from is required: the model directory to fine-tune", field="model.init_from"
        )
    if not Path(base, "config.json").is_file():
        raise InputError("not a model directory (no config.json)", base, field="model.init_from")
    if config.tokenizer is None:
        config.tokenizer = base


def save_chat_template(out_dir: Path, tokenizer_dir: Path) -> None:
    """Copy the tokenizer files and make sure ``tokenizer_config.json`` names the chat template."""
    from skywork.model.checkpoint import TOKENIZER_FILES
    from skywork.tokenizer import load

    for name in TOKENIZER_FILES:
        if (tokenizer_dir / name).exists() and not (out_dir / name).exists():
            (out_dir / name).write_bytes((tokenizer_dir / name).read_bytes())
    config_file = out_dir / "tokenizer_config.json"
    tokenizer_config = json.loads(config_file.read_text()) if config_file.exists() else {}
    if not tokenizer_config.get("chat_template"):
        tokenizer_config["chat_template"] = load(tokenizer_dir).chat_template
        atomic_write_json(config_file, tokenizer_config)


def save_finetuned(final_dir: Path, model, model_state: dict, model_config, tokenizer_dir: Path) -> None:
    """``final/``: a PEFT adapter directory (LoRA) or a full model directory, with tokenizer and chat template."""
    from skywork.finetune.lora import save_adapter

    inner = getattr(model, "module", model)
    if hasattr(inner, "peft_config"):
        with atomic_dir(final_dir) as tmp:
            save_adapter(tmp, inner, model_state)
            save_chat_template(tmp, tokenizer_dir)
    else:
        save_final(final_dir, model_config, model_state, tokenizer_dir)
        save_chat_template(final_dir, tokenizer_dir)


def lora_wrapper(config) -> Callable | None:
    """The ``wrap_model`` hook for ``lora.enabled`` (None for full fine-tuning)."""
    if not config.lora.enabled:
        return None
    from skywork.finetune.lora import apply_lora, check_quantization
    from skywork.utils.device import resolve_device

    device = torch.device(resolve_device(config.device))
    check_quantization(config.lora.quantize, device)

    def wrap(model):
        if config.lora.quantize != "none":  # QLoRA: the base again, in 8/4 bits on the GPU
            from skywork.finetune.lora import load_quantized_base
            from skywork.train.build import attention_kernel

            attention = model.config._attn_implementation or attention_kernel(config, device)
            del model
            compute = torch.float16 if config.precision == "fp16" else torch.bfloat16
            # activation_checkpointing is the loop's (non-reentrant: no input-gradient hook needed)
            model = load_quantized_base(
                config.model.init_from, config.lora.quantize, device, compute, attention
            )
        torch.manual_seed(config.seed)  # LoRA's A matrices are drawn at random: the same adapter every run
        peft_model = apply_lora(model, config.lora, config.model.init_from)
        if config.lora.quantize != "none":
            from skywork.finetune.lora import keep_only_trainable_state

            keep_only_trainable_state(peft_model)
        return peft_model

    return wrap


def run_finetune_stage(
    config,
    make_batches,
    kind: str,
    resume: str | None = "auto",
    on_validation: Callable | None = None,
    summary_extra: dict | None = None,
) -> dict:
    """Train ``config`` (SFTConfig / CPTConfig) on the one loop and write ``summary.json`` of ``kind``."""
    resolve_base(config)
    extra = summary_extra if summary_extra is not None else {}  # batch sources may fill it in later
    extra.update(lora=config.lora.enabled, base_model=str(config.model.init_from))
    hooks = StageHooks(
        wrap_model=lora_wrapper(config),
        on_validation=on_validation,
        save_final=save_finetuned,
        summary_kind=kind,
        summary_extra=extra,
    )
    return train(config, make_batches, resume, hooks)
