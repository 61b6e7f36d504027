"""``skywork longctx``: extend a model's context (RoPE scaling) and build chunk-interleaved pretraining data."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from skywork.utils.cli_options import model_argument, output_option, tokenizer_option

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


@app.command()
def cip(
    stream: Path = typer.Argument(
        ..., help="Input token stream of short documents (`skywork data tokenize`)."
    ),
    output: Path = output_option(help="Output directory; the CIP stream goes to OUTPUT/SOURCE/."),
    tokenizer: Path = tokenizer_option("Tokenizer directory (default: the one the stream was built with)."),
    source: str = typer.Option("cip", help="Name of the output stream."),
    target_tokens: int = typer.Option(4096, help="Tokens per sample at most (the long stage's seq_len)."),
    min_docs: int = typer.Option(3, help="Fewest documents per sample."),
    max_docs: int = typer.Option(8, help="Most documents per sample (<= 26)."),
    chunk_min: int = typer.Option(256, help="Chunks end at a sentence end at or after this many tokens..."),
    chunk_max: int = typer.Option(1024, help="...and at or before this many."),
    marker: str = typer.Option("[{name}] ", help="Text naming a chunk's document ({name} = A, B, ...)."),
    no_markers: bool = typer.Option(False, "--no-markers", help="Interleave without document markers."),
    long_min_tokens: int = typer.Option(
        None, help="Documents this long are copied whole (default: target_tokens // 2)."
    ),
    seed: int = typer.Option(0, help="Seed of the document order and the documents-per-sample draws."),
) -> None:
    """Chunk-interleaved pretraining samples (A1 B1 C1 A2 B2 ...) from a token stream, as a token stream."""
    from skywork.longctx.cip import CIPConfig, build_cip_stream

    if output is None:
        raise typer.BadParameter("missing option --output")
    config = CIPConfig(
        target_tokens=target_tokens,
        min_docs=min_docs,
        max_docs=max_docs,
        chunk_min=chunk_min,
        chunk_max=chunk_max,
        marker=None if no_markers else marker,
        long_min_tokens=long_min_tokens,
        seed=seed,
    )
    try:
        meta = build_cip_stream(stream, output, config, tokenizer_dir=tokenizer, source=source)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    info = meta["cip"]
    console.print(
        f"[bold]{source}[/bold]: {info['samples']['cip']:,} CIP samples and {info['samples']['long']:,} natural "
        f"long documents, {meta['tokens']:,} tokens from {info['input_docs']:,} documents -> {output / source}"
    )


@app.command()
def synl(
    output: Path = output_option(help="Output directory for train.jsonl, heldout.jsonl and manifest.json."),
    lengths: str = typer.Option(
        "2048,4096", help="Comma-separated table lengths in tokens (2K-100K at scale)."
    ),
    train_tables: int = typer.Option(20, help="Tables in train.jsonl (three questions each)."),
    heldout_tables: int = typer.Option(6, help="Tables in heldout.jsonl."),
    tokenizer: Path = tokenizer_option("Tokenizer directory for exact token counts (default: an estimate)."),
    seed: int = typer.Option(0, help="Random seed; the same seed writes the same files."),
) -> None:
    """Synthetic lengthy tables (SynL): chat-format long-SFT data with retrieval, CoT and global questions."""
    from skywork.data.synth.long_tables import LongTables, LongTablesConfig

    if output is None:
        raise typer.BadParameter("missing option --output")
    config = LongTablesConfig(
        seed=seed,
        lengths=[int(x) for x in lengths.split(",") if x.strip()],
        train_tables=train_tables,
        heldout_tables=heldout_tables,
        tokenizer=str(tokenizer) if tokenizer else None,
    )
    try:
        manifest = LongTables(config).generate(output)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    counts = {split: sum(kinds.values()) for split, kinds in manifest["questions"].items()}
    console.print(f"wrote {counts['train']} train and {counts['heldout']} held-out questions to {output}")


@app.command()
def cpt(
    config_path: Path = typer.Argument(..., help="LongCPTConfig YAML: pretraining keys + context_parallel."),
    resume: str = typer.Option("auto", help="auto: newest valid checkpoint if any; never; or a path."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the plan (memory per GPU with context parallel, FLOPs); no training."
    ),
    world_size: int = typer.Option(
        None, help="For --dry-run: GPUs to plan for (default: $WORLD_SIZE, plan)."
    ),
    gpu: str = typer.Option(None, "--gpu", help="For --dry-run: GPU type, e.g. a800-80g, h100-80g."),
) -> None:
    """Long-context continued pretraining (the recipe's long_cpt stage) from a YAML config.

    Multi-process, sequences sharded over C GPUs: torchrun --nproc_per_node N -m skywork.cli longctx cpt CONFIG
    with context_parallel: C in CONFIG.
    """
    import os

    from skywork.longctx.long_cpt import LongCPTConfig, run_long_cpt
    from skywork.utils.config import load_config

    config = load_config(LongCPTConfig, config_path)
    if dry_run:
        from skywork.train.plan import plan, render_plan

        world = world_size or int(os.environ.get("WORLD_SIZE", "0")) or None
        Console(width=max(console.width, 130)).print(render_plan(plan(config, world, gpu=gpu)))
        return
    summary = run_long_cpt(config, resume=resume)
    if int(os.environ.get("RANK", "0")) == 0:
        console.print(
            f"done: {summary['steps']} steps, {summary['tokens']:,} tokens, loss {summary['final_loss']:.4f}, "
            f"{summary['tokens_per_s']:,.0f} tok/s -> {summary['final_dir']}"
        )
