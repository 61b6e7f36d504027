"""The recipe's serving stages: ``quantize`` (an int8 checkpoint and its memory / quality table) and
``serve_check`` (start a server, one chat request in the official format through the ``openai`` client, stop).

Both write ``summary.json`` (``skywork.quantize/v1``, ``skywork.serve_check/v1``) into their stage directory;
the report's serving part (``skywork.recipe.sections.serving``) lays them out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skywork.utils.config import field
from skywork.utils.summary import write_summary


@dataclass
class QuantizeMCQ:
    """A few MCQ subjects scored bf16 vs int8 (C-Eval / CMMLU / MMLU, official prompts)."""

    bench: str = field(help="ceval, cmmlu or mmlu.")
    data_dir: str = field(help="The benchmark folder (dev/ and val/ or test/ CSVs).")
    subjects: list[str] = field(help="Subjects to score (a few: this runs twice).")
    limit: int = field(20, help="Questions per subject.")
    shots: int = field(5, help="Few-shot examples from dev.")


@dataclass
class QuantizeStageConfig:
    """Quantize a model to int8 (``skywork quantize``) and measure bf16 vs int8 on the same documents."""

    model: str = field(help="Model directory to quantize (e.g. ${pretrain_stage2}/final).")
    method: str = field("int8", help="int8: weight-only, per-channel symmetric (torchao's scheme).")
    validation: dict[str, str] = field(
        default_factory=dict, help="Domain -> JSONL with a 'text' field: domain loss bf16 vs int8."
    )
    max_docs: int | None = field(20, help="Documents per domain file (None: all).")
    batch_size: int = field(
        4, help="Documents per forward pass (sets the activation part of the peak memory)."
    )
    mcq: QuantizeMCQ | None = field(None, help="Optional MCQ accuracy bf16 vs int8.")
    torchao: bool = field(False, help="Also measure torchao's Int8WeightOnlyConfig when torchao imports.")

    def validate(self) -> None:
        from skywork.model.quantize import METHODS

        if self.method not in METHODS:
            raise ValueError(f"method: unknown {self.method!r}; known: {', '.join(METHODS)}")
        if not self.validation:
            raise ValueError("validation: give at least one domain file (domain loss is the quality measure)")


def run_quantize_stage(config: QuantizeStageConfig, ctx: Any) -> dict:
    """``stage_dir/int8`` (the checkpoint) and the table in ``summary.json``."""
    from skywork.model.quantize import is_quantized_dir, quantize_checkpoint
    from skywork.serve.int8_table import MCQSpec, compare, torchao_available

    stage_dir = Path(ctx.stage_dir)
    int8_dir = stage_dir / "int8"
    start, cpu_start = time.perf_counter(), time.process_time()
    if not is_quantized_dir(int8_dir):  # resume: a finished checkpoint is reused
        quantize_checkpoint(config.model, int8_dir, method=config.method)
    quantize_s, quantize_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    mcq = None
    if config.mcq is not None:
        m = config.mcq
        mcq = MCQSpec(m.bench, Path(m.data_dir), list(m.subjects), m.limit, m.shots)
    variants = ("bf16", "int8") + (("torchao-int8",) if config.torchao and torchao_available() else ())
    files = list(config.validation.values())
    table = compare(config.model, files, config.max_docs, config.batch_size, variants, mcq, int8_dir)
    payload = {
        "model": str(config.model),
        "int8_dir": int8_dir.name,
        "method": config.method,
        "quantize_s": quantize_s,
        "quantize_cpu_s": quantize_cpu_s,
        "domains": list(config.validation),
        **{k: table[k] for k in ("rows", "int8_vs_bf16", "meta_rows", "max_docs", "threads")},
    }
    write_summary(stage_dir, "quantize", payload)
    summary = table["int8_vs_bf16"]
    ctx.console.print(
        f"int8: weights {summary['weight_ratio']:.3f}x bf16, domain loss {100 * summary['loss_change']:+.2f}%"
    )
    return {"int8_dir": str(int8_dir), **summary}


DEFAULT_MESSAGE = "你好，请用一句话介绍你自己。"


@dataclass
class ServeCheckConfig:
    """Start a server on a model, send one chat request with the official ``openai`` client, stop."""

    model: str = field(help="Model directory to serve (ours, official, or a `skywork quantize` int8 one).")
    engine: str = field(
        "builtin", help="builtin, vllm (needs `make serve-setup`; ~70 s start), or auto (vllm when present)."
    )
    message: str = field(DEFAULT_MESSAGE, help="The user message of the chat request.")
    max_tokens: int = field(16, help="Tokens to generate (greedy, temperature 0).")
    dtype: str = field("fp32", help="Builtin engine weights dtype (vLLM: bf16).")
    startup_timeout_s: float = field(300.0, help="Give up when the server is not healthy by then.")

    def validate(self) -> None:
        if self.engine not in ("builtin", "vllm", "auto"):
            raise ValueError(f"engine: unknown {self.engine!r}; choose builtin, vllm or auto")
        if self.max_tokens < 1:
            raise ValueError("max_tokens: must be at least 1")


def _server(config: ServeCheckConfig, engine: str, stage_dir: Path):
    model = Path(config.model)
    if engine == "builtin":
        from skywork.serve.builtin import BuiltinServer

        return BuiltinServer(
            model,
            served_model_name="model",
            port=0,
            dtype=config.dtype,
            startup_timeout_s=config.startup_timeout_s,
        )
    from skywork.serve.prepare import prepare_vllm_dir
    from skywork.serve.vllm import VLLMServer

    prepared = prepare_vllm_dir(model, cache_root=stage_dir / "vllm-cache")
    return VLLMServer(
        prepared,
        "model",
        port=0,
        kvcache_gib=1,
        log_path=stage_dir / "vllm.log",
        startup_timeout_s=config.startup_timeout_s,
        extra_args=["--enforce-eager"],
    )


def run_serve_check(config: ServeCheckConfig, ctx: Any) -> dict:
    """One request through the official client; the summary says what was sent, answered and how fast."""
    import httpx
    import openai

    from skywork.serve.cli import resolve_engine
    from skywork.tokenizer import load as load_tokenizer
    from skywork.tokenizer.chat import encode_chat

    stage_dir = Path(ctx.stage_dir)
    engine = resolve_engine(config.engine)
    messages = [{"role": "user", "content": config.message}]
    expected_prompt = len(encode_chat(load_tokenizer(config.model), messages))
    start, cpu_start = time.perf_counter(), time.process_time()
    with _server(config, engine, stage_dir) as server:
        start_s = time.perf_counter() - start
        client = openai.OpenAI(base_url=server.base_url + "/v1", api_key="unused", max_retries=0, timeout=120)
        health = httpx.get(server.base_url + "/health", timeout=30).status_code
        sent = time.perf_counter()
        response = client.chat.completions.create(
            model="model", messages=messages, max_tokens=config.max_tokens, temperature=0
        )
        request_s = time.perf_counter() - sent
    stop_s = time.perf_counter() - start - start_s - request_s
    cpu_s = time.process_time() - cpu_start  # this process's threads (the builtin server runs in one of them)
    choice = response.choices[0]
    usage = response.usage
    payload = {
        "engine": engine,
        "model": str(config.model),
        "request": {"messages": messages, "max_tokens": config.max_tokens, "temperature": 0},
        "reply": choice.message.content,
        "role": choice.message.role,
        "finish_reason": choice.finish_reason,
        "usage": {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
        },
        "prompt_tokens_expected": expected_prompt,
        "prompt_matches_encode_chat": usage.prompt_tokens == expected_prompt,
        "health_status": health,
        "start_s": start_s,
        "request_s": request_s,
        "stop_s": stop_s,
        "cpu_s": cpu_s,
        "ok": health == 200 and choice.message.role == "assistant" and usage.prompt_tokens == expected_prompt,
    }
    write_summary(stage_dir, "serve_check", payload)
    ctx.console.print(
        f"serve_check ({engine}): started in {start_s:.1f} s, answered {usage.completion_tokens} tokens in "
        f"{request_s:.2f} s: {choice.message.content!r}"
    )
    if not payload["ok"]:
        raise RuntimeError(f"serve_check: unexpected answer (see {stage_dir / 'summary.json'})")
    return {k: payload[k] for k in ("engine", "start_s", "request_s", "ok")}
