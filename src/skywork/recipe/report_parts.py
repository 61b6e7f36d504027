"""What every part of the run report uses: cell formatting, finding a stage's summary and plots, and the
discovery of the capability sections in :mod:`skywork.recipe.sections`.

A capability that adds a stage kind adds its report part as one module in ``skywork/recipe/sections/``: the module
names the kinds it reports (``KINDS``), where it goes in the report (``ORDER``; the built-in parts end at 50) and
``section(ctx, names, img_dir) -> Section | None``. The report finds it by itself; no shared list to edit.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skywork.recipe.render import Block, Section
from skywork.recipe.runner import StageContext, read_state
from skywork.utils.io import InputError, atomic_write_bytes
from skywork.utils.summary import plot_path, read_summary


def fmt(value: Any, digits: int = 4) -> str:
    """A table cell: grouped integers, ``digits`` significant digits for small floats, a dash for None."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        # large values as grouped integers (21,150 tok/s, not 2.115e+04); small ones keep significant digits
        return f"{value:,.{digits}g}" if abs(value) < 10**digits else f"{value:,.0f}"
    return str(value)


def pct(fraction: float | None) -> str:
    """An accuracy as a percentage with one decimal (``fmt`` counts significant digits: 20% would read 2e+01%)."""
    return "–" if fraction is None else f"{100 * fraction:.1f}%"


# ------------------------------------------------------------------------------------------------ parts


def stages_by_kind(ctx: StageContext) -> dict[str, list[str]]:
    """Kind -> names of the stages of that kind that completed (the report itself left out)."""
    found: dict[str, list[str]] = defaultdict(list)
    for stage in ctx.recipe.stages:
        state = read_state(ctx.run_dir, stage.name)
        if state and state.get("status") == "done" and stage.name != ctx.name:
            found[stage.kind].append(stage.name)
    return found


def stage_summary(ctx: StageContext, name: str, kind: str | None = None) -> dict | None:
    """The ``summary.json`` a completed stage wrote, or None when it wrote none (a run from before the contract)."""
    try:
        return read_summary(ctx.run_dir / name, kind=kind, max_version=1)
    except InputError as err:
        ctx.log.info("stage %s: %s", name, err)
        return None


def stage_plot(
    ctx: StageContext, name: str, summary: dict, plot: str, alt: str, filename: str | None = None
) -> Block | None:
    """An image block for a plot the stage drew itself (listed in its summary): copied beside the report's own
    images, so the report directory is self-contained, and never redrawn."""
    source = plot_path(ctx.run_dir / name, summary, plot)
    if source is None or not source.is_file():
        return None
    target = ctx.stage_dir / (filename or f"{name}_{plot}.png")
    atomic_write_bytes(target, source.read_bytes())
    return ("img", (f"{ctx.stage_dir.name}/{target.name}", alt))


@dataclass(frozen=True)
class CapabilitySection:
    """One report part contributed by a module of :mod:`skywork.recipe.sections`."""

    module: str
    kinds: tuple[str, ...]
    order: int
    build: Callable[[StageContext, list[str], Path], Section | None]


def capability_sections() -> list[CapabilitySection]:
    """The modules of ``skywork.recipe.sections``, in report order (then by name, so the order is stable)."""
    import skywork.recipe.sections as package

    found = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        kinds = tuple(getattr(module, "KINDS", ()))
        if kinds and callable(getattr(module, "section", None)):
            found.append(
                CapabilitySection(info.name, kinds, int(getattr(module, "ORDER", 100)), module.section)
            )
    return sorted(found, key=lambda part: (part.order, part.module))
