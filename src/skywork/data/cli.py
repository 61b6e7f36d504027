"""``skywork data``: run the cleaning pipeline, report on a run, train the quality model."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="SkyPile data pipeline on datatrove: extraction, language ID, quality rules, dedup, accounting.",
    no_args_is_help=True,
)
console = Console()


@app.command("run")
def run_command(
    pipeline_yaml: Path = typer.Argument(
        ..., help="Pipeline YAML (keys: see docs/data.md or `config-help`)."
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


@app.command("config-help")
def config_help() -> None:
    """Print every pipeline YAML key with its default and meaning."""
    from skywork.data.pipeline import PipelineConfig
    from skywork.utils.config import describe

    table = Table(title="pipeline YAML keys")
    for column in ("key", "type", "default", "meaning"):
        table.add_column(column)
    for row in describe(PipelineConfig):
        table.add_row(*row)
    console.print(table)
