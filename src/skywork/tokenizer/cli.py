"""``skywork tokenizer``: train the Skywork bilingual vocabulary and report its compression."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Train the Skywork bilingual tokenizer (Latin BPE + Chinese characters + Chinese words + reserved) "
    "and compare its compression with a plain BPE.",
    no_args_is_help=True,
)


def _fail(err: Exception) -> None:
    from rich.console import Console

    Console(stderr=True).print(f"[red]error:[/red] {err}")
    raise typer.Exit(code=2)


@app.command("train")
def train_command(
    config: Path = typer.Argument(
        ..., help="YAML config (keys: see docs/tokenizer.md or `skywork tokenizer keys`)."
    ),
    out: Path = typer.Option(..., "--out", help="Output tokenizer directory (replaced atomically)."),
) -> None:
    """Build one SentencePiece BPE of the configured composition plus the HF files beside it."""
    from rich.console import Console
    from rich.table import Table

    from skywork.tokenizer.train import load_train_config, train_tokenizer
    from skywork.utils.io import InputError

    console = Console()
    try:
        cfg = load_train_config(config)
        report = train_tokenizer(cfg, out, progress=console.log)
    except (InputError, FileNotFoundError) as err:
        _fail(err)
    table = Table(title=f"{out} ({report['vocab_size']:,} entries)")
    for col in ("part", "size", "from corpus", "from jieba dictionary"):
        table.add_column(col, justify="right" if col != "part" else "left")
    comp = report["composition"]
    table.add_row("Latin/code BPE", f"{comp['latin']:,}", "", "")
    for key, label in (("chinese_chars", "Chinese characters"), ("chinese_words", "Chinese words")):
        info = report[key]
        table.add_row(label, f"{comp[key]:,}", f"{info['from_corpus']:,}", f"{info['from_dictionary']:,}")
    table.add_row("reserved", f"{comp['reserved']:,}", "", "")
    console.print(table)
    fast = report["fast_tokenizer"]
    console.print(
        f"tokenizer.json vs SentencePiece: {fast['mismatches']} mismatches on {fast['texts']:,} texts "
        f"-> tokenizer_class {fast['tokenizer_class']}; long lines split: {report['corpus']['long_lines_split']:,}"
    )


@app.command("keys")
def keys_command() -> None:
    """List every config key with its default and meaning."""
    from skywork.tokenizer.train import TokenizerTrainConfig
    from skywork.utils.config import describe

    for key, type_name, default, help_text in describe(TokenizerTrainConfig):
        typer.echo(f"{key} ({type_name}, default {default}): {help_text}")
