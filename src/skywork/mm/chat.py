"""Using a multimodal model: chat with images (``skywork chat MODEL --image PATH``, ``/image PATH``), one-shot
answers (``skywork generate MODEL --image PATH -p QUESTION``) and the server's OpenAI image content parts.

An image attached to a turn goes into that user turn (the official chat format, image tokens first); every image
of the conversation stays in the prompt, in order, as LLaVA expects one image per image-token run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from skywork.data.synth.images import IMAGE_PLACEHOLDER
from skywork.inference.generation import ChatSession, _with_chat_stops
from skywork.inference.sampling import SamplingParams
from skywork.mm.model import image_tokens_per_image, load_mm_model
from skywork.mm.processor import encode_mm_chat, pixels


class ImageSettings:
    """What a model directory says about its images: side, image token, tokens per image."""

    def __init__(self, model):
        vision = model.config.vision_config
        self.image_size = vision.image_size
        self.per_image = image_tokens_per_image(vision.image_size, vision.patch_size)
        self.image_token = None

    @classmethod
    def of(cls, model, model_dir: str | Path) -> ImageSettings:
        settings = cls(model)
        processor = Path(model_dir) / "processor_config.json"
        settings.image_token = (
            json.loads(processor.read_text())["image_token"] if processor.is_file() else None
        )
        return settings

    def encode(
        self, tokenizer, messages: Sequence[dict], images: Sequence
    ) -> tuple[list[int], torch.Tensor | None]:
        """(ids, pixel values or None) of a conversation whose user turns hold ``<image>`` placeholders."""
        ids, count = encode_mm_chat(tokenizer, messages, self.image_token, self.per_image)
        if count != len(images):
            raise ValueError(f"{count} image placeholders for {len(images)} images")
        return ids, pixels(images, self.image_size) if images else None


def load_for_chat(model_dir: str | Path, dtype: str = "fp32", device: str = "cpu"):
    """(model, tokenizer, ImageSettings) of a multimodal model directory."""
    from skywork.tokenizer import load as load_tokenizer

    dtypes = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
    model = load_mm_model(model_dir, dtype=dtypes[dtype], device=device)
    return model, load_tokenizer(model_dir), ImageSettings.of(model, model_dir)


class MMChatSession(ChatSession):
    """:class:`ChatSession` that attaches images to user turns (``attach`` before ``send``)."""

    def __init__(self, model, tokenizer, sampling: SamplingParams, settings: ImageSettings, system=None):
        super().__init__(model, tokenizer, sampling, system=system)
        self.settings = settings
        self.images: list = []  # every image of the conversation, in order
        self.pending = None

    def attach(self, image) -> None:
        from skywork.mm.processor import load_image

        self.pending = load_image(image)

    def reset(self) -> None:
        super().reset()
        self.images, self.pending = [], None

    def send(self, user_text: str) -> Iterator[str]:
        content = (IMAGE_PLACEHOLDER + user_text) if self.pending is not None else user_text
        images = self.images + ([self.pending] if self.pending is not None else [])
        history = ([{"role": "system", "content": self.system}] if self.system else []) + self.messages
        ids, pixel_values = self.settings.encode(
            self.tokenizer, history + [{"role": "user", "content": content}], images
        )
        reply: list[str] = []
        params = _with_chat_stops(self.tokenizer, self.sampling)
        for piece in self.engine.stream(ids, params, images=pixel_values):
            reply.append(piece)
            yield piece
        self.images, self.pending = images, None
        self.messages += [
            {"role": "user", "content": content},
            {"role": "assistant", "content": "".join(reply).strip()},
        ]


def answer_stream(model, tokenizer, settings: ImageSettings, question: str, image, sampling: SamplingParams):
    """One answer about one image (``skywork generate --image``): a single user turn with the image."""
    session = MMChatSession(model, tokenizer, sampling, settings)
    if image is not None:
        session.attach(image)
    return session.send(question)


def request_images(messages: list[dict]) -> tuple[list[dict], list[str]]:
    """OpenAI chat messages with ``image_url`` content parts -> (messages with ``<image>`` placeholders, image URLs).

    Only ``data:image/...;base64,`` URLs are accepted (the server fetches nothing)."""
    out, urls = [], []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            text, placed = "", ""
            for part in content:
                if part.get("type") == "image_url":
                    url = part.get("image_url", {})
                    url = url.get("url", "") if isinstance(url, dict) else str(url)
                    if not url.startswith("data:image/"):
                        raise ValueError("image_url must be a base64 data URL (data:image/png;base64,...)")
                    urls.append(url)
                    placed += IMAGE_PLACEHOLDER
                elif part.get("type") == "text":
                    text += str(part.get("text", ""))
            content = placed + text
        out.append({"role": message["role"], "content": content or ""})
    return out, urls
