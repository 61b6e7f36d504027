"""The recipe runner: a YAML file of stages run in order, each resumable and skipped when nothing changed.

A recipe names its stages, each with a ``kind`` (what runs: data, tokenizer, pretrain, ...) and a ``config``
section that is the capability's own config dataclass, validated in full before any work starts. A config may
refer to the output directory of an earlier stage as ``${stage_name}`` (that is also how the runner learns the
dependencies), to the run directory as ``${run_dir}``, to ``../shared/data`` as ``${shared_data}`` and to an
environment variable as ``${env.NAME}``.

Bookkeeping lives in ``RUN_DIR/.recipe/<stage>.json`` (status, config hash, inputs hash, output digest, times,
the exact config and the stage's result) and logs in ``RUN_DIR/logs/<stage>.log``; each stage writes its outputs
into ``RUN_DIR/<stage>/``. A stage is skipped when it completed with the same config hash and the same inputs
hash (the output digests of the stages it reads, and size/mtime of outside input files). A stage that was
interrupted or failed with an unchanged config resumes in its own directory (pretraining continues from its
last checkpoint); any other rerun starts from an empty directory.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from skywork.utils.config import config_hash, from_dict, key_aliases, load_yaml, to_dict
from skywork.utils.digest import directory_digest
from skywork.utils.io import InputError, atomic_write_json
from skywork.utils.paths import shared_data_dir

STATE_DIR = ".recipe"
LOG_DIR = "logs"
_REF = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")


class StageUnavailable(RuntimeError):
    """The capability a stage kind calls is not part of this installation (yet)."""


class RecipeError(RuntimeError):
    """A stage failed or was interrupted; ``stage`` names it."""

    def __init__(self, stage: str, message: str, interrupted: bool = False):
        self.stage, self.interrupted = stage, interrupted
        super().__init__(message)


@dataclass
class StageContext:
    """What a stage function gets besides its config."""

    name: str
    run_dir: Path
    stage_dir: Path
    resume: bool  # the directory holds a previous, unfinished attempt with the same config and inputs
    recipe: Recipe
    states: dict[str, dict]  # state files of the stages that completed so far (this run or earlier)
    log: logging.Logger
    console: Console

    def stage_dir_of(self, name: str) -> Path:
        return self.run_dir / name


@dataclass
class StageKind:
    """How to validate and run one kind of stage.

    ``config_class`` returns the capability's config dataclass; it imports lazily and raises
    :class:`StageUnavailable` (or ``ImportError``) when that capability is not installed.
    ``output_field`` is the config key the runner fills with the stage directory (users must not set it);
    ``input_fields`` are the (dotted) config keys holding input paths, checked for existence before any work.
    ``reads_all`` makes the stage depend on every earlier stage (the report reads them all).
    """

    name: str
    config_class: Callable[[], type]
    run: Callable[[Any, StageContext], dict | None]
    output_field: str | None = None
    input_fields: tuple[str, ...] = ()
    help: str = ""
    reads_all: bool = False  # depends on every earlier stage (the report)


@dataclass
class Stage:
    name: str
    kind: str
    raw: dict  # config after ${...} substitution, before validation
    config: Any = None  # the validated dataclass; None when unavailable
    unavailable: str | None = None
    deps: list[str] = dataclasses.field(default_factory=list)
    external_inputs: list[str] = dataclasses.field(default_factory=list)


@dataclass
class Recipe:
    path: Path
    name: str
    description: str
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise InputError(
            f"no stage named {name!r} (stages: {', '.join(s.name for s in self.stages)})", self.path
        )


# ----------------------------------------------------------------------------------------------- loading


def _substitute(
    value: Any, variables: dict[str, str], stage_names: list[str], where: str, path: Path, deps: set
):
    """Replace ``${...}`` references in every string of ``value``; record which stages are referenced."""
    if isinstance(value, dict):
        return {
            k: _substitute(v, variables, stage_names, f"{where}.{k}", path, deps) for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            _substitute(v, variables, stage_names, f"{where}[{i}]", path, deps) for i, v in enumerate(value)
        ]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        key = match.group(1)
        if key in stage_names:
            deps.add(key)
            return variables[key]
        if key.startswith("env."):
            name = key[4:]
            if name not in os.environ:
                raise InputError(f"environment variable {name} is not set", path, field=where)
            return os.environ[name]
        if key in variables:
            return variables[key]
        known = ", ".join(["run_dir", "shared_data", "env.NAME", *stage_names])
        raise InputError(
            f"unknown reference ${{{key}}} (an earlier stage or one of: {known})", path, field=where
        )

    return _REF.sub(replace, value)


def _get_dotted(data: Any, dotted: str) -> Any:
    """``a.b`` of nested dataclasses / dicts; through a list it gives the list of each item's value."""
    parts = dotted.split(".")
    for index, part in enumerate(parts):
        if isinstance(data, (list, tuple)):
            return [_get_dotted(item, ".".join(parts[index:])) for item in data]
        if dataclasses.is_dataclass(data):
            data = getattr(data, part, None)
        elif isinstance(data, dict):
            data = data.get(part)
        else:
            return None
    return data


def _check_inputs(stage: Stage, kind: StageKind, run_dir: Path, path: Path) -> None:
    """Every input path outside the run directory must exist (a glob must match) before any work starts."""
    for dotted in kind.input_fields:
        value = _get_dotted(stage.config, dotted)
        if dataclasses.is_dataclass(value):
            value = to_dict(value)
        if isinstance(value, dict):
            value = list(value.values())
        values = value if isinstance(value, (list, tuple)) else [value]
        flat = []
        for item in values:  # a dict of lists (tokenize sources) flattens into its paths
            flat.extend(item if isinstance(item, (list, tuple)) else [item])
        values = flat
        for i, item in enumerate(values):
            if item is None or item == "":
                continue
            if dataclasses.is_dataclass(item):
                item = to_dict(item)
            if isinstance(item, dict):  # a section whose input is its "path" (mixture entries: path + weight)
                item = item.get("path")
                if not isinstance(item, str):
                    continue
            item = str(item)
            where = f"stages.{stage.name}.config.{dotted}" + (
                f"[{i}]" if isinstance(value, (list, tuple)) else ""
            )
            resolved = Path(item).expanduser().resolve()
            if resolved == run_dir or run_dir in resolved.parents:
                continue  # produced by an earlier stage of this run
            if glob.has_magic(item):
                matches = sorted(glob.glob(item, recursive=True))
                if not matches:
                    raise InputError(f"no file matches {item!r}", path, field=where)
                stage.external_inputs.extend(matches)
            elif not resolved.exists():
                raise InputError(f"input not found: {item}", path, field=where)
            else:
                stage.external_inputs.append(str(resolved))


def load_recipe(path: str | Path, kinds: dict[str, StageKind], run_dir: str | Path) -> Recipe:
    """Read and validate a recipe: structure, kinds, every stage's config and its input paths."""
    path = Path(path)
    run_dir = Path(run_dir).resolve()
    data = load_yaml(path)
    allowed = {"name", "description", "stages"}
    for key in data:
        if key not in allowed:
            raise InputError(f"unknown key (known keys: {', '.join(sorted(allowed))})", path, field=str(key))
    stages_raw = data.get("stages")
    if not isinstance(stages_raw, dict) or not stages_raw:
        raise InputError(
            "'stages' must be a non-empty mapping of stage name to {kind, config}", path, field="stages"
        )
    shared = shared_data_dir()
    variables = {"run_dir": str(run_dir), "shared_data": str(shared) if shared else "${shared_data}"}
    stages: list[Stage] = []
    for name, spec in stages_raw.items():
        where = f"stages.{name}"
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\-]*", str(name)):
            raise InputError("stage names use letters, digits, '_' and '-'", path, field=where)
        if name in {STATE_DIR, LOG_DIR, "report.html", "report.md"}:
            raise InputError(f"stage name {name!r} is reserved", path, field=where)
        if not isinstance(spec, dict):
            raise InputError("expected a mapping with 'kind' and 'config'", path, field=where)
        for key in spec:
            if key not in ("kind", "config"):
                raise InputError("unknown key (known keys: config, kind)", path, field=f"{where}.{key}")
        kind_name = spec.get("kind")
        if kind_name not in kinds:
            raise InputError(
                f"unknown stage kind {kind_name!r} (known kinds: {', '.join(sorted(kinds))})",
                path,
                field=f"{where}.kind",
            )
        kind = kinds[kind_name]
        config_raw = spec.get("config") or {}
        if not isinstance(config_raw, dict):
            raise InputError("expected a mapping", path, field=f"{where}.config")
        deps: set[str] = set()
        earlier = [s.name for s in stages]
        later = [n for n in stages_raw if n not in earlier and n != name]
        for ref in _REF.findall(json.dumps(config_raw, ensure_ascii=False)):
            if ref in later or ref == name:
                raise InputError(
                    f"${{{ref}}} refers to a stage that runs later (or itself); stages run in the order listed",
                    path,
                    field=f"{where}.config",
                )
        raw = _substitute(
            config_raw,
            variables | {n: str(run_dir / n) for n in earlier},
            earlier,
            f"{where}.config",
            path,
            deps,
        )
        if kind.reads_all:
            deps = set(earlier)
        stage = Stage(name=name, kind=kind_name, raw=raw, deps=sorted(deps, key=earlier.index))
        try:
            config_cls = kind.config_class()
        except (StageUnavailable, ImportError) as err:
            config_cls, stage.unavailable = None, f"{type(err).__name__}: {err}"
        if kind.output_field:
            aliases = key_aliases(config_cls) if config_cls else {}
            for key in (kind.output_field, *(a for a, new in aliases.items() if new == kind.output_field)):
                if key in raw:
                    raise InputError(
                        f"is set by the runner (the stage directory RUN_DIR/{name}); remove it",
                        path,
                        field=f"{where}.config.{key}",
                    )
            raw = {**raw, kind.output_field: str(run_dir / name)}
        if config_cls is None:
            stages.append(stage)
            continue
        stage.config = from_dict(config_cls, raw, source=str(path), prefix=f"{where}.config")
        if callable(getattr(stage.config, "validate", None)):  # the capability's own cross-field checks
            try:
                stage.config.validate()
            except InputError as err:
                field_name = f"{where}.config.{err.field}" if err.field else f"{where}.config"
                message = str(err).split(": ", 1)[-1] if err.field or err.path else str(err)
                raise InputError(message, path, field=field_name) from None
        _check_inputs(stage, kind, run_dir, path)
        stages.append(stage)
    return Recipe(
        path=path,
        name=str(data.get("name") or path.stem),
        description=str(data.get("description") or ""),
        stages=stages,
    )


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


# ------------------------------------------------------------------------------------------------ logging


class _Tee:
    """Copy a text stream into a log file, dropping terminal control codes and progress-bar redraws."""

    _ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")

    def __init__(self, stream, log_handle):
        self._stream, self._log, self._line = stream, log_handle, ""

    def write(self, text: str) -> int:
        self._stream.write(text)
        self._line += self._ANSI.sub("", text)
        while "\n" in self._line:
            line, self._line = self._line.split("\n", 1)
            line = line.rsplit("\r", 1)[-1]
            if line.strip():
                self._log.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self._stream.flush()
        self._log.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _StageLog:
    """Route logging records and stdout/stderr of one stage into ``RUN_DIR/logs/<stage>.log``."""

    def __init__(self, path: Path, name: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.handle = path.open("a", encoding="utf-8")
        self.handler = logging.StreamHandler(self.handle)
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.logger = logging.getLogger(f"skywork.recipe.stage.{name}")

    def __enter__(self) -> _StageLog:
        root = logging.getLogger()
        self._level = root.level
        root.addHandler(self.handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        self._stdout, self._stderr = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = _Tee(sys.stdout, self.handle), _Tee(sys.stderr, self.handle)
        return self

    def __exit__(self, *exc) -> None:
        sys.stdout, sys.stderr = self._stdout, self._stderr
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self._level)
        self.handle.close()


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
    with _StageLog(log_path, stage.name) as stage_log:
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
