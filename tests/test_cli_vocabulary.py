"""One command-line vocabulary: every visible flag of every ``skywork`` command means the same thing everywhere.

Walks the click tree typer builds (no command runs), so a new command that spells an old flag fails here.
"""

from __future__ import annotations

import importlib
import typing
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from skywork.cli import STAGE_GROUPS, app

# Spellings replaced by the vocabulary; they may exist only as hidden aliases.
RETIRED_FLAGS = {
    "--out",
    "--out-dir",
    "--output-dir",
    "--outdir",
    "--run-dir",
    "--max-samples",
    "--model-dir",
}
RETIRED_COMMANDS = {"config-help", "kinds"}
GROUPS_WITH_CONFIGS = {"data", "tokenizer", "train", "recipe"}  # groups whose commands read a config YAML


def _commands(command, path: tuple[str, ...] = ()):
    """(path, command) for every leaf command below ``command``, hidden ones included."""
    if hasattr(command, "commands"):  # a group (typer may vendor click, so no isinstance)
        for name, sub in command.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield path, command


ROOT = typer.main.get_command(app)
COMMANDS = list(_commands(ROOT))
VISIBLE = [(path, cmd) for path, cmd in COMMANDS if not cmd.hidden]


def _visible_options(cmd):
    for param in cmd.params:
        if param.param_type_name == "option" and not param.hidden:
            yield param


def _is(param, tp: type) -> bool:
    """The parameter's Python annotation is ``tp`` or ``tp | None``."""
    annotation = param.type_descriptor.annotation
    return annotation is tp or tp in typing.get_args(annotation)


def _id(path: tuple[str, ...]) -> str:
    return " ".join(path)


def test_the_tree_is_not_empty():
    assert len(VISIBLE) > 20
    assert {p[0] for p, _ in VISIBLE} >= {"info", "generate", "chat", "export", *GROUPS_WITH_CONFIGS, "eval"}


@pytest.mark.parametrize(("path", "cmd"), VISIBLE, ids=[_id(p) for p, _ in VISIBLE])
def test_visible_flags_use_the_vocabulary(path, cmd):
    for option in _visible_options(cmd):
        names = set(option.opts) | set(option.secondary_opts)
        assert not names & RETIRED_FLAGS, (
            f"{_id(path)}: {sorted(names & RETIRED_FLAGS)} is a retired spelling"
        )
        if "--output" in names:
            assert "-o" in names, f"{_id(path)}: --output comes with -o"
        if "-o" in names:
            assert "--output" in names, f"{_id(path)}: -o means --output"
        if "--device" in names:
            assert option.default == "auto", f"{_id(path)}: --device defaults to auto"
        if "--dtype" in names:
            assert option.default in ("fp32", "bf16", "fp16"), f"{_id(path)}: --dtype is a weights dtype"
        if "--limit" in names:
            assert option.default is None and _is(option, int), f"{_id(path)}: --limit is an int"
        if "--tokenizer" in names:
            assert _is(option, Path), f"{_id(path)}: --tokenizer is a directory"


@pytest.mark.parametrize(("path", "cmd"), VISIBLE, ids=[_id(p) for p, _ in VISIBLE])
def test_the_model_positional_is_called_model(path, cmd):
    for param in cmd.params:
        if (
            param.param_type_name == "argument"
            and not getattr(param, "hidden", False)
            and "model" in param.name
        ):
            assert param.metavar == "MODEL", f"{_id(path)}: the model positional is MODEL"
    # a command that loads a model for scoring or generation takes --device
    if any(p.param_type_name == "argument" and p.metavar == "MODEL" for p in cmd.params) and path[0] in (
        "generate",
        "chat",
        "eval",
    ):
        assert any("--device" in o.opts for o in _visible_options(cmd)), f"{_id(path)} has no --device"


def test_every_config_group_lists_its_keys_with_one_verb():
    groups = {info.name: info for info in app.registered_groups}
    for name in GROUPS_WITH_CONFIGS | ({"eval"} if _has(("eval", "run")) else set()):
        assert _has((name, "keys")), f"skywork {name} keys is missing"
    visible = {path[-1] for path, _ in VISIBLE}
    assert not visible & RETIRED_COMMANDS
    assert set(groups) - {"export"} == {name for _, name in STAGE_GROUPS}


def _has(path: tuple[str, ...]) -> bool:
    return any(p == path and not c.hidden for p, c in COMMANDS)


def test_stage_groups_name_real_modules():
    for module, _name in STAGE_GROUPS:
        assert importlib.import_module(module).app is not None


@pytest.mark.parametrize(
    "args",
    [
        ["data", "keys"],
        ["data", "config-help"],
        ["tokenizer", "keys"],
        ["train", "keys"],
        ["recipe", "keys"],
        ["recipe", "kinds"],
        ["recipe", "keys", "pretrain"],
    ],
)
def test_keys_and_its_old_spellings_run(args):
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "default" in result.output or "stage kinds" in result.output
    assert ("is deprecated; use `keys`" in result.output) == (args[1] in RETIRED_COMMANDS)


def test_a_retired_flag_still_works_with_a_warning(tmp_path):
    out = tmp_path / "corpus"
    result = CliRunner().invoke(app, ["recipe", "corpus", "--size-mb", "0.05", str(out)])
    assert result.exit_code == 0, result.output
    assert "deprecated" in result.output and (out / "manifest.json").exists()
    result = CliRunner().invoke(app, ["export", "llama", "x", "-o", "y", "--help"])
    assert result.exit_code == 0 and "--out " not in result.output
    both = CliRunner().invoke(app, ["recipe", "run", "r.yaml", "-o", "a", "--run-dir", "b"])
    assert both.exit_code == 2 and "deprecated spelling" in both.output
