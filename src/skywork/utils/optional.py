"""Optional parts of the toolkit (extras such as ``[data]`` or ``[serve]``): import them or say how to get them."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtra(ImportError):
    """A feature needs a package that is not installed; the message names the pip extra that brings it."""


def optional_import(name: str) -> ModuleType | None:
    """``name`` imported, or None when ``name`` itself (not something it imports) is not installed."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name and (name == err.name or name.startswith(err.name + ".")):
            return None
        raise


def require(name: str, extra: str, feature: str) -> ModuleType:
    """``name`` imported, or :class:`MissingExtra` saying ``pip install 'skywork[extra]'`` enables ``feature``."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        raise MissingExtra(
            f"{feature} needs {err.name or name}, which is not installed: pip install 'skywork[{extra}]'"
        ) from None
