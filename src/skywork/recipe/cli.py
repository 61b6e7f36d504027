"""``skywork recipe``: run a whole Skywork recipe (data -> tokenizer -> pretraining -> evaluation -> report)."""

from __future__ import annotations

from pathlib import Path

import typer

from skywork.utils.cli_options import (
    legacy_argument,
    legacy_command,
    legacy_option,
    output_option,
    pick,
    print_keys,
)

app = typer.Typer(
    help="Run an end-to-end Skywork recipe from a YAML file: resumable stages, one log per stage, an HTML report.",
    no_args_is_help=True,
)


@app.command("run")
def run_command(
    recipe: Path = typer.Argument(..., help="Recipe YAML (e.g. recipes/demo.yaml)."),
    output: Path = output_option(help="The run directory: where stages write (default: runs/<recipe name>)."),
    run_dir: Path = legacy_option("--run-dir"),
    from_stage: str = typer.Option(None, "--from", help="Rerun this stage and every stage after it."),
    only: str = typer.Option(
        None, "--only", help="Run just this stage (the stages it reads must be complete)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Validate every config and print the plan; run nothing."
    ),
) -> None:
    """Run the stages that need running; completed stages with unchanged config and inputs are skipped.

    A failure or Ctrl-C keeps every completed stage; rerunning the same command continues from there.
    """
    import os
    import signal

    from rich.console import Console

    from skywork.recipe.kinds import KINDS
    from skywork.recipe.loading import load_recipe
    from skywork.recipe.report import report_path
    from skywork.recipe.runner import RecipeError, plan, print_plan, run_recipe
    from skywork.utils.io import InputError

    console = Console()
    err = Console(stderr=True)
    run_dir = pick(output, run_dir, "--output", "--run-dir") or Path("runs") / recipe.stem
    try:
        loaded = load_recipe(recipe, KINDS, run_dir)
        if dry_run:
            entries = plan(loaded, run_dir, from_stage, only)
            print_plan(entries, Path(run_dir).resolve(), console)
            unavailable = [e.stage.name for e in entries if e.action == "unavailable"]
            if unavailable:
                console.print(f"[yellow]unavailable in this installation: {', '.join(unavailable)}[/yellow]")
            console.print(f"recipe {recipe} is valid ({len(entries)} stages); nothing was run (--dry-run)")
            return
    except InputError as error:
        err.print(f"[red]invalid recipe[/red]: {error}")
        raise typer.Exit(2) from None

    main_pid = os.getpid()

    def on_sigterm(signum, frame):
        """A terminated run stops like Ctrl-C (state saved, stage named); worker processes a stage forked
        (datatrove's pool) inherit this handler and must simply die as they would by default."""
        if os.getpid() != main_pid:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        run_recipe(loaded, run_dir, KINDS, from_stage=from_stage, only=only, console=console)
    except InputError as error:
        err.print(f"[red]invalid recipe[/red]: {error}")
        raise typer.Exit(2) from None
    except RecipeError as error:
        err.print(f"[red]{'interrupted' if error.interrupted else 'failed'}[/red]: {error}")
        raise typer.Exit(130 if error.interrupted else 1) from None
    report = report_path(Path(run_dir))
    if report.exists():
        console.print(f"[bold green]report:[/bold green] {report.resolve()}")
    console.print(f"run directory: {Path(run_dir).resolve()}")


@app.command("keys")
def keys_command(
    kind: str = typer.Argument(None, help="Show every config key of this stage kind."),
) -> None:
    """List the stage kinds a recipe can use, or every config key of one kind."""
    from rich.console import Console
    from rich.table import Table

    from skywork.recipe.kinds import KINDS

    console = Console()
    if kind is None:
        table = Table(title="stage kinds")
        for col in ("kind", "what it runs", "available"):
            table.add_column(col)
        for name, spec in KINDS.items():
            try:
                spec.config_class()
                available = "yes"
            except Exception as error:  # noqa: BLE001
                available = f"no: {error}"
            table.add_row(name, spec.help, available)
        console.print(table)
        return
    if kind not in KINDS:
        raise typer.BadParameter(f"unknown kind {kind!r} (known: {', '.join(KINDS)})")
    cls = KINDS[kind].config_class()
    print_keys(cls, title=f"{kind}: {cls.__name__}")


legacy_command(app, "kinds", keys_command, "keys")


@app.command("corpus")
def corpus_command(
    output: Path = output_option(help="Output directory."),
    size_mb: float = typer.Option(20.0, help="Approximate training text size in MB."),
    seed: int = typer.Option(0, help="Random seed."),
    out_dir: Path = legacy_argument(),
) -> None:
    """Write the embedded bilingual demo corpus (with planted defects and their labels) without a recipe."""
    import json

    out_dir = pick(output, out_dir, "--output", "the OUT_DIR argument", required=True)

    from skywork.data.synth.demo_corpus import DemoCorpusConfig, generate_corpus

    manifest = generate_corpus(DemoCorpusConfig(seed=seed, size_mb=size_mb), out_dir)
    print(json.dumps({k: manifest[k] for k in ("files", "defects", "valid", "leakage")}, indent=2))
