"""``skywork longctx``: extend a model's context (RoPE scaling) and build chunk-interleaved pretraining data."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from skywork.utils.cli_options import model_argument, output_option

app = typer.Typer(
    help="LongSkywork context extension: RoPE scaling of a model directory and chunk-interleaved "
    "pretraining (CIP) data.",
    no_args_is_help=True,
)
console = Console()


@app.command()
def extend(
    model: Path = model_argument("Model directory to extend (ours, official Skywork or LLaMA)."),
    output: Path = output_option(help="Output directory for the extended model."),
    factor: float = typer.Option(..., "--factor", help="New context length / original length (e.g. 4)."),
    method: str = typer.Option(
        "ntk", "--method", help="linear, dynamic, ntk (NTK-aware base change), yarn or llama3."
    ),
    original_length: int = typer.Option(
        None,
        "--original-length",
        help="The length the model was trained at (default: its max_position_embeddings; Skywork-13B: 4096).",
    ),
) -> None:
    """Write MODEL with RoPE scaled to FACTOR x the trained length (weights copied; only config.json changes)."""
    from skywork.longctx.rope import extend_model_dir
    from skywork.model.config import load_config

    if output is None:
        raise typer.BadParameter("missing option --output")
    if original_length is None:
        original_length = load_config(model).max_position_embeddings
        console.print(
            f"[yellow]--original-length not given: using max_position_embeddings = {original_length}; give "
            "the trained length if the config overstates it (Skywork-13B says 131072, trained at 4096)[/yellow]"
        )
    try:
        out = extend_model_dir(model, output, factor, method, original_length)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    config = load_config(out)
    console.print(
        f"wrote {out}: {method} x{factor:g} from {original_length} tokens, max_position_embeddings "
        f"{config.max_position_embeddings}, rope {config.rope_parameters}"
    )
