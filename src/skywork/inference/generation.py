"""Streaming generation and a chat session in the official Skywork format.

Decoding itself is transformers' ``generate`` (KV cache, logits processors); we add the official demo defaults
and token streaming through ``TextIteratorStreamer`` so the CLI prints text as it is produced.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from transformers import TextIteratorStreamer

from skywork.tokenizer.chat import SEP, encode_chat


@dataclass
class SamplingConfig:
    """Decoding settings; defaults are the official Skywork demo's (cli_demo.py)."""

    max_new_tokens: int = 256
    greedy: bool = False
    temperature: float = 0.95
    top_p: float = 0.8
    top_k: int = 5
    repetition_penalty: float = 1.1
    seed: int | None = None

    def generate_kwargs(self) -> dict:
        if self.greedy:
            return dict(
                do_sample=False,
                max_new_tokens=self.max_new_tokens,
                repetition_penalty=self.repetition_penalty,
            )
        return dict(
            do_sample=True,
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=self.top_k,
            repetition_penalty=self.repetition_penalty,
        )


def _stop_ids(tokenizer) -> list[int]:
    ids = [tokenizer.eos_token_id]
    sep = tokenizer.convert_tokens_to_ids(SEP) if SEP in tokenizer.get_vocab() else None
    if sep is not None:
        ids.append(sep)
    return ids


def stream_ids(model, tokenizer, input_ids: list[int], sampling: SamplingConfig) -> Iterator[str]:
    """Yield decoded text pieces as the model produces them (generation runs in a worker thread)."""
    if sampling.seed is not None:
        torch.manual_seed(sampling.seed)
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    inputs = torch.tensor([input_ids], device=model.device)
    kwargs = dict(
        input_ids=inputs,
        attention_mask=torch.ones_like(inputs),
        streamer=streamer,
        eos_token_id=_stop_ids(tokenizer),
        pad_token_id=tokenizer.pad_token_id or 0,
        **sampling.generate_kwargs(),
    )
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with torch.inference_mode():
                model.generate(**kwargs)
        except BaseException as err:  # surfaced in the caller's thread below
            errors.append(err)
            streamer.end()

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    yield from streamer
    worker.join()
    if errors:
        raise errors[0]


def generate_text(model, tokenizer, prompt: str, sampling: SamplingConfig) -> Iterator[str]:
    """Plain continuation of ``prompt`` (BOS added as in pretraining)."""
    return stream_ids(model, tokenizer, tokenizer.encode(prompt), sampling)


@dataclass
class ChatSession:
    """A multi-turn conversation in the official ``</s><s>[USER]...[SEP][BOT]`` format."""

    model: object
    tokenizer: object
    sampling: SamplingConfig
    system: str | None = None
    messages: list[dict] = field(default_factory=list)

    def reset(self) -> None:
        self.messages.clear()

    def send(self, user_text: str) -> Iterator[str]:
        history = ([{"role": "system", "content": self.system}] if self.system else []) + self.messages
        history = history + [{"role": "user", "content": user_text}]
        ids = encode_chat(self.tokenizer, history)
        reply: list[str] = []
        for piece in stream_ids(self.model, self.tokenizer, ids, self.sampling):
            reply.append(piece)
            yield piece
        self.messages += [
            {"role": "user", "content": user_text},
            {"role": "assistant", "content": "".join(reply).strip()},
        ]
