"""The recipe runner: the stages of a loaded recipe run in order, each resumable and skipped when nothing changed.

:mod:`skywork.recipe.loading` reads and validates the recipe file; this module decides per stage whether to skip,
resume or rerun it, runs it with its own log (:mod:`skywork.recipe.stage_log`) and records its state.

Bookkeeping lives in ``RUN_DIR/.recipe/<stage>.json`` (status, config hash, inputs hash, output digest, times,
the exact config and the stage's result) and logs in ``RUN_DIR/logs/<stage>.log``; each stage writes its outputs
into ``RUN_DIR/<stage>/``. A stage is skipped when it completed with the same config hash and the same inputs
hash (the output digests of the stages it reads, and size/mtime of outside input files). A stage that was
interrupted or failed with an unchanged config resumes in its own directory (pretraining continues from its
last checkpoint); any other rerun starts from an empty directory.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from skywork.recipe.loading import (
    LOG_DIR,
    STATE_DIR,
    Recipe,
    Stage,
    StageContext,
    StageKind,
    StageUnavailable,
    load_recipe,
)
from skywork.recipe.stage_log import StageLog
from skywork.utils.config import config_hash, to_dict
from skywork.utils.digest import directory_digest
from skywork.utils.io import InputError, atomic_write_json

# What stage adapters, the report and the CLI import from here (defined in recipe/loading.py).
__all__ = [
    "PlanEntry",
    "Recipe",
    "RecipeError",
    "Stage",
    "StageContext",
    "StageKind",
    "StageUnavailable",
    "load_recipe",
    "plan",
    "print_plan",
    "read_state",
    "run_recipe",
    "stage_config_hash",
    "stage_inputs_hash",
]


class RecipeError(RuntimeError):
    """A stage failed or was interrupted; ``stage`` names it."""

    def __init__(self, stage: str, message: str, interrupted: bool = False):
        self.stage, self.interrupted = stage, interrupted
        super().__init__(message)


# ------------------------------------------------------------------------------------------------- state


def _state_path(run_dir: Path, name: str) -> Path:
    return run_dir / STATE_DIR / f"{name}.json"


def read_state(run_dir: Path, name: str) -> dict | None:
    path = _state_path(run_dir, name)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None  # a torn state file means: not completed


def stage_config_hash(stage: Stage, run_dir: Path) -> str:
    """Hash of kind + config, with the run directory written as ``$RUN_DIR`` so a moved run still matches."""
    blob = json.dumps(to_dict(stage.config), sort_keys=True, default=str, ensure_ascii=False)
    return config_hash({"kind": stage.kind, "config": blob.replace(str(run_dir), "$RUN_DIR")})


def stage_inputs_hash(stage: Stage, run_dir: Path) -> str:
    """Hash of what the stage reads: upstream output digests and outside files' size and mtime."""
    parts: dict[str, Any] = {}
    for dep in stage.deps:
        state = read_state(run_dir, dep) or {}
        parts[f"stage:{dep}"] = state.get("outputs_digest", "not-run")
    for item in stage.external_inputs:
        p = Path(item)
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        parts[f"file:{item}"] = [
            (str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files if f.exists()
        ]
    return config_hash(parts)


# ------------------------------------------------------------------------------------------------ running


@dataclass
class PlanEntry:
    stage: Stage
    action: str  # "skip", "run", "resume", "unavailable", "not selected"
    reason: str


def plan(
    recipe: Recipe, run_dir: Path, from_stage: str | None = None, only: str | None = None
) -> list[PlanEntry]:
    """What a run would do, stage by stage, and why (the ``--dry-run`` output)."""
    run_dir = Path(run_dir).resolve()
    names = [s.name for s in recipe.stages]
    for flag, value in (("--from", from_stage), ("--only", only)):
        if value is not None and value not in names:
            raise InputError(f"{flag}: no stage named {value!r} (stages: {', '.join(names)})", recipe.path)
    start = names.index(from_stage) if from_stage else None
    rerun: set[str] = set()
    entries = []
    for index, stage in enumerate(recipe.stages):
        state = read_state(run_dir, stage.name)
        if only and stage.name != only:
            entries.append(PlanEntry(stage, "not selected", "--only " + only))
            continue
        if stage.unavailable:
            entries.append(PlanEntry(stage, "unavailable", stage.unavailable))
            rerun.add(stage.name)
            continue
        config_h = stage_config_hash(stage, run_dir)
        upstream = [d for d in stage.deps if d in rerun]
        if only == stage.name:
            action, reason = "run", "--only"
        elif start is not None and index >= start:
            action, reason = "run", f"--from {from_stage}"
        elif upstream:
            action, reason = "run", f"upstream {', '.join(upstream)} runs first"
        elif state is None:
            action, reason = "run", "not run yet"
        elif state.get("config_hash") != config_h:
            action, reason = "run", "config changed"
        elif state.get("inputs_hash") != stage_inputs_hash(stage, run_dir):
            action, reason = "run", "inputs changed"
        elif not (run_dir / stage.name).exists():
            action, reason = "run", "outputs missing"
        elif state.get("status") == "done":
            action, reason = "skip", "up to date"
        else:
            action, reason = (
                "resume",
                f"previous attempt {state.get('status', 'unfinished')}; continues in place",
            )
        if action != "skip":
            rerun.add(stage.name)
        entries.append(PlanEntry(stage, action, reason))
    if only:
        missing = [
            d for d in recipe.stage(only).deps if (read_state(run_dir, d) or {}).get("status") != "done"
        ]
        if missing:
            raise InputError(
                f"--only {only}: it reads {', '.join(missing)}, which has not completed in {run_dir}; "
                "run the recipe without --only first",
                recipe.path,
            )
    return entries


def print_plan(entries: list[PlanEntry], run_dir: Path, console: Console) -> None:
    table = Table(title=f"plan for {run_dir}", show_lines=False)
    for col in ("#", "stage", "kind", "action", "why", "reads"):
        table.add_column(col)
    styles = {
        "skip": "green",
        "run": "yellow",
        "resume": "yellow",
        "unavailable": "red",
        "not selected": "dim",
    }
    for i, entry in enumerate(entries, start=1):
        style = styles.get(entry.action, "")
        table.add_row(
            str(i),
            entry.stage.name,
            entry.stage.kind,
            f"[{style}]{entry.action}[/{style}]",
            entry.reason,
            ", ".join(entry.stage.deps) or "-",
        )
    console.print(table)


def run_recipe(
    recipe: Recipe,
    run_dir: str | Path,
    kinds: dict[str, StageKind],
    from_stage: str | None = None,
    only: str | None = None,
    console: Console | None = None,
) -> dict[str, dict]:
    """Run the recipe's stages that need it; returns the state of every stage that completed.

    Raises :class:`RecipeError` naming the stage when one fails, is interrupted or is unavailable; the stages
    that completed before it keep their outputs and state.
    """
    console = console or Console()
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    entries = plan(recipe, run_dir, from_stage, only)
    print_plan(entries, run_dir, console)
    states: dict[str, dict] = {}
    total = len(entries)
    for index, entry in enumerate(entries, start=1):
        stage = entry.stage
        label = f"[{index}/{total}] {stage.name}"
        if entry.action == "not selected":
            state = read_state(run_dir, stage.name)
            if state and state.get("status") == "done":
                states[stage.name] = state
            continue
        if entry.action == "unavailable":
            message = (
                f"stage {stage.name!r} (kind {stage.kind}) is unavailable in this installation: {stage.unavailable}. "
                f"The stages before it are complete in {run_dir}; rerun once the capability is installed."
            )
            console.print(f"[red]✗ {label}: unavailable[/red] — {stage.unavailable}")
            raise RecipeError(stage.name, message)
        # Decide again with the actual upstream outputs: an upstream stage that reran may have produced
        # exactly the same bytes, and then this stage is still up to date.
        config_h = stage_config_hash(stage, run_dir)
        inputs_h = stage_inputs_hash(stage, run_dir)
        state = read_state(run_dir, stage.name)
        forced = entry.reason.startswith("--")
        same = (
            state is not None
            and state.get("config_hash") == config_h
            and state.get("inputs_hash") == inputs_h
        )
        if not forced and same and (run_dir / stage.name).exists():
            if state.get("status") == "done":
                note = "up to date" if entry.action == "skip" else "upstream outputs unchanged"
                console.print(
                    f"[green]✓ {label}[/green]: {note}, skipped ({state.get('seconds', 0):.1f} s before)"
                )
                states[stage.name] = state
                continue
            entry = PlanEntry(stage, "resume", f"previous attempt {state.get('status')}; continues in place")
        elif entry.action == "resume":
            entry = PlanEntry(stage, "run", entry.reason)
        states[stage.name] = _run_stage(
            stage, kinds[stage.kind], recipe, run_dir, entry, config_h, inputs_h, states, console, label
        )
    return states


def _run_stage(
    stage: Stage,
    kind: StageKind,
    recipe: Recipe,
    run_dir: Path,
    entry: PlanEntry,
    config_h: str,
    inputs_h: str,
    states: dict[str, dict],
    console: Console,
    label: str,
) -> dict:
    stage_dir = run_dir / stage.name
    previous = read_state(run_dir, stage.name)
    resume = (
        entry.action == "resume"
        and previous is not None
        and previous.get("config_hash") == config_h
        and previous.get("inputs_hash") == inputs_h
        and stage_dir.exists()
    )
    if not resume and stage_dir.exists():
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / LOG_DIR / f"{stage.name}.log"
    state = {
        "stage": stage.name,
        "kind": stage.kind,
        "status": "running",
        "config_hash": config_h,
        "inputs_hash": inputs_h,
        "reads": stage.deps,
        "config": json.loads(json.dumps(to_dict(stage.config), default=str)),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "attempts": (previous or {}).get("attempts", 0) + 1 if resume else 1,
        "log": str(log_path),
    }
    atomic_write_json(_state_path(run_dir, stage.name), state)
    verb = "resuming" if resume else "running"
    console.rule(f"{label} ({stage.kind}) — {verb}, log: {log_path}")
    start = time.perf_counter()
    with StageLog(log_path, stage.name) as stage_log:
        stage_log.logger.info("%s stage %s (kind %s), reason: %s", verb, stage.name, stage.kind, entry.reason)
        context = StageContext(
            name=stage.name,
            run_dir=run_dir,
            stage_dir=stage_dir,
            resume=resume,
            recipe=recipe,
            states=states,
            log=stage_log.logger,
            console=console,
        )
        try:
            result = kind.run(stage.config, context) or {}
        except KeyboardInterrupt:
            state.update(status="interrupted", seconds=time.perf_counter() - start)
            atomic_write_json(_state_path(run_dir, stage.name), state)
            stage_log.logger.warning("interrupted")
            raise RecipeError(
                stage.name,
                f"interrupted during stage {stage.name!r}; completed stages are kept. Rerun the same command to "
                "continue (this stage resumes where it stopped).",
                interrupted=True,
            ) from None
        except Exception as err:  # noqa: BLE001 - any failure is reported with the stage that raised it
            state.update(
                status="failed", error=f"{type(err).__name__}: {err}", seconds=time.perf_counter() - start
            )
            atomic_write_json(_state_path(run_dir, stage.name), state)
            stage_log.logger.exception("stage failed")
            raise RecipeError(
                stage.name, f"stage {stage.name!r} failed: {type(err).__name__}: {err} (full log: {log_path})"
            ) from err
        seconds = time.perf_counter() - start
        stage_log.logger.info("done in %.1f s", seconds)
    state.update(
        status="done",
        seconds=seconds,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
        outputs_digest=directory_digest(stage_dir),
        result=json.loads(json.dumps(result, default=str)),
    )
    atomic_write_json(_state_path(run_dir, stage.name), state)
    console.print(f"[green]✓ {label}[/green] done in {seconds:.1f} s")
    return state
