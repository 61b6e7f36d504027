"""The one command-line vocabulary: the same flag means the same thing in every ``skywork`` group.

``MODEL`` is the positional model directory, ``--tokenizer`` a tokenizer directory, ``--output/-o`` where a
command writes, ``--limit`` "only the first N items" (quick runs), ``--device`` (default ``auto``, resolved by
:func:`skywork.utils.device.resolve_device`) and ``--dtype`` the weights' dtype; ``keys`` lists a group's config
keys. Old spellings stay for one release as hidden options (:func:`legacy_option`) merged by :func:`pick`, and
hidden commands (:func:`legacy_command`); both warn on stderr when used.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer

DEVICE_HELP = "auto (cuda if available, else cpu), cpu, cuda, cuda:1, ..."
DTYPE_HELP = "Weights dtype: fp32, bf16 or fp16."


def model_argument(help: str = "Model directory (ours, official Skywork or LLaMA).") -> Any:
    """The positional ``MODEL`` of every command that loads a model."""
    return typer.Argument(..., metavar="MODEL", help=help)


def output_option(default: Any = None, help: str = "Where to write the results.") -> Any:
    """``--output/-o``: the file or directory a command writes."""
    return typer.Option(default, "--output", "-o", help=help)


def tokenizer_option(help: str = "Tokenizer directory (default: the model directory).") -> Any:
    return typer.Option(None, "--tokenizer", help=help)


def device_option(help: str = DEVICE_HELP) -> Any:
    return typer.Option("auto", "--device", help=help)


def dtype_option(default: str = "fp32", help: str = DTYPE_HELP) -> Any:
    return typer.Option(default, "--dtype", help=help)


def limit_option(help: str = "Only the first N items (quick runs; not the official protocol).") -> Any:
    return typer.Option(None, "--limit", help=help)


def legacy_option(*names: str) -> Any:
    """A deprecated spelling kept for one release: accepted, hidden from ``--help``, merged with :func:`pick`."""
    return typer.Option(None, *names, hidden=True)


def legacy_argument() -> Any:
    """A deprecated positional (e.g. the old ``OUT`` argument that became ``--output``), hidden from ``--help``."""
    return typer.Argument(None, hidden=True)


def legacy_command(app: typer.Typer, old_name: str, command: Callable, new_name: str) -> None:
    """Register ``command`` again under its deprecated name: hidden from ``--help``, warns on stderr when used."""

    @functools.wraps(command)
    def alias(*args: Any, **kwargs: Any) -> Any:
        typer.echo(f"warning: `{old_name}` is deprecated; use `{new_name}`", err=True)
        return command(*args, **kwargs)

    app.command(old_name, hidden=True, help=f"Deprecated spelling of `{new_name}`.")(alias)


def pick(value: Any, legacy: Any, name: str, legacy_name: str, required: bool = False) -> Any:
    """The value of option ``name``, or of its deprecated spelling ``legacy_name`` (with a warning on stderr)."""
    if legacy is not None:
        if value is not None:
            raise typer.BadParameter(f"give {name} only ({legacy_name} is its deprecated spelling)")
        typer.echo(f"warning: {legacy_name} is deprecated; use {name}", err=True)
        return legacy
    if value is None and required:
        raise typer.BadParameter(f"missing option {name}")
    return value


def print_keys(cls: type, title: str | None = None) -> None:
    """The ``keys`` verb: every config key of ``cls`` (nested keys dotted) with type, default and meaning."""
    from rich.console import Console
    from rich.table import Table

    from skywork.utils.config import describe

    table = Table(title=title or f"{cls.__name__} keys")
    for column in ("key", "type", "default", "meaning"):
        table.add_column(column)
    for row in describe(cls):
        table.add_row(*row)
    Console().print(table)


# name, type, typer option: the generation flags shared by every command that samples text
_SAMPLING_FLAGS: list[tuple[str, type, Any]] = [
    ("max_new_tokens", int, typer.Option(256, help="Maximum new tokens.")),
    (
        "greedy",
        bool,
        typer.Option(False, "--greedy", help="Greedy decoding instead of the official sampling."),
    ),
    ("temperature", float, typer.Option(0.95, help="Sampling temperature (official demo: 0.95).")),
    ("top_p", float, typer.Option(0.8, help="Nucleus sampling mass (official demo: 0.8).")),
    ("top_k", int, typer.Option(5, help="Top-k sampling (official demo: 5).")),
    ("repetition_penalty", float, typer.Option(1.1, help="Repetition penalty (official demo: 1.1).")),
    ("seed", int, typer.Option(None, help="Random seed for reproducible sampling.")),
]


def sampling_options(command: Callable) -> Callable:
    """Give a typer command the generation flags; it receives them as one ``SamplingParams`` named ``sampling``.

    One declaration of ``--max-new-tokens --greedy --temperature --top-p --top-k --repetition-penalty --seed``
    (the official demo's defaults) for ``generate``, ``chat`` and every later command that samples. ``--greedy``
    means temperature 0 and keeps the repetition penalty, as transformers' greedy search does.
    """
    import inspect

    signature = inspect.signature(command)
    kept = [p for p in signature.parameters.values() if p.name != "sampling"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
        for name, kind, option in _SAMPLING_FLAGS
    ]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from skywork.inference import SamplingParams

        flags = {name: kwargs.pop(name) for name, _, _ in _SAMPLING_FLAGS}
        greedy = flags.pop("greedy")
        if greedy:
            flags["temperature"] = 0.0
        return command(*args, sampling=SamplingParams(**flags), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=kept + added)  # type: ignore[attr-defined]
    hints = {k: v for k, v in getattr(command, "__annotations__", {}).items() if k != "sampling"}
    wrapper.__annotations__ = {**hints, **{name: kind for name, kind, _ in _SAMPLING_FLAGS}}
    return wrapper


QUANTIZE_HELP = (
    "Online quantization: int8 (weight-only, per-channel; embeddings, norms and the head stay bf16; any "
    "device), or bnb-int8 (bitsandbytes LLM.int8, the official repo's 8-bit mode; CUDA only). A directory "
    "from `skywork quantize` loads quantized without it."
)


def quantize_option(help: str = QUANTIZE_HELP) -> Any:
    """``--quantize int8`` of ``generate``, ``chat``, ``eval`` and ``serve`` (:func:`skywork.model.quantize.load_for_inference`)."""
    return typer.Option(None, "--quantize", help=help, callback=_check_quantize)


def _check_quantize(value: str | None) -> str | None:
    if value not in (None, "int8", "bnb-int8"):
        raise typer.BadParameter(f"unknown quantization {value!r}; choose int8 or bnb-int8")
    if value == "bnb-int8":  # refused before any loading where it cannot run (the model layer refuses too)
        import torch

        if not torch.cuda.is_available():
            raise typer.BadParameter(
                "bnb-int8 (bitsandbytes LLM.int8) needs a CUDA GPU and none is visible; use int8 (weight-only, "
                "any device)"
            )
    return value
