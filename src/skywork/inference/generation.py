"""Plain continuation and a chat session in the official Skywork format, streamed through the engine.

Both stop at EOS or at the chat marker ``[SEP]`` (when the tokenizer has it), as the official demo does; the stop
token itself is not part of the text. Sampling settings are :class:`SamplingParams` (the CLI starts from
``SamplingParams.official_demo()``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from skywork.inference.engine import GenerationEngine
from skywork.inference.sampling import SamplingParams
from skywork.tokenizer.chat import SEP, encode_chat


def chat_stop_ids(tokenizer) -> tuple[int, ...]:
    """EOS, and ``[SEP]`` when the vocabulary has it."""
    ids = [tokenizer.eos_token_id]
    if SEP in tokenizer.get_vocab():
        ids.append(tokenizer.convert_tokens_to_ids(SEP))
    return tuple(i for i in ids if i is not None)


def _with_chat_stops(tokenizer, params: SamplingParams) -> SamplingParams:
    return (
        params
        if params.stop_token_ids is not None
        else params.replace(stop_token_ids=chat_stop_ids(tokenizer))
    )


def generate_text(model, tokenizer, prompt: str, sampling: SamplingParams) -> Iterator[str]:
    """Stream the continuation of ``prompt`` (BOS added as in pretraining)."""
    engine = GenerationEngine(model, tokenizer, batch_size=1)
    return engine.stream(prompt, _with_chat_stops(tokenizer, sampling), continuation=True)


@dataclass
class ChatSession:
    """A multi-turn conversation in the official ``</s><s>[USER]...[SEP][BOT]`` format."""

    model: object
    tokenizer: object
    sampling: SamplingParams
    system: str | None = None
    messages: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.engine = GenerationEngine(self.model, self.tokenizer, batch_size=1)

    def reset(self) -> None:
        self.messages.clear()

    def send(self, user_text: str) -> Iterator[str]:
        history = ([{"role": "system", "content": self.system}] if self.system else []) + self.messages
        history = history + [{"role": "user", "content": user_text}]
        ids = encode_chat(self.tokenizer, history)
        reply: list[str] = []
        for piece in self.engine.stream(ids, _with_chat_stops(self.tokenizer, self.sampling)):
            reply.append(piece)
            yield piece
        self.messages += [
            {"role": "user", "content": user_text},
            {"role": "assistant", "content": "".join(reply).strip()},
        ]
