"""``skywork eval longtable`` and ``skywork eval position-loss`` (registered in ``skywork.eval.cli``)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from skywork.utils.cli_options import (
    device_option,
    dtype_option,
    limit_option,
    model_argument,
    output_option,
    tokenizer_option,
)

console = Console()


def _load(model_dir: Path, tokenizer_dir: Path | None, dtype: str, device: str):
    from skywork.eval.adapter import ModelAdapter

    adapter = ModelAdapter.load(model_dir, tokenizer_dir, dtype=dtype, device=device, chat=False)
    return adapter.model, adapter.tokenizer


def longtable(
    model: Path = model_argument("Model directory (an SFT model: questions go through its chat template)."),
    data: Path = typer.Option(
        ..., "--data", help="SynL held-out JSONL (`skywork longctx synl` heldout.jsonl)."
    ),
    limit: int = limit_option(),
    max_new_tokens: int = typer.Option(96, help="Answer budget in tokens (cot answers write their steps)."),
    batch_size: int = typer.Option(4, help="Questions generated together."),
    tokenizer: Path = tokenizer_option(),
    dtype: str = dtype_option(),
    device: str = device_option(),
    output: Path = output_option(help="Output directory for summary.json and samples.jsonl."),
) -> None:
    """SynL held-out accuracy by question kind and table length (greedy, deterministic scoring), JSON + table."""
    from skywork.eval.longtable import LongTableConfig, run_longtable, write_longtable_results

    config = LongTableConfig(
        data=str(data), limit=limit, max_new_tokens=max_new_tokens, batch_size=batch_size
    )
    lm, tok = _load(model, tokenizer, dtype, device)
    res = run_longtable(lm, tok, config, progress=True)
    lengths = list(res["by_length"])
    table = Table(
        title=f"SynL held-out accuracy ({res['questions']} questions, skipped {res['skipped_too_long']})"
    )
    table.add_column("kind")
    for length in lengths:
        table.add_column(f"{length} tok", justify="right")
    table.add_column("all", justify="right")
    for kind, overall in res["by_kind"].items():
        cells = [res["by_kind_length"].get(f"{kind}@{length}") for length in lengths]
        table.add_row(
            kind, *(f"{100 * c['accuracy']:.0f}% ({c['n']})" if c else "-" for c in cells),
            f"{100 * overall['accuracy']:.0f}%",
        )  # fmt: skip
    console.print(table)
    summary = write_longtable_results(
        output or Path("runs") / "longtable" / model.name, res, model=str(model)
    )
    console.print(f"[dim]summary written to {summary}[/dim]")


def position_loss(
    model: Path = model_argument("Model directory."),
    files: list[Path] = typer.Argument(
        ..., help="Long documents: JSONL(.gz) with a text field, or .txt files."
    ),
    max_len: int = typer.Option(4096, "--max-len", help="Positions evaluated (tokens per row)."),
    bucket: int = typer.Option(64, help="Positions averaged per point of the curve."),
    max_rows: int = typer.Option(16, help="Rows of max_len tokens evaluated at most."),
    join: bool = typer.Option(True, "--join/--no-join", help="Join short documents into full rows."),
    text_field: str = typer.Option("text", help="The JSONL field holding the text."),
    tokenizer: Path = tokenizer_option(),
    dtype: str = dtype_option(),
    device: str = device_option(),
    output: Path = output_option(help="Output directory for summary.json and position_loss.png."),
) -> None:
    """Next-token loss by position over long documents: does it keep falling past the training length?"""
    from skywork.eval.position_loss import PositionLossConfig, run_position_loss, write_position_loss_results

    config = PositionLossConfig(
        files=[str(f) for f in files],
        max_len=max_len,
        bucket=bucket,
        max_rows=max_rows,
        join=join,
        text_field=text_field,
    )
    lm, tok = _load(model, tokenizer, dtype, device)
    res = run_position_loss(lm, tok, config, progress=True)
    table = Table(
        title=f"loss by position ({res['rows']} rows, trained length {res['trained_length'] or '?'})"
    )
    table.add_column("positions")
    table.add_column("loss", justify="right")
    table.add_column("tokens", justify="right")
    for point in res["curve"]:
        table.add_row(f"{point['start']}-{point['end']}", f"{point['loss']:.3f}", f"{point['tokens']:,}")
    console.print(table)
    summary = write_position_loss_results(
        output or Path("runs") / "position_loss" / model.name, res, model=str(model)
    )
    console.print(f"[dim]summary written to {summary}[/dim]")
