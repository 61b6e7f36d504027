"""The ``skywork`` command line: the single entry point of the toolkit.

Each link of the chain contributes a sub-command group from its own ``<stage>/cli.py`` (tokenizer, data, train,
eval, recipe, ...); the model-level commands (info, generate, chat, export) live here. Heavy imports happen
inside commands so ``skywork --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from skywork.utils.cli_options import (
    device_option,
    dtype_option,
    legacy_argument,
    model_argument,
    output_option,
    pick,
    quantize_option,
    sampling_options,
    tokenizer_option,
)
from skywork.utils.device import resolve_device
from skywork.utils.optional import optional_import

app = typer.Typer(
    name="skywork",
    help="Reproduce the Skywork LLM system: SkyPile data cleaning, the bilingual tokenizer, two-stage "
    "pretraining and evaluation, end to end with `skywork recipe run`, from a laptop CPU to a GPU cluster.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)

export_app = typer.Typer(help="Convert Skywork checkpoints for other tools.", no_args_is_help=True)
app.add_typer(export_app, name="export")

# Stage command groups: (module, name), one per room of the chain that has a command line. A group whose optional
# dependencies are missing is not offered (its module's own import error says which extra to install).
STAGE_GROUPS = [
    ("skywork.recipe.cli", "recipe"),
    ("skywork.data.cli", "data"),
    ("skywork.tokenizer.cli", "tokenizer"),
    ("skywork.train.cli", "train"),
    ("skywork.eval.cli", "eval"),
    ("skywork.longctx.cli", "longctx"),
]

for _module, _name in STAGE_GROUPS:
    _mod = optional_import(_module)
    if _mod is not None:
        app.add_typer(_mod.app, name=_name)

# Commands that belong to a group owned by another stage module: (group, command, module, function).
CROSS_GROUP_COMMANDS = [
    ("data", "tokenize", "skywork.train.shards", "tokenize_command"),
]
_groups = {info.name: info.typer_instance for info in app.registered_groups}
for _group, _command, _module, _func in CROSS_GROUP_COMMANDS:
    _mod = optional_import(_module)
    if _group in _groups and _mod is not None:
        _groups[_group].command(_command)(getattr(_mod, _func))


# Model-level commands defined in their own room: (group or None for top level, command, module, function).
MODEL_COMMANDS = [
    (None, "serve", "skywork.serve.cli", "serve"),
    (None, "quantize", "skywork.serve.cli", "quantize"),
    ("export", "gguf", "skywork.serve.cli", "export_gguf_command"),
]
for _group, _command, _module, _func in MODEL_COMMANDS:
    _mod = optional_import(_module)
    if _mod is not None:
        (export_app if _group == "export" else app).command(_command)(getattr(_mod, _func))


@app.command()
def info(
    model: str = model_argument(
        "A preset name (skywork-13b, llama2-13b, skywork-small, skywork-tiny) or a model directory."
    ),
    seq_len: int = typer.Option(
        None, help="Sequence length for the FLOPs estimate (default: training length)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Shape, parameter count (meta device, no memory), FLOPs per token and weight memory of a model."""
    from skywork.model.config import PRESETS, load_config
    from skywork.model.stats import model_stats

    if _mm_info(model, as_json):
        return
    config = load_config(model)
    if seq_len is None:
        seq_len = (
            PRESETS[model].train_seq_len if model in PRESETS else min(config.max_position_embeddings, 4096)
        )
    stats = model_stats(config, seq_len)
    if as_json:
        print(json.dumps(stats.as_dict(), indent=2))
        return
    table = Table(title=f"{model}", show_header=False)
    rows = [
        ("layers", stats.layers),
        ("hidden", stats.hidden),
        ("FFN", stats.ffn),
        ("heads (kv)", f"{stats.heads} ({stats.kv_heads}) x {stats.head_dim}"),
        ("vocab", stats.vocab),
        ("parameters", f"{stats.params:,} ({stats.params / 1e9:.2f} B)"),
        ("  embedding", f"{stats.params_embedding:,}"),
        ("  non-embedding", f"{stats.params_non_embedding:,}"),
        ("FLOPs/token forward", f"{stats.flops_per_token_forward:.3e} (seq {stats.seq_len})"),
        ("FLOPs/token training", f"{stats.flops_per_token_train:.3e}"),
        ("weights bf16", f"{stats.weights_gib_bf16:.2f} GiB"),
        ("weights int8", f"{stats.weights_gib_int8:.2f} GiB"),
    ]
    for key, value in rows:
        table.add_row(key, str(value))
    console.print(table)


_DTYPE = dtype_option()
_DEVICE = device_option()


@app.command()
@sampling_options
def generate(
    model_dir: Path = model_argument(),
    prompt: str = typer.Option(..., "--prompt", "-p", help="Text to continue."),
    tokenizer: Path = tokenizer_option(),
    dtype: str = _DTYPE,
    device: str = _DEVICE,
    image: Path = typer.Option(
        None, "--image", help="Multimodal models: an image the prompt (a question) is about."
    ),
    quantize: str = quantize_option(),
    sampling=None,
) -> None:
    """Continue a prompt, streaming tokens as they are produced (multimodal models: answer it about --image)."""
    from skywork import tokenizer as tok
    from skywork.inference.generation import generate_text
    from skywork.model.quantize import load_for_inference

    if _is_mm(model_dir, image):
        from skywork.mm.chat import answer_stream, load_for_chat

        model, tk, settings = load_for_chat(model_dir, dtype, resolve_device(device))
        for piece in answer_stream(model, tk, settings, prompt, image, sampling):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
        return
    model = load_for_inference(model_dir, dtype, device, quantize)
    tk = tok.load(tokenizer or model_dir)
    sys.stdout.write(prompt)
    for piece in generate_text(model, tk, prompt, sampling):
        sys.stdout.write(piece)
        sys.stdout.flush()
    sys.stdout.write("\n")


@app.command()
@sampling_options
def chat(
    model_dir: Path = model_argument(),
    tokenizer: Path = tokenizer_option(),
    system: str = typer.Option(None, help="Optional system text prefixed to the first prompt."),
    dtype: str = _DTYPE,
    device: str = _DEVICE,
    image: Path = typer.Option(
        None, "--image", help="Multimodal models: attach this image to the first message (/image PATH later)."
    ),
    quantize: str = quantize_option(),
    sampling=None,
) -> None:
    """Multi-turn chat in the official Skywork format. Commands: /reset clears the history, /exit quits,
    /image PATH attaches an image to the next message (multimodal models)."""
    from skywork import tokenizer as tok
    from skywork.inference.generation import ChatSession
    from skywork.model.quantize import load_for_inference

    if _is_mm(model_dir, image):
        from skywork.mm.chat import MMChatSession, load_for_chat

        model, tk, settings = load_for_chat(model_dir, dtype, resolve_device(device))
        session = MMChatSession(model, tk, sampling, settings, system=system)
        if image is not None:
            session.attach(image)
    else:
        model = load_for_inference(model_dir, dtype, device, quantize)
        session = ChatSession(
            model,
            tok.load(tokenizer or model_dir),
            sampling,
            system=system,
        )
    console.print("[dim]Type a message; /reset clears the conversation, /exit quits.[/dim]")
    while True:
        try:
            text = input("user> ")
        except (EOFError, KeyboardInterrupt):
            print()
            break
        if text.strip() == "/exit":
            break
        if text.strip() == "/reset":
            session.reset()
            console.print("[dim](conversation cleared)[/dim]")
            continue
        if text.strip().startswith("/image"):
            if not hasattr(session, "attach"):
                console.print("[red]this model takes no images[/red]")
            else:
                session.attach(text.strip()[len("/image") :].strip())
                console.print("[dim](image attached to the next message)[/dim]")
            continue
        if not text.strip():
            continue
        sys.stdout.write("bot> ")
        for piece in session.send(text):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")


def _is_mm(model_dir: Path, image: Path | None) -> bool:
    """Whether ``model_dir`` is a multimodal model; ``--image`` on a text model is an error."""
    from skywork.mm.model import is_mm_model_dir

    multimodal = is_mm_model_dir(model_dir)
    if image is not None and not multimodal:
        raise typer.BadParameter(
            f"{model_dir} is a text model; --image needs a multimodal model (skywork.mm)"
        )
    return multimodal


def _mm_info(model: str, as_json: bool) -> bool:
    """``skywork info`` of a multimodal directory: parameters per part and image tokens per image."""
    from skywork.mm.model import is_mm_model_dir

    if not is_mm_model_dir(model):
        return False
    from skywork.mm.model import describe, load_mm_model

    facts = describe(load_mm_model(model))
    if as_json:
        print(json.dumps(facts, indent=2))
        return True
    table = Table(title=f"{model} (multimodal)", show_header=False)
    for key, value in facts.items():
        if key == "parameters":
            table.add_row("parameters", f"{sum(value.values()):,}")
            for part, count in value.items():
                table.add_row(f"  {part}", f"{count:,}")
        else:
            table.add_row(key.replace("_", " "), str(value))
    console.print(table)
    return True


@export_app.command("llama")
def export_llama_cmd(
    src: Path = model_argument("Skywork model directory (ours or official)."),
    output: Path = output_option(help="Output directory for the plain LLaMA checkpoint."),
    out: Path = legacy_argument(),
) -> None:
    """Write a plain LLaMA checkpoint (model_type llama, safetensors) that LLaMA tools load as is."""
    from skywork.model.export import export_llama

    out = pick(output, out, "--output", "the OUT argument", required=True)

    export_llama(src, out)
    console.print(f"wrote {out}")


@export_app.command("merge-lora")
def export_merge_lora_cmd(
    adapter: Path = typer.Argument(
        ..., metavar="ADAPTER", help="LoRA adapter directory (skywork train sft/cpt)."
    ),
    output: Path = output_option(help="Output directory for the merged model (a plain model directory)."),
    base: Path = typer.Option(
        None, "--base", help="Base model directory (default: the adapter's own record)."
    ),
) -> None:
    """Merge a LoRA adapter into its base model (fp32) and write a plain model directory with the tokenizer."""
    from skywork.finetune.lora import merge_lora

    if output is None:
        raise typer.BadParameter("give --output/-o")
    merge_lora(adapter, output, base)
    console.print(f"wrote {output}")


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
