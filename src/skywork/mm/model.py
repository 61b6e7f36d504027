"""The multimodal model: a small SigLIP ViT, LLaVA's MLP projector and a Skywork LLM, as transformers' LLaVA.

The Skywork-MM paper's architecture is NOT FOUND in our sources (spec 5); we build the LLaVA-1.5 layout the field
uses, entirely from transformers classes, so a saved directory loads with
``AutoModelForImageTextToText.from_pretrained(dir)`` / ``LlavaForConditionalGeneration`` and ``AutoProcessor``
without remote code:

- ``config.json``: a ``LlavaConfig`` whose ``vision_config`` is a ``SiglipVisionConfig`` (no CLS token, so
  ``vision_feature_select_strategy: full`` and one image token per patch) and whose ``text_config`` is the
  Skywork LLM's LLaMA config under ``model_type: llama`` (the released Skywork network *is* LLaMA, spec 3.3);
- the image placeholder is a reserved token of the Skywork vocabulary (``<reserved_0>`` by default), repeated
  once per patch, inside the user turn of the official chat format;
- weights: ``model.vision_tower.*``, ``model.multi_modal_projector.*``, ``model.language_model.*`` (the LLM's
  ``model.*``) and ``lm_head.weight``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from skywork.utils.config import field

DEFAULT_IMAGE_TOKEN = "<reserved_0>"
PARTS = ("vision", "projector", "llm")  # what a stage may train
_PREFIXES = {
    "vision": ("model.vision_tower.",),
    "projector": ("model.multi_modal_projector.",),
    "llm": ("model.language_model.", "lm_head."),
}


@dataclass
class VisionSection:
    image_size: int = field(32, help="Input side in pixels (images are resized to it).")
    patch_size: int = field(8, help="ViT patch side; image tokens per image = (image_size / patch_size)^2.")
    hidden_size: int = field(128, help="ViT width.")
    intermediate_size: int = field(256, help="ViT MLP width.")
    num_hidden_layers: int = field(3, help="ViT layers.")
    num_attention_heads: int = field(4, help="ViT attention heads.")
    image_token: str = field(
        DEFAULT_IMAGE_TOKEN, help="Reserved vocabulary token standing for one image patch in the text."
    )


def image_tokens_per_image(image_size: int, patch_size: int) -> int:
    return (image_size // patch_size) ** 2


def make_mm_config(text_config, vision: VisionSection, image_token_id: int):
    """A ``LlavaConfig`` of a SigLIP ViT (``vision``) and the LLM's config (saved as plain LLaMA)."""
    from transformers import LlamaConfig, LlavaConfig, SiglipVisionConfig

    if vision.image_size % vision.patch_size:
        raise ValueError(
            f"image_size {vision.image_size} is not a multiple of patch_size {vision.patch_size}"
        )
    text = {k: v for k, v in text_config.to_dict().items() if k not in ("model_type", "architectures")}
    vision_config = SiglipVisionConfig(
        image_size=vision.image_size,
        patch_size=vision.patch_size,
        hidden_size=vision.hidden_size,
        intermediate_size=vision.intermediate_size,
        num_hidden_layers=vision.num_hidden_layers,
        num_attention_heads=vision.num_attention_heads,
    )
    return LlavaConfig(
        vision_config=vision_config,
        text_config=LlamaConfig(**text),
        image_token_id=image_token_id,
        projector_hidden_act="gelu",
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
        image_seq_length=image_tokens_per_image(vision.image_size, vision.patch_size),
        tie_word_embeddings=False,
    )


def build_mm_model(llm, vision: VisionSection, image_token_id: int, seed: int = 0):
    """A LLaVA model around ``llm`` (its weights copied in); the ViT and projector fresh from ``seed``."""
    from transformers import LlavaForConditionalGeneration

    config = make_mm_config(llm.config, vision, image_token_id)
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config)
    state = {_llava_name(k): v for k, v in llm.state_dict().items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    llm_missing = [k for k in missing if k.startswith(_PREFIXES["llm"])]
    if llm_missing or unexpected:
        raise RuntimeError(
            f"LLM weights do not fit the LLaVA layout: missing {llm_missing}, unexpected {unexpected}"
        )
    model.config.use_cache = False
    return model


def _llava_name(llm_name: str) -> str:
    """``model.layers.0...`` of the LLM -> ``model.language_model.layers.0...``; ``lm_head.*`` stays."""
    return "model.language_model." + llm_name[len("model.") :] if llm_name.startswith("model.") else llm_name


def set_trainable(model, parts: list[str]) -> dict[str, int]:
    """Freeze every part not in ``parts``; returns trainable parameters per part."""
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)} (known: {', '.join(PARTS)})")
    counts = dict.fromkeys(PARTS, 0)
    for name, param in model.named_parameters():
        part = part_of(name)
        param.requires_grad_(part in parts)
        if part in parts:
            counts[part] += param.numel()
    return counts


def part_of(name: str) -> str:
    for part, prefixes in _PREFIXES.items():
        if name.startswith(prefixes):
            return part
    raise ValueError(f"parameter {name} belongs to no part")


def parameters_per_part(model) -> dict[str, int]:
    counts = dict.fromkeys(PARTS, 0)
    for name, param in model.named_parameters():
        counts[part_of(name)] += param.numel()
    return counts


def is_mm_model_dir(path: str | Path) -> bool:
    """A directory whose config.json is a LLaVA config (a multimodal model of ours or anyone's)."""
    config = Path(path) / "config.json"
    if not config.is_file():
        return False
    try:
        return json.loads(config.read_text()).get("model_type") == "llava"
    except json.JSONDecodeError:
        return False


def load_mm_model(path: str | Path, dtype: torch.dtype = torch.float32, device: str | None = None):
    """A saved multimodal model through transformers' own Auto class (no remote code), in eval mode."""
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(str(path), dtype=dtype)
    model.config.use_cache = True
    if device:
        model.to(device)
    return model.eval()


def describe(model) -> dict:
    """What ``skywork info`` shows: parameters per part and the image tokens one image costs."""
    vision = model.config.vision_config
    return {
        "architecture": type(model).__name__,
        "parameters": parameters_per_part(model),
        "image_size": vision.image_size,
        "patch_size": vision.patch_size,
        "image_tokens_per_image": image_tokens_per_image(vision.image_size, vision.patch_size),
        "image_token_id": model.config.image_token_id,
        "vision": f"SigLIP ViT: {vision.num_hidden_layers} layers, hidden {vision.hidden_size}",
        "llm": f"LLaMA/Skywork: {model.config.text_config.num_hidden_layers} layers, "
        f"hidden {model.config.text_config.hidden_size}, vocab {model.config.text_config.vocab_size}",
    }
