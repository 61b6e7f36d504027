"""Images and chat text -> model inputs, exactly as transformers' ``LlavaProcessor`` of a saved directory does.

- :func:`pixels`: resize to the ViT's side (bicubic), scale to [0, 1], normalise with mean 0.5 / std 0.5 (SigLIP's
  image processor; ``tests/mm`` checks the two agree);
- :func:`encode_mm_chat`: the official chat encoding (``skywork.tokenizer.chat.encode_chat``) with every
  :data:`~skywork.data.synth.images.IMAGE_PLACEHOLDER` in a user turn replaced by the image token, repeated once
  per patch (what ``LlavaProcessor`` does to ``<reserved_0>`` in a prompt string);
- :func:`expand_example`: the same expansion on an SFT :class:`~skywork.finetune.templates.Example` (labels -100);
- :func:`save_mm_dir`: the model directory: weights and config, tokenizer files, ``preprocessor_config.json`` and
  ``processor_config.json``, so ``AutoProcessor.from_pretrained(dir)`` returns a working ``LlavaProcessor``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from skywork.data.synth.images import IMAGE_PLACEHOLDER, decode_png
from skywork.finetune.templates import IGNORE, Example
from skywork.utils.io import InputError, atomic_dir, atomic_write_json

MEAN = STD = (0.5, 0.5, 0.5)


def load_image(source) -> object:
    """A PIL RGB image from a path, a base64 PNG / ``data:image/...;base64,`` URL, or a PIL image."""
    from PIL import Image

    if isinstance(source, Image.Image):
        return source.convert("RGB")
    text = str(source)
    path = Path(text) if len(text) < 4096 and not text.startswith("data:") else None
    try:
        is_file = path is not None and path.is_file()
    except OSError:  # a long base64 string is no file name
        is_file = False
    if not is_file:
        try:
            return decode_png(text)
        except Exception:
            if path is not None and not text.startswith("data:") and ("/" in text or "." in text[-5:]):
                raise InputError("image file not found", path, field="image") from None
            raise InputError("neither an image file nor a base64 image", field="image") from None
    try:
        return Image.open(path).convert("RGB")
    except Exception as err:
        raise InputError(f"not an image: {err}", path, field="image") from None


def pixels(images: Sequence, image_size: int) -> torch.Tensor:
    """(n, 3, image_size, image_size) float pixel values of PIL images (SigLIP's preprocessing)."""
    from PIL import Image

    arrays = []
    for image in images:
        image = load_image(image)
        if image.size != (image_size, image_size):
            image = image.resize((image_size, image_size), Image.Resampling.BICUBIC)
        array = np.asarray(image, dtype=np.float32) / 255.0
        arrays.append((array - np.array(MEAN, np.float32)) / np.array(STD, np.float32))
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def image_token_id(tokenizer, image_token: str) -> int:
    """The id of the reserved token standing for an image patch (it must be one token of the vocabulary)."""
    token_id = tokenizer.convert_tokens_to_ids(image_token)
    if token_id is None or token_id == tokenizer.unk_token_id:
        raise InputError(
            f"image token {image_token!r} is not in the vocabulary (use a reserved token)",
            field="image_token",
        )
    return int(token_id)


def _swap_placeholder(messages: Sequence[dict], image_token: str) -> tuple[list[dict], int]:
    count, out = 0, []
    for message in messages:
        content = message["content"]
        if message["role"] == "user" and IMAGE_PLACEHOLDER in content:
            count += content.count(IMAGE_PLACEHOLDER)
            content = content.replace(IMAGE_PLACEHOLDER, image_token)
        out.append({**message, "content": content})
    return out, count


def expand_ids(ids: list[int], token_id: int, per_image: int) -> list[int]:
    out: list[int] = []
    for t in ids:
        out.extend([t] * per_image if t == token_id else [t])
    return out


def encode_mm_chat(
    tokenizer, messages: Sequence[dict], image_token: str, per_image: int, add_generation_prompt: bool = True
) -> tuple[list[int], int]:
    """(ids, images placed): the official chat encoding with ``<image>`` as ``per_image`` image tokens."""
    from skywork.tokenizer.chat import encode_chat

    swapped, count = _swap_placeholder(messages, image_token)
    ids = encode_chat(tokenizer, swapped, add_generation_prompt)
    token_id = image_token_id(tokenizer, image_token)
    if ids.count(token_id) != count:
        raise InputError(f"image token {image_token!r} did not encode as one token", field="image_token")
    return expand_ids(ids, token_id, per_image), count


def expand_example(example: Example, token_id: int, per_image: int) -> Example:
    """Repeat each image token ``per_image`` times in an encoded example (the copies take no loss)."""
    ids: list[int] = []
    labels: list[int] = []
    for t, label in zip(example.input_ids, example.labels, strict=True):
        if t == token_id:
            ids.extend([t] * per_image)
            labels.extend([IGNORE] * per_image)
        else:
            ids.append(t)
            labels.append(label)
    return Example(ids, labels, example.truncated, example.answer_truncated, example.source)


def processor_files(image_size: int, patch_size: int, image_token: str) -> dict[str, dict]:
    """``preprocessor_config.json`` (SigLIP image processor) and ``processor_config.json`` (LlavaProcessor)."""
    return {
        "preprocessor_config.json": {
            "image_processor_type": "SiglipImageProcessor",
            "do_resize": True,
            "size": {"height": image_size, "width": image_size},
            "resample": 3,
            "do_rescale": True,
            "rescale_factor": 1 / 255,
            "do_normalize": True,
            "image_mean": list(MEAN),
            "image_std": list(STD),
            "do_convert_rgb": True,
        },
        "processor_config.json": {
            "processor_class": "LlavaProcessor",
            "patch_size": patch_size,
            "vision_feature_select_strategy": "full",
            "image_token": image_token,
            "num_additional_image_tokens": 0,
        },
    }


def save_mm_dir(
    out_dir: str | Path, model, tokenizer_dir: str | Path, image_token: str, state: dict | None = None
):
    """Write a loadable multimodal model directory atomically (weights, config, tokenizer, processor files).

    The tokenizer config gets ``split_special_tokens: false`` so that ``LlavaProcessor`` finds the image token as
    one id (our own chat encoding already encodes markers that way); the chat template is the official one.
    """
    from skywork.model.checkpoint import TOKENIZER_FILES
    from skywork.tokenizer.chat import CHAT_TEMPLATE

    vision = model.config.vision_config
    with atomic_dir(Path(out_dir)) as tmp:
        model.save_pretrained(tmp, state_dict=state, safe_serialization=True)
        for name in TOKENIZER_FILES:
            source = Path(tokenizer_dir) / name
            if source.exists():
                (tmp / name).write_bytes(source.read_bytes())
        config_file = tmp / "tokenizer_config.json"
        tokenizer_config = json.loads(config_file.read_text()) if config_file.exists() else {}
        tokenizer_config.update(split_special_tokens=False)
        tokenizer_config.setdefault("chat_template", CHAT_TEMPLATE)
        atomic_write_json(config_file, tokenizer_config)
        for name, payload in processor_files(vision.image_size, vision.patch_size, image_token).items():
            atomic_write_json(tmp / name, payload)
    return Path(out_dir)
