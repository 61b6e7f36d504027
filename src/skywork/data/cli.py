"""``skywork data``: run the cleaning pipeline, report on a run, train the quality model."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from skywork.utils.cli_options import legacy_argument, legacy_command, output_option, pick, print_keys

app = typer.Typer(
    help="SkyPile data pipeline on datatrove: extraction, language ID, quality rules, dedup, accounting.",
    no_args_is_help=True,
)
console = Console()


@app.command("run")
def run_command(
    pipeline_yaml: Path = typer.Argument(
        ..., help="Pipeline YAML (keys: see docs/data.md or `skywork data keys`)."
    ),
    executor: str = typer.Option("local", help="'local' (datatrove LocalPipelineExecutor) or 'ray'."),
    workers: int = typer.Option(1, help="Tasks run at the same time."),
) -> None:
    """Run (or resume) a pipeline. Re-running the same YAML finishes only the unfinished tasks."""
    from skywork.data.pipeline import load_pipeline_config, run_pipeline
    from skywork.utils.io import InputError

    try:
        config = load_pipeline_config(pipeline_yaml)
        summary = run_pipeline(config, executor=executor, workers=workers)
    except InputError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    _print_summary(summary)
    console.print(f"summary: {Path(config.output_dir) / 'summary.json'}")


def _print_summary(summary: dict) -> None:
    table = Table(title=f"{summary['input']:,} input records -> {summary['kept']:,} kept")
    table.add_column("step")
    table.add_column("rule")
    table.add_column("removed", justify="right")
    for step, reasons in summary["excluded_by_step"].items():
        for reason, count in reasons.items():
            table.add_row(step, reason, f"{count:,}")
    console.print(table)
    console.print(f"balanced: {summary['balanced']}")


@app.command("report")
def report_command(
    run_dir: Path = typer.Argument(..., help="Output directory of `skywork data run`."),
    examples: int = typer.Option(3, help="Example documents shown per rule."),
) -> None:
    """Render the funnel (PNG + table) and examples of removed documents per rule into RUN_DIR/report/."""
    import json

    from skywork.data.report import render_report

    paths = render_report(run_dir, examples)
    _print_summary(json.loads((run_dir / "summary.json").read_text()))
    for kind, path in paths.items():
        console.print(f"{kind}: {path}")


@app.command("train-quality")
def train_quality_command(
    output: Path = output_option(help="Output directory for lm.npz, classifier.bin, quality_model.json."),
    reference: list[Path] = typer.Option(
        ..., help="Reference-quality text (Wikipedia, books): jsonl or txt."
    ),
    web: list[Path] = typer.Option(..., help="Raw web text (classifier negatives, bucket percentiles)."),
    order: int = typer.Option(4, help="Character n-gram order."),
    max_docs_per_file: int = typer.Option(5000, help="Cap on documents per file."),
    out_dir: Path = legacy_argument(),
) -> None:
    """Train the CCNet-style quality model: a character n-gram LM for perplexity buckets (edges at per-language
    percentiles of web text) and a fastText reference-vs-web classifier. Use it with quality_model.model_dir."""
    out_dir = pick(output, out_dir, "--output", "the OUT_DIR argument", required=True)
    from skywork.data.quality_model import QualityModelTrainConfig, train_quality_model

    info = train_quality_model(
        QualityModelTrainConfig(
            reference=[str(p) for p in reference],
            web=[str(p) for p in web],
            output_dir=str(out_dir),
            order=order,
            max_docs_per_file=max_docs_per_file,
        )
    )
    console.print(
        f"trained on {info['reference_docs']} reference / {info['web_docs']} web documents; "
        f"bucket edges {info['bucket_edges']}"
    )


@app.command("mix")
def mix_command(
    mix_yaml: Path = typer.Argument(
        ..., help="Mix YAML: inputs, output_dir, weights, max_repeat, target_chars."
    ),
) -> None:
    """Mix cleaned sources by weight (repetition capped, 5x by default) into shuffled shards for tokenization."""
    from skywork.data.mix import MixConfig, mix_sources
    from skywork.utils.config import load_config
    from skywork.utils.io import InputError

    try:
        report = mix_sources(load_config(MixConfig, mix_yaml))
    except InputError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from err
    table = Table(title=f"{report['documents']:,} documents, {report['output_chars']:,} characters")
    for column in ("source", "documents", "weight", "repeat", "actual share", "capped"):
        table.add_column(column)
    for source, info in report["sources"].items():
        table.add_row(
            source,
            str(info["documents"]),
            f"{info['weight']:.3f}",
            f"{info['repeat']:.2f}",
            f"{info['actual_share']:.3f}",
            str(info["capped"]),
        )
    console.print(table)


@app.command("keys")
def keys_command() -> None:
    """Print every pipeline YAML key with its default and meaning."""
    from skywork.data.pipeline import PipelineConfig

    print_keys(PipelineConfig, title="pipeline YAML keys")


legacy_command(app, "config-help", keys_command, "keys")
