"""The common shape of a synthetic data generator: seeded, deterministic, JSONL files plus a manifest.

A generator is a class with a ``name``, a ``version`` (raise it whenever the same seed would write other bytes),
a config dataclass with a ``seed`` (see :class:`GeneratorConfig`) and one method, :meth:`SyntheticGenerator.write`,
that writes its files through :meth:`SyntheticGenerator.jsonl`. :meth:`SyntheticGenerator.generate` runs it and
writes ``manifest.json``::

    {"generator": {"name": "demo_corpus", "version": 1},
     "seed": 0,
     "config": {...},                                   # every config key, so the files can be regenerated
     "files": {"train/web_en.jsonl": {"rows": 1234, "bytes": 567890, "sha256": "..."}, ...},
     ...}                                               # the generator's own keys (what write() returns)

A generator that is a recipe stage sets ``summary_kind`` and also writes ``summary.json`` (the stage contract,
:mod:`skywork.utils.summary`): by default the manifest without its file list and config.

The same config gives the same bytes (files, rows and sha256 in the manifest), on the same Python version.
Randomness comes only from ``random.Random`` streams seeded from ``config.seed`` (see :func:`rng`), never from
global state, so adding a stream for a new part leaves the other parts' bytes unchanged.
"""

from __future__ import annotations

import json
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from skywork.utils.config import field, to_dict
from skywork.utils.digest import MANIFEST_NAME, file_sha256
from skywork.utils.io import atomic_path, atomic_write_json
from skywork.utils.summary import write_summary

ProgressCallback = Callable[[int, int], None]  # (done, total) in the generator's own unit (bytes for corpora)


@dataclass
class GeneratorConfig:
    """Base of every generator config: the seed all of its random streams derive from."""

    seed: int = field(0, help="Random seed; the same seed writes the same files.")


ConfigT = TypeVar("ConfigT", bound=GeneratorConfig)


def rng(seed: int, part: str | None = None) -> random.Random:
    """The random stream of one part of a generator's output (``"<seed>-<part>"``), or the seed's own stream."""
    return random.Random(seed if part is None else f"{seed}-{part}")


class JsonlFile:
    """A JSONL file written atomically (it appears complete or not at all), counting rows and text bytes."""

    def __init__(self, path: Path):
        self.path, self.rows, self.text_bytes = path, 0, 0
        self._atomic = atomic_path(path)
        self._handle = self._atomic.__enter__().open("w", encoding="utf-8")

    def write(self, record: dict) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.rows += 1
        self.text_bytes += len(record.get("text", "").encode("utf-8"))

    def close(self, error: BaseException | None = None) -> None:
        """Publish the file, or with ``error`` (the generator failed) discard it."""
        if not self._handle.closed:
            self._handle.close()
            if error is None:
                self._atomic.__exit__(None, None, None)
            else:
                self._atomic.__exit__(type(error), error, error.__traceback__)


class SyntheticGenerator(ABC, Generic[ConfigT]):
    """Base class of the generators in :mod:`skywork.data.synth`; subclasses implement :meth:`write`."""

    name: ClassVar[str]
    version: ClassVar[int] = 1
    summary_kind: ClassVar[str | None] = None  # also write summary.json of this kind (the stage contract)

    def __init__(self, config: ConfigT):
        self.config = config
        self._files: list[JsonlFile] = []

    def jsonl(self, out_dir: Path, rel: str) -> JsonlFile:
        """Open ``out_dir/rel`` for writing; every file opened here is listed in the manifest."""
        handle = JsonlFile(Path(out_dir) / rel)
        self._files.append(handle)
        return handle

    def write_jsonl(self, out_dir: Path, rel: str, records: list[dict]) -> JsonlFile:
        """Write ``records`` to ``out_dir/rel`` in one go."""
        handle = self.jsonl(out_dir, rel)
        for record in records:
            handle.write(record)
        handle.close()
        return handle

    @abstractmethod
    def write(self, out_dir: Path, progress: ProgressCallback | None) -> dict[str, Any]:
        """Write the files (through :meth:`jsonl`); returns the generator's own manifest keys."""

    def generate(self, out_dir: str | Path, progress: ProgressCallback | None = None) -> dict[str, Any]:
        """Write every file and ``manifest.json`` into ``out_dir``; returns the manifest."""
        out = Path(out_dir)
        self._files = []
        try:
            extra = self.write(out, progress)
        except BaseException as error:
            for handle in self._files:
                handle.close(error)
            raise
        for handle in self._files:
            handle.close()
        files = {
            handle.path.relative_to(out).as_posix(): {
                "rows": handle.rows,
                "bytes": handle.path.stat().st_size,
                "sha256": file_sha256(handle.path),
            }
            for handle in sorted(self._files, key=lambda h: h.path)
        }
        manifest = {
            "generator": {"name": self.name, "version": self.version},
            "seed": self.config.seed,
            "config": to_dict(self.config),
            "files": files,
            **extra,
        }
        atomic_write_json(out / MANIFEST_NAME, manifest)
        if self.summary_kind:
            write_summary(out, self.summary_kind, self.summary(manifest))
        return manifest

    def summary(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """The keys of ``summary.json`` (default: the manifest without the per-file sha256 and the config)."""
        return {k: v for k, v in manifest.items() if k not in ("files", "config")}
