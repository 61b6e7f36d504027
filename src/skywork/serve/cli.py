"""``serve MODEL`` (an OpenAI-compatible server), ``quantize MODEL -o OUT`` (int8), ``export-gguf MODEL -o F``.

The main CLI registers them as ``skywork serve``, ``skywork quantize`` and ``skywork export gguf``.
Heavy imports happen inside the commands so ``--help`` stays fast.
"""

from __future__ import annotations

import signal
from pathlib import Path

import typer
from rich.console import Console

from skywork.utils.cli_options import (
    device_option,
    dtype_option,
    model_argument,
    output_option,
    quantize_option,
)

app = typer.Typer(
    help="Serve models through vLLM's OpenAI-compatible API; write int8 checkpoints and GGUF files.",
    no_args_is_help=True,
)
console = Console(stderr=True)

ENGINES = ("auto", "vllm", "builtin")


@app.callback()
def _group() -> None:
    """Keep ``serve`` a named sub-command (typer would make a lone command the app itself)."""


def resolve_engine(engine: str) -> str:
    """``auto`` is vLLM when its environment exists (``make serve-setup``), else the built-in server."""
    from skywork.serve.vllm import find_vllm_python

    if engine not in ENGINES:
        raise typer.BadParameter(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "auto":
        return "vllm" if find_vllm_python() is not None else "builtin"
    return engine


@app.command("serve")
def serve(
    model: Path = model_argument("Model directory (ours, official Skywork, plain LLaMA, or int8)."),
    host: str = typer.Option("127.0.0.1", help="Address to bind; anything but loopback needs --api-key."),
    port: int = typer.Option(8000, help="TCP port (0: any free port)."),
    engine: str = typer.Option("auto", help="auto (vllm when .venv-vllm exists), vllm or builtin."),
    api_key: str | None = typer.Option(
        None, envvar="SKYWORK_API_KEY", help="Require 'Authorization: Bearer KEY' on /v1 requests."
    ),
    max_model_len: int | None = typer.Option(None, help="Context length served (default: min(model, 4096))."),
    quantize: str | None = quantize_option(
        "int8: builtin, our int8 weight-only (online); vllm, a compressed-tensors W8A8 int8 copy it serves. "
        "bnb-int8: builtin on a CUDA GPU, bitsandbytes LLM.int8 (the official 8-bit mode)."
    ),
    served_model_name: str | None = typer.Option(None, help="Model name in the API (default: the dir name)."),
    kv_cache_gib: int = typer.Option(2, help="vLLM CPU KV-cache reservation in GiB (whole GiB)."),
    log_file: Path | None = typer.Option(None, help="Server log (default: next to the prepared directory)."),
    cache_dir: Path | None = typer.Option(None, help="Where prepared directories are cached."),
    enforce_eager: bool = typer.Option(
        False, "--enforce-eager", help="Skip vLLM's torch.compile warm-up: starts faster, generates slower."
    ),
    dtype: str = dtype_option(help="Weights dtype of the builtin engine: fp32, bf16 or fp16 (vLLM: bf16)."),
    device: str = device_option(),
    max_batch_size: int = typer.Option(32, help="Builtin engine: most sequences decoded in one batch."),
    compile: bool = typer.Option(
        False,
        "--compile",
        help="Builtin engine: torch.compile its decoding step (faster decoding; 20-60 s of compiling before "
        "the server opens on 2 cores). vLLM compiles unless --enforce-eager.",
    ),
    vllm_args: list[str] = typer.Option(
        [],
        "--vllm-arg",
        help="An extra argument for vLLM's server, repeatable: --vllm-arg=--stream-interval=4 "
        "--vllm-arg=--max-num-seqs=64. Flags skywork serve sets itself (--host, --port, --model, ...) are refused.",
    ),
) -> None:
    """Serve MODEL with the OpenAI API (/v1/models, /v1/completions, /v1/chat/completions, /health)."""
    from skywork.serve.prepare import prepare_vllm_dir
    from skywork.serve.vllm import ServeError, VLLMServer, check_exposure, check_extra_args

    chosen = resolve_engine(engine)
    try:
        check_exposure(host, api_key)
    except ServeError as err:
        raise typer.BadParameter(str(err), param_hint="--host") from None
    try:
        extra_args = check_extra_args(vllm_args)
    except ServeError as err:
        raise typer.BadParameter(str(err), param_hint="--vllm-arg") from None
    if extra_args and chosen != "vllm":
        raise typer.BadParameter(
            f"--vllm-arg needs the vllm engine (this run uses {chosen})", param_hint="--vllm-arg"
        )
    if chosen == "builtin":
        _serve_builtin(model, host, port, api_key, max_model_len, quantize, served_model_name, dtype, device,
                       max_batch_size, compile)  # fmt: skip
        return
    from skywork.serve.prepare import PrepareError

    console.print(f"preparing {model} for vLLM{' (W8A8 int8)' if quantize else ''} ...")
    try:
        prepared = prepare_vllm_dir(model, cache_root=cache_dir, quantize=quantize)
    except PrepareError as err:
        raise typer.BadParameter(str(err), param_hint="MODEL") from None
    server = VLLMServer(
        prepared,
        served_model_name=served_model_name or model.resolve().name,
        host=host,
        port=port,
        api_key=api_key,
        max_model_len=max_model_len,
        kvcache_gib=kv_cache_gib,
        log_path=log_file,
        extra_args=(["--enforce-eager"] if enforce_eager else []) + extra_args,
    )
    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops vLLM as Ctrl-C does
    console.print(f"starting vLLM on {prepared} (log: {server.log_path or 'next to it'}) ...")
    try:
        with server:
            console.print(f"serving {server.served_model_name!r} at {server.base_url}/v1 (Ctrl-C stops)")
            server.process.wait()
            console.print(f"vLLM exited with status {server.process.returncode}:\n{server.log_tail()}")
            raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopped")
    except ServeError as err:
        console.print(f"[red]{err}[/red]")
        raise typer.Exit(1) from None


def _serve_builtin(
    model, host, port, api_key, max_model_len, quantize, name, dtype, device, max_batch, compile=False
) -> None:
    from skywork.serve.builtin import BuiltinServer

    server = BuiltinServer(
        model,
        served_model_name=name,
        host=host,
        port=port,
        api_key=api_key,
        max_model_len=max_model_len,
        dtype=dtype,
        device=device,
        quantize=quantize,
        max_batch_rows=max_batch,
        compile=compile,
    )
    if compile:
        console.print("the decoding step compiles before the server opens (tens of seconds) ...")
    console.print(f"serving {model} with the builtin engine at {server.base_url}/v1 (Ctrl-C stops)")
    # uvicorn shuts down on SIGINT/SIGTERM, then re-raises the signal to the handler found before it started
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    console.print("stopped")


@app.command("quantize")
def quantize(
    model: Path = model_argument("Model directory to quantize."),
    output: Path = output_option(..., help="Output directory (int8 safetensors + config + tokenizer)."),
    method: str = typer.Option(
        "int8",
        help="int8: weight-only, per-channel symmetric (torchao's scheme; any device). bnb-int8: bitsandbytes "
        "LLM.int8 on a CUDA GPU, the official repo's offline 8-bit checkpoint.",
    ),
) -> None:
    """Write an int8 checkpoint of MODEL that reloads with skywork.model.quantize.load_quantized."""
    from skywork.model.quantize import METHODS, quantize_checkpoint, weight_bytes

    if method not in METHODS:
        raise typer.BadParameter(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    from skywork.model.quantize import BNB_INT8, check_bnb, load_for_inference
    from skywork.utils.device import resolve_device

    if method == BNB_INT8:
        try:
            check_bnb(resolve_device("auto"))
        except RuntimeError as err:
            raise typer.BadParameter(str(err), param_hint="--method") from None
    quantize_checkpoint(model, output, method=method)
    size = weight_bytes(load_for_inference(output)) / 2**20
    console.print(f"wrote {output} ({method}, {size:.1f} MiB of weights)")


@app.command("export-gguf")
def export_gguf_command(
    model: Path = model_argument("Model directory (with the SentencePiece tokenizer.model)."),
    output: Path = output_option(..., help="Output .gguf file."),
    outtype: str = typer.Option("f16", help="f16, or q8_0 (llama.cpp's 8-bit blocks)."),
) -> None:
    """Write MODEL as a llama-architecture GGUF file for llama.cpp (`skywork export gguf`)."""
    from skywork.model.gguf import OUT_TYPES, export_gguf

    if outtype not in OUT_TYPES:
        raise typer.BadParameter(f"unknown type {outtype!r}; choose one of {', '.join(OUT_TYPES)}")
    path = export_gguf(model, output, outtype=outtype)
    console.print(f"wrote {path} ({outtype}, {path.stat().st_size / 2**20:.1f} MiB)")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    app()
