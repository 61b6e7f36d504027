"""The three multimodal training stages, each the one loop (``skywork.train.loop.train``) with an image batch source.

=============  ================================  =======================  ===================================
stage kind     trains (``mm.train``)             data (``data.use``)      starts from
=============  ================================  =======================  ===================================
mm_encoder     vision + projector + llm          captions + dialogues     a fresh ViT and the LLM (fresh or
                                                                          ``model.init_from``)
mm_align       projector (LLM and ViT frozen)    captions                 ``mm.init_from`` (mm_encoder/final)
mm_instruct    projector + llm (ViT frozen)      dialogues                ``mm.init_from`` (mm_align/final)
=============  ================================  =======================  ===================================

The encoder stage is our choice among the two the issue allows: **end to end from scratch** on captions rather
than CLIP-style contrastive pretraining, because the one loop's loss is next-token cross-entropy and a
contrastive loss would need a text tower and a batch-level objective the loop does not compute (a second loop is
not allowed); the LLM's loss trains the ViT instead (docs/mm.md has its figures). Only the stage defaults
differ; any stage may set ``mm.train`` and ``data.use`` itself (the demo's encoder reads ``questions``: every
visual-fact question of an image as its own example, which learned to read the image where captions did not).

The stages are resumable as the loop is (checkpoints hold the whole LLaVA state, the optimizer of the trainable
parts and the batch source's position); ``final/`` is a LLaVA model directory (:func:`skywork.mm.processor.save_mm_dir`).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from skywork.mm.data import MMDataSection, make_mm_source
from skywork.mm.model import VisionSection
from skywork.train.config import OptimSection, PretrainConfig
from skywork.train.finetune_config import LoraSection
from skywork.utils.config import field
from skywork.utils.io import InputError

STAGE_DEFAULTS = {  # kind -> (parts trained, data.use)
    "mm_encoder": (["vision", "projector", "llm"], "both"),
    "mm_align": (["projector"], "captions"),
    "mm_instruct": (["projector", "llm"], "dialogues"),
}
_SHAPE_KEYS = (
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "max_position_embeddings",
    "rope_theta",
    "rms_norm_eps",
)


@dataclass
class MMSection:
    init_from: str | None = field(
        None,
        help="Continue from this multimodal model directory (an earlier stage's final/); null: build one.",
    )
    train: list[str] | None = field(
        None,
        help="Parts trained: vision, projector, llm (null: the stage kind's default, see skywork.mm.train).",
    )
    vision: VisionSection = field(default_factory=VisionSection, help="The ViT built when init_from is null.")
    lora: LoraSection = field(
        default_factory=LoraSection,
        help="Train the LLM as a LoRA adapter (on its target_modules) instead of in full; final/ holds the "
        "merged weights, so it stays a plain LLaVA directory.",
    )


@dataclass
class MMOptimSection(OptimSection):
    lr: float = field(1e-3, help="Peak learning rate (tiny models from scratch take a high one).")
    min_lr: float = field(1e-4, help="Learning rate at the end of the cosine decay.")
    warmup_steps: int = field(20, help="Linear warmup steps.")
    weight_decay: float = field(0.0, help="AdamW weight decay (matrices only).")


@dataclass
class MMTrainConfig(PretrainConfig):
    """One multimodal training stage: ``skywork mm train CONFIG.yaml --kind mm_instruct`` or a recipe stage."""

    mm: MMSection = field(default_factory=MMSection, help="The multimodal model and what is trained.")
    data: MMDataSection = field(default_factory=MMDataSection, help="Image files, use and packing.")
    optim: MMOptimSection = field(default_factory=MMOptimSection, help="AdamW and learning-rate schedule.")
    max_steps: int = field(200, help="Optimizer steps.")
    micro_batch_size: int = field(8, help="Packed rows per forward pass per process.")
    eval_every: int = field(100, help="Held-out loss every N steps (and at the end).")
    save_every: int = field(100, help="Checkpoint every N steps (and at the end).")
    keep_last: int = field(1, help="Checkpoints kept.")
    tensorboard: bool = field(False, help="Write TensorBoard event files.")
    kind: str = field("mm_instruct", help="The stage kind (sets the defaults of mm.train and data.use).")


def resolve(config: MMTrainConfig) -> list[str]:
    """Fill the stage defaults, check the inputs, and shape the loop's LLM like ``mm.init_from``'s."""
    if config.kind not in STAGE_DEFAULTS:
        raise InputError(f"unknown kind {config.kind!r} (known: {', '.join(STAGE_DEFAULTS)})", field="kind")
    parts, use = STAGE_DEFAULTS[config.kind]
    parts = config.mm.train if config.mm.train is not None else parts
    if config.data.use is None:
        config.data.use = use
    if config.mm.init_from:
        source = Path(config.mm.init_from, "config.json")
        if not source.is_file():
            raise InputError(
                "not a model directory (no config.json)", config.mm.init_from, field="mm.init_from"
            )
        saved = json.loads(source.read_text())
        if saved.get("model_type") != "llava":
            raise InputError("not a multimodal (LLaVA) model directory", source, field="mm.init_from")
        text = saved["text_config"]
        config.model.init_from = None
        config.model.overrides = {k: text[k] for k in _SHAPE_KEYS if k in text}
        if config.tokenizer is None:
            config.tokenizer = config.mm.init_from
    return parts


def run_mm_training(config: MMTrainConfig, resume: str | None = "auto") -> dict:
    """Train one stage on the one loop; ``summary.json`` of the stage's kind, with the data counts and parts."""
    from skywork.mm.model import build_mm_model, load_mm_model, parameters_per_part, set_trainable
    from skywork.mm.processor import image_token_id, save_mm_dir
    from skywork.tokenizer import load as load_tokenizer
    from skywork.train.loop import StageHooks, train

    parts = resolve(config)
    extra: dict = {"data": {}, "trained_parts": parts}
    image_token = {"value": config.mm.vision.image_token}

    def wrap(llm):
        if config.mm.init_from:
            model = load_mm_model(config.mm.init_from)
            model.config.use_cache = False
            saved_token = json.loads(Path(config.mm.init_from, "processor_config.json").read_text())
            image_token["value"] = saved_token.get("image_token", image_token["value"])
        else:
            tokenizer = load_tokenizer(Path(config.tokenizer))
            token_id = image_token_id(tokenizer, config.mm.vision.image_token)
            model = build_mm_model(llm, config.mm.vision, token_id, seed=config.seed)
        model.train()
        extra["parameters"] = parameters_per_part(model)
        if config.mm.lora.enabled and "llm" in parts:
            model = with_lora(model, config.mm.lora, [p for p in parts if p != "llm"], config.seed)
            extra["trainable"] = trainable_per_part(model)
        else:
            extra["trainable"] = set_trainable(model, parts)
        extra["lora"] = bool(config.mm.lora.enabled and "llm" in parts)
        return model

    def make_batches(cfg, world, tokenizer):
        if config.mm.init_from:  # the saved ViT decides the image tokens
            saved = json.loads(Path(config.mm.init_from, "config.json").read_text())["vision_config"]
            cfg.mm.vision.image_size, cfg.mm.vision.patch_size = saved["image_size"], saved["patch_size"]
            cfg.mm.vision.image_token = image_token["value"]
        return make_mm_source(cfg, world, tokenizer, extra["data"])

    def save(final_dir, model, model_state, model_config, tokenizer_dir):
        inner = getattr(model, "module", model)
        if hasattr(inner, "peft_config"):  # LoRA: merge into the LLM, write a plain LLaVA directory
            inner.load_state_dict(model_state)
            inner, model_state = inner.merge_and_unload(), None
        save_mm_dir(final_dir, inner, tokenizer_dir, image_token["value"], state=model_state)

    hooks = StageHooks(wrap_model=wrap, save_final=save, summary_kind=config.kind, summary_extra=extra)
    return train(config, make_batches, resume, hooks)


def with_lora(model, lora: LoraSection, other_parts: list[str], seed: int):
    """PEFT LoRA on the LLM's ``target_modules`` only (never the ViT's layers); ``other_parts`` train in full."""
    from peft import LoraConfig, get_peft_model

    from skywork.mm.model import part_of, set_trainable

    set_trainable(model, other_parts)
    names = "|".join(lora.target_modules) if list(lora.target_modules) != ["all-linear"] else r"[a-z_]+_proj"
    torch.manual_seed(seed)
    wrapped = get_peft_model(
        model,
        LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=rf".*language_model.*\.({names})",
        ),
    )
    for name, param in wrapped.named_parameters():  # PEFT froze everything but the adapter
        if "lora_" not in name and part_of(name.removeprefix("base_model.model.")) in other_parts:
            param.requires_grad_(True)
    return wrapped


def trainable_per_part(model) -> dict[str, int]:
    from skywork.mm.model import PARTS, part_of

    counts = dict.fromkeys(PARTS, 0)
    for name, param in model.named_parameters():
        if param.requires_grad:
            counts[part_of(name.removeprefix("base_model.model.").replace(".base_layer", ""))] += (
                param.numel()
            )
    return counts


def run_mm_stage(config: MMTrainConfig, ctx) -> dict:
    """The recipe's mm_encoder / mm_align / mm_instruct stages: resume a killed recipe where it stopped."""
    return {"summary": run_mm_training(config, resume="auto")}


@functools.cache
def config_for(stage_kind: str):
    """The config class of a stage kind (the same class; ``kind`` defaults to the recipe's stage kind)."""

    @dataclass
    class StageConfig(MMTrainConfig):
        kind: str = field(stage_kind, help="The stage kind (sets the defaults of mm.train and data.use).")

    StageConfig.__name__ = StageConfig.__qualname__ = f"MMTrainConfig_{stage_kind}"
    return StageConfig
