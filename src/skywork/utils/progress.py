"""The one progress display: a rich bar on a terminal, periodic plain log lines elsewhere (CI, pipes, files).

Every long loop (corpus generation, tokenizing, training, evaluation, sampling) uses :func:`progress`, so bars look
the same everywhere and non-interactive runs still show that something moves.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


class Progress:
    """Handle returned by :func:`progress`: call :meth:`advance` or :meth:`update` as work is done."""

    def __init__(self, bar, task, total: float | None, description: str, log_every_s: float, stream):
        self._bar, self._task, self.total, self.description = bar, task, total, description
        self.completed = 0.0
        self._log_every_s, self._stream = log_every_s, stream
        self._last_log = time.monotonic()
        self.fields: dict[str, str] = {}

    def advance(self, amount: float = 1) -> None:
        self.update(completed=self.completed + amount)

    def update(self, completed: float | None = None, **fields: object) -> None:
        """Set the completed amount and/or extra fields shown after the bar (e.g. ``loss="2.31"``)."""
        if completed is not None:
            self.completed = completed
        self.fields.update({k: str(v) for k, v in fields.items()})
        if self._bar is not None:
            self._bar.update(self._task, completed=self.completed, info=self._info())
        elif self._stream is not None and time.monotonic() - self._last_log >= self._log_every_s:
            self._last_log = time.monotonic()
            self._stream.write(self._line() + "\n")
            self._stream.flush()

    def _info(self) -> str:
        return " ".join(f"{k} {v}" for k, v in self.fields.items())

    def _line(self) -> str:
        total = f"/{self.total:,.0f}" if self.total else ""
        return f"{self.description}: {self.completed:,.0f}{total} {self._info()}".rstrip()


@contextlib.contextmanager
def progress(
    description: str,
    total: float | None = None,
    *,
    unit: str = "",
    console=None,
    enabled: bool = True,
    transient: bool = True,
    log_every_s: float = 30.0,
) -> Iterator[Progress]:
    """A progress display for one loop; ``enabled=False`` (e.g. non-zero ranks) shows nothing at all."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.progress import Progress as RichProgress

    console = console or Console(stderr=True)
    if not enabled:
        yield Progress(None, None, total, description, log_every_s, None)
        return
    if not console.is_terminal:
        handle = Progress(None, None, total, description, log_every_s, console.file or sys.stderr)
        yield handle
        if handle.completed:
            (console.file or sys.stderr).write(handle._line() + "\n")
        return
    columns = [TextColumn("[progress.description]{task.description}"), BarColumn()]
    columns += [MofNCompleteColumn()] if total else []
    columns += [TextColumn(unit)] if unit else []
    columns += [TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}")]
    with RichProgress(*columns, console=console, transient=transient) as bar:
        task = bar.add_task(description, total=total, info="")
        yield Progress(bar, task, total, description, log_every_s, None)


def track(items: Iterable[T], description: str, total: int | None = None, **kwargs) -> Iterator[T]:
    """Iterate ``items`` with a :func:`progress` display."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress(description, total, **kwargs) as bar:
        for item in items:
            yield item
            bar.advance()
