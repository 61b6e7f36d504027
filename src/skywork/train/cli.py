"""``skywork train``: pretraining stages from a YAML config (``skywork data tokenize`` builds their shards)."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(
    help="Pretraining (two-stage schedules on packed token shards), continued pretraining and SFT, single "
    "process or under torchrun.",
    no_args_is_help=True,
)


@app.command()
def pretrain(
    config_path: Path = typer.Argument(
        ..., help="PretrainConfig YAML (see docs/pretraining.md for every key)."
    ),
    resume: str = typer.Option(
        "auto", help="auto: continue from the newest valid checkpoint if any; never: start fresh; or a path."
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Validate the config and print the plan, memory and FLOPs estimates; no training.",
    ),
    world_size: int = typer.Option(
        None,
        help="For --dry-run: GPUs to plan for (default: $WORLD_SIZE, then the config's plan.world_size, 1).",
    ),
    tp: int = typer.Option(None, "--tp", help="For --dry-run: tensor-parallel ranks (plan.tensor_parallel)."),
    pp: int = typer.Option(None, "--pp", help="For --dry-run: pipeline stages (plan.pipeline_parallel)."),
    zero: int = typer.Option(None, "--zero", help="For --dry-run: ZeRO stage 0-3 (plan.zero_stage)."),
    gpu: str = typer.Option(
        None, "--gpu", help="For --dry-run: GPU type, e.g. a800-80g, h100-80g (plan.gpu)."
    ),
    as_json: bool = typer.Option(False, "--json", help="For --dry-run: print the plan as JSON."),
) -> None:
    """Run one pretraining stage (stage 2 = a config with model.init_from pointing at stage 1's final/).

    Multi-process: torchrun --nproc_per_node N -m skywork.cli train pretrain CONFIG.yaml
    """
    import logging
    import os

    from rich.console import Console

    from skywork.train.config import PretrainConfig
    from skywork.utils.config import load_config

    console = Console()
    config = load_config(PretrainConfig, config_path)
    if dry_run:
        from skywork.train.plan import plan, render_plan

        world = world_size or int(os.environ.get("WORLD_SIZE", "0")) or None
        the_plan = plan(config, world, tensor=tp, pipeline=pp, zero=zero, gpu=gpu)
        if as_json:
            import json

            print(json.dumps(the_plan, indent=2))
        else:
            Console(width=max(console.width, 130)).print(render_plan(the_plan))
        return
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from skywork.train.loop import run_pretraining

    summary = run_pretraining(config, resume=resume)
    if int(os.environ.get("RANK", "0")) == 0:
        console.print(
            f"done: {summary['steps']} steps, {summary['tokens']:,} tokens, loss {summary['final_loss']:.4f}, "
            f"val {summary['val_loss']}, {summary['tokens_per_s']:,.0f} tok/s, MFU {summary['mfu']:.1%}, "
            f"skipped {summary['skipped_steps']} -> {summary['final_dir']}"
        )


def _run_finetune(kind: str, config_path: Path, resume: str) -> None:
    import logging
    import os

    from rich.console import Console

    from skywork.train.finetune_config import CPTConfig, SFTConfig
    from skywork.utils.config import load_config

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if kind == "sft":
        from skywork.train.sft import run_sft as run

        config = load_config(SFTConfig, config_path)
    else:
        from skywork.train.cpt import run_cpt as run

        config = load_config(CPTConfig, config_path)
    summary = run(config, resume=resume)
    if int(os.environ.get("RANK", "0")) == 0:
        Console().print(
            f"done: {summary['steps']} steps, loss {summary['final_loss']:.4f}, val {summary['val_loss']}"
            f"{' (LoRA adapter)' if summary.get('lora') else ''} -> {summary['final_dir']}"
        )


_RESUME_HELP = "auto: continue from the newest valid checkpoint if any; never: start fresh; or a path."


@app.command()
def sft(
    config_path: Path = typer.Argument(
        ..., help="SFTConfig YAML (docs/finetuning.md; `skywork train keys sft`)."
    ),
    resume: str = typer.Option("auto", help=_RESUME_HELP),
) -> None:
    """Supervised fine-tuning (full or LoRA) from a model directory, packed without cross-contamination.

    Multi-process: torchrun --nproc_per_node N -m skywork.cli train sft CONFIG.yaml
    """
    _run_finetune("sft", config_path, resume)


@app.command()
def cpt(
    config_path: Path = typer.Argument(
        ..., help="CPTConfig YAML (docs/finetuning.md; `skywork train keys cpt`)."
    ),
    resume: str = typer.Option("auto", help=_RESUME_HELP),
) -> None:
    """Continued pretraining (full or LoRA) from a model directory on raw JSONL/text, in fixed blocks."""
    _run_finetune("cpt", config_path, resume)


@app.command("self-compare")
def self_compare(
    config_path: Path = typer.Argument(
        ..., help="SelfCompareConfig YAML (docs/math.md; `skywork train keys self-compare`)."
    ),
    resume: str = typer.Option(
        "auto", help="auto: redo only what is missing; never: start the rounds afresh."
    ),
) -> None:
    """SkyMath self-compare fine-tuning: rounds of sample k -> grade -> build comparison data -> SFT."""
    from skywork.math.cli import run_self_compare_command

    run_self_compare_command(config_path, resume)


@app.command()
def plot(
    run_dir: Path = typer.Argument(..., help="A pretraining run directory (holds metrics.jsonl)."),
) -> None:
    """Redraw the PNG plots of a run (loss per held-out set, learning rate, throughput, mixture)."""
    from skywork.train.plots import plot_run
    from skywork.utils.io import InputError
    from skywork.utils.summary import read_summary

    try:
        previous = [Path(p) for p in read_summary(run_dir, "pretrain").get("continues", [])]
    except InputError:  # a run that has not finished: this stage alone
        previous = []
    for path in plot_run(run_dir, [p for p in previous if p.is_dir()]).values():
        print(path)


@app.command("keys")
def keys_command(
    kind: str = typer.Argument("pretrain", help="Which config: pretrain, sft, cpt or self-compare."),
) -> None:
    """Print every config key (nested keys dotted) with its default and meaning."""
    from skywork.math.config import SelfCompareConfig
    from skywork.train.config import PretrainConfig
    from skywork.train.finetune_config import CPTConfig, SFTConfig
    from skywork.utils.cli_options import print_keys

    configs = {
        "pretrain": PretrainConfig,
        "sft": SFTConfig,
        "cpt": CPTConfig,
        "self-compare": SelfCompareConfig,
    }
    if kind not in configs:
        raise typer.BadParameter(f"unknown config {kind!r} ({', '.join(configs)})")
    print_keys(configs[kind], title=f"{kind} config keys")


if __name__ == "__main__":  # python -m skywork.train.cli pretrain CONFIG.yaml (also: torchrun -m ...)
    app()
