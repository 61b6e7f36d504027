"""Reading a recipe: the YAML file of stages, each stage's config validated and its inputs checked before any work.

A recipe names its stages, each with a ``kind`` (what runs: data, tokenizer, pretrain, ...) and a ``config``
section that is the capability's own config dataclass, validated in full before any work starts. A config may
refer to the output directory of an earlier stage as ``${stage_name}`` (that is also how the runner learns the
dependencies), to the run directory as ``${run_dir}``, to ``../shared/data`` as ``${shared_data}`` and to an
environment variable as ``${env.NAME}``. This module also holds the types a stage kind is made of
(:class:`StageKind`, and :class:`StageContext`, what its function gets); :mod:`skywork.recipe.runner` runs them.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from skywork.utils.config import from_dict, key_aliases, load_yaml, to_dict
from skywork.utils.io import InputError
from skywork.utils.paths import shared_data_dir

STATE_DIR = ".recipe"  # RUN_DIR/.recipe/<stage>.json: the runner's bookkeeping
LOG_DIR = "logs"  # RUN_DIR/logs/<stage>.log
_REF = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")


class StageUnavailable(RuntimeError):
    """The capability a stage kind calls is not part of this installation (yet)."""


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
