"""The built-in OpenAI-compatible server: FastAPI + uvicorn on the project's generation engine.

For machines where vLLM cannot be installed; vLLM is the engine of record. The same API as vLLM's server for
what OpenAI clients use: ``/v1/models``, ``/v1/completions``, ``/v1/chat/completions`` (the prompt is the
official chat encoding, :func:`~skywork.tokenizer.chat.encode_chat`), ``/health``, vLLM's ``/tokenize``, plus
``/stats`` (the scheduler's counters). Streaming is server-sent events: a chat stream's first delta carries the
role, one chunk per choice carries ``finish_reason``, ``stream_options.include_usage`` adds a last chunk with
the usage, then ``data: [DONE]``. Requests are batched by :class:`~skywork.serve.scheduler.Scheduler`.

Security defaults as for vLLM: 127.0.0.1 unless told; a non-loopback host needs an API key; with a key every
``/v1`` request without ``Authorization: Bearer KEY`` gets 401.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from skywork.serve.protocol import (
    APIError,
    ChatRequest,
    CompletionRequest,
    parse,
    resolve_max_tokens,
    sampling_params,
)
from skywork.serve.scheduler import Event, GenerationRequest, Scheduler
from skywork.serve.vllm import DEFAULT_HOST, DEFAULT_MAX_MODEL_LEN, ServeError, check_exposure, free_port

DEFAULT_MAX_TOKENS = 256  # when a request leaves max_tokens unset (capped by the room left in the context)


def load_served_model(
    model_dir: Path, dtype: str = "fp32", device: str = "auto", quantize: str | None = None
):
    """(model, tokenizer) for serving: any model directory, an int8 one from ``skywork quantize`` included."""
    from skywork.mm.model import is_mm_model_dir
    from skywork.model.quantize import load_for_inference
    from skywork.tokenizer import load as load_tokenizer
    from skywork.utils.device import resolve_device

    if is_mm_model_dir(model_dir) and quantize is None:  # multimodal (LLaVA): chat requests may carry images
        from skywork.mm.chat import load_for_chat

        model, tokenizer, model.image_settings = load_for_chat(model_dir, dtype, resolve_device(device))
        return model, tokenizer
    return load_for_inference(model_dir, dtype, device, quantize), load_tokenizer(model_dir)


@dataclass
class Service:
    """The API over one model: request parsing, prompts, the scheduler, response shapes."""

    engine: object  # GenerationEngine
    served_model_name: str
    max_model_len: int
    api_key: str | None = None
    max_batch_rows: int = 32
    scheduler: Scheduler = field(init=False)

    def __post_init__(self) -> None:
        from skywork.inference.generation import chat_stop_ids

        self.tokenizer = self.engine.tokenizer
        self.stop_ids = chat_stop_ids(self.tokenizer)  # EOS and [SEP], as the prepared generation_config
        self.scheduler = Scheduler(self.engine, max_batch_rows=self.max_batch_rows).start()

    def check_key(self, authorization: str | None) -> None:
        if self.api_key is None:
            return
        given = (authorization or "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), self.api_key.encode()):
            raise APIError("invalid or missing API key", 401, code="invalid_api_key")

    def check_model(self, name: str) -> None:
        if name != self.served_model_name:
            raise APIError(
                f"the model `{name}` does not exist (served: {self.served_model_name})",
                404,
                param="model",
                code="model_not_found",
            )

    def models(self) -> dict:
        card = {"id": self.served_model_name, "object": "model", "created": int(time.time())}
        return {
            "object": "list",
            "data": [card | {"owned_by": "skywork", "max_model_len": self.max_model_len}],
        }

    def prompt_ids(self, request: CompletionRequest | ChatRequest) -> list[int]:
        from skywork.tokenizer.chat import encode_chat

        if isinstance(request, ChatRequest):
            messages = [{"role": m.role, "content": m.text()} for m in request.messages]
            if not messages:
                raise APIError("messages must not be empty", param="messages")
            try:
                return encode_chat(self.tokenizer, messages)
            except ValueError as err:
                raise APIError(str(err), param="messages") from None
        prompt = request.prompt
        if isinstance(prompt, list) and prompt and isinstance(prompt[0], (str, list)):
            if len(prompt) != 1:
                raise APIError("one prompt per request (send the others separately)", param="prompt")
            prompt = prompt[0]
        ids = self.tokenizer(prompt)["input_ids"] if isinstance(prompt, str) else list(prompt)
        if not ids:
            raise APIError("the prompt is empty", param="prompt")
        if any(not 0 <= i < len(self.tokenizer) for i in ids):
            raise APIError("the prompt has token ids outside the vocabulary", param="prompt")
        return ids

    def tokenize(self, body: dict) -> dict:
        if "messages" in body:
            ids = self.prompt_ids(parse(ChatRequest, {"model": self.served_model_name} | body))
        else:
            ids = self.prompt_ids(parse(CompletionRequest, {"model": self.served_model_name} | body))
        return {"tokens": ids, "count": len(ids), "max_model_len": self.max_model_len}

    def image_prompt(self, request: CompletionRequest | ChatRequest):
        """(ids, pixel values) of a chat request with OpenAI ``image_url`` parts, or None without images."""
        if not isinstance(request, ChatRequest):
            return None
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        if not any(
            isinstance(m["content"], list) and any(p.get("type") == "image_url" for p in m["content"])
            for m in messages
        ):
            return None
        settings = getattr(self.engine.model, "image_settings", None)
        if settings is None:
            raise APIError("this model takes no images (image_url content parts)", param="messages")
        from skywork.mm.chat import request_images

        try:
            messages, urls = request_images(messages)
            return settings.encode(self.tokenizer, messages, urls)
        except Exception as err:  # a bad data URL or placement: the client's error
            raise APIError(f"bad image content: {err}", param="messages") from None

    def submit(self, request: CompletionRequest | ChatRequest) -> GenerationRequest:
        self.check_model(request.model)
        with_images = self.image_prompt(request)
        ids, images = with_images if with_images is not None else (self.prompt_ids(request), None)
        requested = request.max_completion_tokens if isinstance(request, ChatRequest) else None
        requested = requested if requested is not None else request.max_tokens
        max_tokens = resolve_max_tokens(requested, len(ids), self.max_model_len, DEFAULT_MAX_TOKENS)
        params = sampling_params(request, max_tokens, self.stop_ids)
        if params.n > self.max_batch_rows:
            raise APIError(f"n must be at most {self.max_batch_rows} on this server", param="n")
        job = GenerationRequest(
            ids, params, asyncio.get_running_loop(), asyncio.Queue(), stream=request.stream, images=images,
            continuation=isinstance(request, CompletionRequest),
        )  # fmt: skip
        self.scheduler.submit(job)
        return job

    async def complete(self, request: CompletionRequest | ChatRequest, job: GenerationRequest) -> dict:
        """The whole (non-streamed) response."""
        chat = isinstance(request, ChatRequest)
        completions = {}
        while len(completions) < job.params.n:
            event = await _next_event(job)
            if event.kind == "finish":
                completions[event.index] = event.completion
        choices = []
        for index, c in sorted(completions.items()):
            content = {"message": {"role": "assistant", "content": c.text}} if chat else {"text": c.text}
            choice = {"index": index, **content, "logprobs": None, "finish_reason": c.finish_reason}
            choices.append(choice)
        usage = _usage(len(job.prompt_ids), sum(c.completion_tokens for c in completions.values()))
        return _envelope(request, chat, "chat.completion" if chat else "text_completion") | {
            "choices": choices,
            "usage": usage,
        }

    async def stream(
        self, request: CompletionRequest | ChatRequest, job: GenerationRequest
    ) -> AsyncIterator[str]:
        """Server-sent events; a client that disconnects cancels its rows (the scheduler drops them)."""
        chat = isinstance(request, ChatRequest)
        base = _envelope(request, chat, "chat.completion.chunk" if chat else "text_completion")
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        extra = {"usage": None} if include_usage else {}

        def chunk(index: int, text: str | None, finish: str | None = None, role: bool = False) -> str:
            if chat:
                delta = ({"role": "assistant"} if role else {}) | (
                    {"content": text} if text is not None else {}
                )
                choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}
            else:
                choice = {"index": index, "text": text or "", "logprobs": None, "finish_reason": finish}
            return _sse(base | {"choices": [choice]} | extra)

        try:
            if chat:
                for index in range(job.params.n):
                    yield chunk(index, "", role=True)
            finished, generated = 0, 0
            while finished < job.params.n:
                event = await _next_event(job)
                if event.kind == "delta":
                    yield chunk(event.index, event.text)
                    continue
                finished += 1
                generated += event.completion.completion_tokens
                if event.text:
                    yield chunk(event.index, event.text)
                yield chunk(event.index, None if chat else "", finish=event.completion.finish_reason)
            if include_usage:
                yield _sse(base | {"choices": [], "usage": _usage(len(job.prompt_ids), generated)})
            yield "data: [DONE]\n\n"
        except APIError as err:
            yield _sse(err.body())
            yield "data: [DONE]\n\n"
        finally:
            job.cancelled = True  # after the last finish this changes nothing; before it, frees the rows

    def close(self) -> None:
        self.scheduler.close()


async def _next_event(job: GenerationRequest) -> Event:
    event = await job.events.get()
    if event.kind == "error":
        raise APIError(event.text, 500, type="server_error")
    return event


def _usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def _envelope(request, chat: bool, obj: str) -> dict:
    prefix = "chatcmpl" if chat else "cmpl"
    return {
        "id": f"{prefix}-{uuid.uuid4().hex}",
        "object": obj,
        "created": int(time.time()),
        "model": request.model,
    }


def _sse(payload: dict) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def build_app(service: Service):
    """The FastAPI application: routes, the API-key check on ``/v1``, every error as OpenAI's JSON."""
    app = FastAPI(title="skywork builtin server", docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(APIError)
    async def api_error(_: Request, err: APIError):
        return JSONResponse(err.body(), status_code=err.status)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, err: HTTPException):
        return JSONResponse(APIError(str(err.detail), err.status_code).body(), status_code=err.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, err: RequestValidationError):
        return JSONResponse(APIError(str(err.errors()[0].get("msg", err))).body(), status_code=400)

    @app.middleware("http")
    async def require_key(request: Request, call_next):
        if request.url.path.startswith("/v1"):
            try:
                service.check_key(request.headers.get("authorization"))
            except APIError as err:
                return JSONResponse(err.body(), status_code=err.status)
        return await call_next(request)

    async def body_of(request: Request) -> dict:
        try:
            return json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise APIError(f"malformed JSON body: {err}") from None

    async def generate(request: Request, model: type):
        parsed = parse(model, await body_of(request))
        job = service.submit(parsed)
        if parsed.stream:
            return StreamingResponse(service.stream(parsed, job), media_type="text/event-stream")
        try:
            return await service.complete(parsed, job)
        finally:
            job.cancelled = True

    @app.post("/v1/completions")
    async def completions(request: Request):
        return await generate(request, CompletionRequest)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request):
        return await generate(request, ChatRequest)

    @app.get("/v1/models")
    async def models():
        return service.models()

    @app.post("/tokenize")
    async def tokenize(request: Request):
        return service.tokenize(await body_of(request))

    @app.get("/health")
    async def health():
        if not service.scheduler.alive:
            return JSONResponse({"status": "scheduler stopped"}, status_code=503)
        return {"status": "ok"}

    @app.get("/stats")
    async def stats():
        return vars(service.scheduler.stats)

    return app


@dataclass
class BuiltinServer:
    """The built-in server on ``model_dir``; ``with BuiltinServer(...) as s: s.base_url`` runs it in a thread."""

    model_dir: Path
    served_model_name: str | None = None
    host: str = DEFAULT_HOST
    port: int = 8000
    api_key: str | None = None
    max_model_len: int | None = None
    dtype: str = "fp32"
    device: str = "auto"
    quantize: str | None = None
    max_batch_rows: int = 32
    compile: bool = False  # torch.compile the engine's decoding step (warmed up before the socket opens)
    startup_timeout_s: float = 60.0
    service: Service | None = field(default=None, init=False, repr=False)
    _server: object = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _uvicorn(self):
        import uvicorn

        from skywork.inference import GenerationEngine

        check_exposure(self.host, self.api_key)
        if self.port == 0:
            self.port = free_port(self.host)
        model, tokenizer = load_served_model(Path(self.model_dir), self.dtype, self.device, self.quantize)
        text_config = getattr(model.config, "text_config", model.config)  # a multimodal model's LLM
        context = min(text_config.max_position_embeddings, DEFAULT_MAX_MODEL_LEN)
        self.service = Service(  # its scheduler warms the engine up (compiles) before the socket opens
            GenerationEngine(model, tokenizer, batch_size=self.max_batch_rows, compile=self.compile),
            served_model_name=self.served_model_name or Path(self.model_dir).resolve().name,
            max_model_len=self.max_model_len or context,
            api_key=self.api_key,
            max_batch_rows=self.max_batch_rows,
        )
        config = uvicorn.Config(
            build_app(self.service), host=self.host, port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        return self._server

    def serve_forever(self) -> None:
        """Serve in this thread until Ctrl-C or SIGTERM (uvicorn's own signal handling)."""
        try:
            self._uvicorn().run()
        finally:
            self.close_service()

    def start(self) -> BuiltinServer:
        """Serve from a background thread; returns once the socket accepts requests."""
        server = self._uvicorn()
        self._thread = threading.Thread(target=server.run, name="skywork-builtin-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout_s
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServeError(f"the built-in server did not start on {self.base_url}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None
        self.close_service()

    def close_service(self) -> None:
        if self.service is not None:
            self.service.close()

    def __enter__(self) -> BuiltinServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
