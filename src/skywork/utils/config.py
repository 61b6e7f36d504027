"""Typed YAML configs: dataclasses are the schema, so every key is documented and checked before work starts.

A config class is a plain ``@dataclass`` whose fields carry a ``help`` string in their metadata
(use :func:`field`). :func:`from_dict` rejects unknown keys and wrong types with the key path and file.

A key that was renamed keeps loading for one release: ``field(..., aliases=("out_dir",))`` on ``output_dir``
makes ``out_dir`` an accepted, deprecated spelling (a :class:`DeprecatedKey` warning names the file and the new
key). Aliases are the only place old spellings live, so every config reader accepts them the same way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
import warnings
from pathlib import Path
from typing import Any, TypeVar

import yaml

from skywork.utils.io import InputError

T = TypeVar("T")


class DeprecatedKey(FutureWarning):
    """A config used the old spelling of a renamed key; it still loads (shown by default, unlike DeprecationWarning)."""


def field(
    default: Any = dataclasses.MISSING,
    *,
    help: str,
    default_factory: Any = dataclasses.MISSING,
    aliases: tuple[str, ...] = (),
) -> Any:
    """A dataclass field with a help text (shown by ``--help`` printers and in docs) and its deprecated names."""
    kwargs: dict[str, Any] = {"metadata": {"help": help, "aliases": tuple(aliases)}}
    if default is not dataclasses.MISSING:
        kwargs["default"] = default
    if default_factory is not dataclasses.MISSING:
        kwargs["default_factory"] = default_factory
    return dataclasses.field(**kwargs)


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, where: str, source: str | None) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where, source)
            except InputError as err:
                errors.append(str(err))
        raise InputError(
            f"expected {' or '.join(_type_name(a) for a in args)}, got {value!r}", source, field=where
        )
    if origin is typing.Literal:
        if value not in args:
            raise InputError(f"expected one of {list(args)}, got {value!r}", source, field=where)
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise InputError(f"expected a mapping, got {type(value).__name__}", source, field=where)
        return from_dict(tp, value, source=source, prefix=where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise InputError(f"expected a list, got {type(value).__name__}", source, field=where)
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, f"{where}[{i}]", source) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError(f"expected a mapping, got {type(value).__name__}", source, field=where)
        val_tp = args[1] if len(args) == 2 else Any
        return {k: _coerce(v, val_tp, f"{where}.{k}", source) for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            # YAML reads "6e-4" as a string; accept numeric strings for floats.
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
            raise InputError(f"expected a number, got {value!r}", source, field=where)
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise InputError(f"expected an integer, got {value!r}", source, field=where)
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise InputError(f"expected true or false, got {value!r}", source, field=where)
        return value
    if tp is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise InputError(f"expected a string, got {value!r}", source, field=where)
        return str(value)
    if isinstance(tp, type) and not isinstance(value, tp):
        raise InputError(f"expected {_type_name(tp)}, got {value!r}", source, field=where)
    return value


def key_aliases(cls: type) -> dict[str, str]:
    """Deprecated key -> current key for the fields of dataclass ``cls`` (not nested)."""
    return {
        alias: f.name
        for f in dataclasses.fields(cls)  # type: ignore[arg-type]
        for alias in f.metadata.get("aliases", ())
    }


def canonical_keys(cls: type, data: dict, source: str | None = None, prefix: str = "") -> dict:
    """``data`` with deprecated top-level keys of ``cls`` renamed to the current ones, warning once per key."""
    aliases = key_aliases(cls)
    out: dict = {}
    for key, value in (data or {}).items():
        new = aliases.get(key)
        if new is None:
            out[key] = value
            continue
        where = f"{prefix}.{key}" if prefix else str(key)
        if new in data:
            raise InputError(f"set {new!r} only ({key!r} is its deprecated spelling)", source, field=where)
        warnings.warn(
            f"{source or 'config'}: key {where!r} is deprecated, use {new!r}", DeprecatedKey, stacklevel=3
        )
        out[new] = value
    return out


def from_dict(cls: type[T], data: dict, source: str | None = None, prefix: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, failing on unknown keys, wrong types and missing required keys."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs = {}
    for key, value in canonical_keys(cls, data, source, prefix).items():
        where = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields:
            close = [k for k in fields if k.replace("_", "") == str(key).replace("_", "").replace("-", "")]
            hint = (
                f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(sorted(fields))})"
            )
            raise InputError(f"unknown key{hint}", source, field=where)
        kwargs[key] = _coerce(value, hints[key], where, source)
    for name, f in fields.items():
        if (
            name not in kwargs
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ):
            raise InputError("missing required key", source, field=f"{prefix}.{name}" if prefix else name)
    return cls(**kwargs)


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise InputError("config file not found", path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise InputError(f"invalid YAML: {err}", path, line=(mark.line + 1) if mark else None) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError("top level must be a mapping", path)
    return data


def load_config(cls: type[T], path: str | Path, overrides: dict | None = None) -> T:
    """Read a YAML file into dataclass ``cls`` with full validation."""
    data = load_yaml(path)
    data.update(overrides or {})
    return from_dict(cls, data, source=str(path))


def to_dict(obj: Any) -> dict:
    return dataclasses.asdict(obj)


def config_hash(obj: Any) -> str:
    """Stable short hash of a config (dataclass or plain data), used for resume decisions."""
    data = to_dict(obj) if dataclasses.is_dataclass(obj) else obj
    blob = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def describe(cls: type) -> list[tuple[str, str, str, str]]:
    """(key, type, default, help) rows for documentation and ``--help`` output, nested keys dotted."""
    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if f.default is not dataclasses.MISSING:
            default = repr(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = repr(f.default_factory())
        else:
            default = "(required)"
        help_text = f.metadata.get("help", "")
        if f.metadata.get("aliases"):
            help_text += f" (formerly {', '.join(f.metadata['aliases'])}; still read, deprecated)"
        rows.append((f.name, _type_name(tp), default, help_text))
        if dataclasses.is_dataclass(tp):
            rows.extend((f"{f.name}.{k}", t, d, h) for k, t, d, h in describe(tp))
    return rows
