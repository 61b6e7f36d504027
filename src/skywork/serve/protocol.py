"""The OpenAI request bodies the built-in server accepts, and its errors in OpenAI's shape.

Only the fields OpenAI clients send for text generation are modelled; unknown fields are ignored, as OpenAI's
and vLLM's servers ignore them. ``top_k``, ``repetition_penalty`` and ``ignore_eos`` are vLLM's extensions
(``extra_body`` in the official client). Fields left unset take the official demo's sampling defaults, as vLLM
takes them from the prepared ``generation_config.json``: send ``temperature: 0`` for greedy output.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from skywork.inference.sampling import SamplingParams

MAX_N = 16
MAX_STOP_STRINGS = 4


class APIError(Exception):
    """An error answered as ``{"error": {"message", "type", "param", "code"}}`` with ``status``."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
    ):
        super().__init__(message)
        self.message, self.status, self.param, self.code, self.type = message, status, param, code, type

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class StreamOptions(BaseModel):
    include_usage: bool = False


class _SamplingFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    n: int = 1
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    ignore_eos: bool = False


class CompletionRequest(_SamplingFields):
    prompt: str | list[str] | list[int] | list[list[int]]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text (content parts of type ``text`` joined)."""
        if isinstance(self.content, list):
            return "".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatRequest(_SamplingFields):
    messages: list[ChatMessage]
    max_completion_tokens: int | None = None


def parse(model: type[BaseModel], body: Any) -> BaseModel:
    """Validate a decoded JSON body, answering the first problem as a 400 that names its field."""
    if not isinstance(body, dict):
        raise APIError("the request body must be a JSON object")
    try:
        return model.model_validate(body)
    except ValidationError as err:
        first = err.errors()[0]
        param = ".".join(str(part) for part in first["loc"]) or None
        raise APIError(f"{param}: {first['msg']}", param=param) from None


def sampling_params(
    request: _SamplingFields, max_tokens: int | None, stop_ids: tuple[int, ...]
) -> SamplingParams:
    """The engine's settings for a request (``max_tokens`` already resolved against the context)."""
    defaults = SamplingParams.official_demo()
    stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    if len(stop) > MAX_STOP_STRINGS:
        raise APIError(f"at most {MAX_STOP_STRINGS} stop strings", param="stop")
    if not 1 <= request.n <= MAX_N:
        raise APIError(f"n must be between 1 and {MAX_N}", param="n")

    def pick(value, default):
        return default if value is None else value

    try:
        return SamplingParams(
            max_new_tokens=max_tokens,
            temperature=pick(request.temperature, defaults.temperature),
            top_p=pick(request.top_p, defaults.top_p),
            top_k=pick(request.top_k, defaults.top_k),
            repetition_penalty=pick(request.repetition_penalty, defaults.repetition_penalty),
            n=request.n,
            stop=tuple(s for s in stop if s),
            stop_token_ids=() if request.ignore_eos else stop_ids,
            seed=request.seed,
        )
    except ValueError as err:
        raise APIError(str(err)) from None


def resolve_max_tokens(requested: int | None, prompt_tokens: int, max_model_len: int, default: int) -> int:
    """``max_tokens`` checked against the context: a prompt that leaves no room is a 400, as in vLLM."""
    if requested is not None and requested < 1:
        raise APIError(f"max_tokens must be at least 1, got {requested}", param="max_tokens")
    room = max_model_len - prompt_tokens
    if room < 1 or (requested is not None and requested > room):
        asked = prompt_tokens + (requested or 1)
        raise APIError(
            f"This model's maximum context length is {max_model_len} tokens. However, you requested {asked} "
            f"tokens ({prompt_tokens} in the prompt, {asked - prompt_tokens} for the completion).",
            param="max_tokens" if room >= 1 else "prompt",
            code="context_length_exceeded",
        )
    return requested if requested is not None else min(default, room)
