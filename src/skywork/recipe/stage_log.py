"""One log file per stage: logging records and everything the stage prints go to ``RUN_DIR/logs/<stage>.log``."""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path
from typing import Any


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


class StageLog:
    """Route logging records and stdout/stderr of one stage into ``RUN_DIR/logs/<stage>.log``."""

    def __init__(self, path: Path, name: str):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.handle = path.open("a", encoding="utf-8")
        self.handler = logging.StreamHandler(self.handle)
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.logger = logging.getLogger(f"skywork.recipe.stage.{name}")

    def __enter__(self) -> StageLog:
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
