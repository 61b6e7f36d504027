"""``skywork tokenizer``: train the Skywork bilingual vocabulary and report its compression."""

from __future__ import annotations

from pathlib import Path

import typer

from skywork.utils.cli_options import legacy_option, output_option, pick, print_keys

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
    output: Path = output_option(help="Output tokenizer directory (replaced atomically)."),
    out: Path = legacy_option("--out"),
) -> None:
    """Build one SentencePiece BPE of the configured composition plus the HF files beside it."""
    out = pick(output, out, "--output", "--out", required=True)
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

    print_keys(TokenizerTrainConfig, title="tokenizer config keys")


@app.command("report")
def report_command(
    tokenizer_dir: Path = typer.Argument(..., help="A directory written by `skywork tokenizer train`."),
    text: list[str] = typer.Option(
        ...,
        "--text",
        help="Held-out text (.txt/.jsonl/.json/.py); prefix chinese=, english= or code= to label it, "
        "otherwise it is labelled from its content. Repeat for several files.",
    ),
    output: Path | None = output_option(help="JSON output (default: DIR/report.json)."),
    out: Path | None = legacy_option("--out"),
    baselines: bool = typer.Option(
        True,
        help="Also measure the plain BPE of equal size and the no-Chinese-words variant (cached in DIR).",
    ),
) -> None:
    """Composition table, characters per token and byte-fallback rate on held-out Chinese, English and code,
    against a plain BPE of the same size on the same corpus and the same tokenizer without its Chinese words."""
    out = pick(output, out, "--output", "--out")
    from rich.console import Console

    from skywork.tokenizer.report import print_report, tokenizer_report, write_report
    from skywork.utils.io import InputError

    console = Console()
    try:
        report = tokenizer_report(tokenizer_dir, text, baselines=baselines, progress=console.log)
    except (InputError, FileNotFoundError) as err:
        _fail(err)
    print_report(report, console)
    out = out or tokenizer_dir / "report.json"
    write_report(report, out)
    console.print(f"wrote {out}")
