"""Runner mechanics with small stage functions defined here: skip, rerun, invalidation, failure, interrupt."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from skywork.recipe.runner import (
    RecipeError,
    StageKind,
    StageUnavailable,
    load_recipe,
    plan,
    read_state,
    run_recipe,
)
from skywork.utils.config import DeprecatedKey, describe, field, from_dict
from skywork.utils.io import InputError

CALLS: list[tuple[str, bool]] = []  # (stage name, resume) per execution


@dataclass
class WriteConfig:
    text: str = field(help="Text to write.")
    repeat: int = field(1, help="How many times.")
    fail: bool = field(False, help="Raise instead of writing.")
    interrupt: bool = field(
        False, help="Raise KeyboardInterrupt after writing a partial file (first attempt)."
    )
    note: str = field("", help="Changes the config hash but not the output.")
    source: str | None = field(None, help="An input file whose text is prepended.")


def run_write(config: WriteConfig, ctx) -> dict:
    CALLS.append((ctx.name, ctx.resume))
    print(f"writing {config.repeat} x {config.text!r}")
    if config.fail:
        raise ValueError("planned failure")
    prefix = Path(config.source).read_text() if config.source else ""
    if config.interrupt and not ctx.resume:
        (ctx.stage_dir / "partial.txt").write_text("half")
        raise KeyboardInterrupt
    if ctx.resume:
        assert (ctx.stage_dir / "partial.txt").read_text() == "half"  # the attempt's files are still there
    (ctx.stage_dir / "out.txt").write_text(prefix + config.text * config.repeat)
    return {"chars": len(prefix) + len(config.text) * config.repeat}


@dataclass
class ConcatConfig:
    inputs: list[str] = field(help="Files to concatenate.")


def run_concat(config: ConcatConfig, ctx) -> dict:
    CALLS.append((ctx.name, ctx.resume))
    (ctx.stage_dir / "all.txt").write_text("|".join(Path(p).read_text() for p in config.inputs))
    return {}


def _missing():
    raise StageUnavailable("skywork.nothing is not in this installation")


KINDS = {
    "write": StageKind("write", lambda: WriteConfig, run_write, input_fields=("source",)),
    "concat": StageKind("concat", lambda: ConcatConfig, run_concat, input_fields=("inputs",)),
    "missing": StageKind("missing", _missing, run_write),
}
QUIET = Console(quiet=True)


def write_recipe(path: Path, b_config: dict | None = None, extra: dict | None = None) -> Path:
    stages = {
        "a": {"kind": "write", "config": {"text": "A"}},
        "b": {"kind": "write", "config": b_config or {"text": "B", "repeat": 2}},
        "c": {"kind": "concat", "config": {"inputs": ["${a}/out.txt", "${b}/out.txt"]}},
        **(extra or {}),
    }
    path.write_text(yaml.safe_dump({"name": "t", "stages": stages}))
    return path


def run(recipe: Path, run_dir: Path, **kwargs) -> list[str]:
    CALLS.clear()
    run_recipe(load_recipe(recipe, KINDS, run_dir), run_dir, KINDS, console=QUIET, **kwargs)
    return [name for name, _ in CALLS]


def test_rerun_skips_completed_and_config_change_reruns_downstream(tmp_path):
    recipe, run_dir = write_recipe(tmp_path / "r.yaml"), tmp_path / "run"
    assert run(recipe, run_dir) == ["a", "b", "c"]
    assert (run_dir / "c" / "all.txt").read_text() == "A|BB"
    state = read_state(run_dir.resolve(), "c")
    assert state["status"] == "done" and state["reads"] == ["a", "b"] and state["outputs_digest"]
    assert (run_dir / "logs" / "b.log").read_text().count("writing 2 x 'B'") == 1
    assert run(recipe, run_dir) == []  # nothing changed
    write_recipe(recipe, {"text": "B", "repeat": 3})
    assert run(recipe, run_dir) == ["b", "c"]
    assert (run_dir / "c" / "all.txt").read_text() == "A|BBB"


def test_config_change_with_identical_output_keeps_downstream(tmp_path):
    recipe, run_dir = write_recipe(tmp_path / "r.yaml"), tmp_path / "run"
    run(recipe, run_dir)
    write_recipe(recipe, {"text": "B", "repeat": 2, "note": "cosmetic"})
    entries = plan(load_recipe(recipe, KINDS, run_dir), run_dir)
    assert [(e.stage.name, e.action) for e in entries] == [("a", "skip"), ("b", "run"), ("c", "run")]
    assert run(recipe, run_dir) == ["b"]  # b's bytes are unchanged, so c is still up to date


def test_from_and_only(tmp_path):
    recipe, run_dir = write_recipe(tmp_path / "r.yaml"), tmp_path / "run"
    with pytest.raises(InputError, match="--only c: it reads a, b"):
        run(recipe, run_dir, only="c")
    run(recipe, run_dir)
    assert run(recipe, run_dir, from_stage="b") == ["b", "c"]
    assert run(recipe, run_dir, only="b") == ["b"]
    with pytest.raises(InputError, match="no stage named 'z'"):
        run(recipe, run_dir, from_stage="z")


def test_failure_keeps_completed_stages_and_names_the_stage(tmp_path):
    recipe, run_dir = write_recipe(tmp_path / "r.yaml", {"text": "B", "fail": True}), tmp_path / "run"
    with pytest.raises(RecipeError, match="stage 'b' failed: ValueError: planned failure") as info:
        run(recipe, run_dir)
    assert info.value.stage == "b"
    assert read_state(run_dir.resolve(), "a")["status"] == "done"
    assert read_state(run_dir.resolve(), "b")["status"] == "failed"
    assert "planned failure" in (run_dir / "logs" / "b.log").read_text()
    write_recipe(recipe, {"text": "B"})
    assert run(recipe, run_dir) == ["b", "c"]


def test_interrupt_then_resume_in_place(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", {"text": "B", "interrupt": True})
    run_dir = tmp_path / "run"
    with pytest.raises(RecipeError, match="interrupted during stage 'b'") as info:
        run(recipe, run_dir)
    assert info.value.interrupted
    assert read_state(run_dir.resolve(), "b")["status"] == "interrupted"
    entries = plan(load_recipe(recipe, KINDS, run_dir), run_dir)
    assert [e.action for e in entries] == ["skip", "resume", "run"]
    CALLS.clear()
    run_recipe(load_recipe(recipe, KINDS, run_dir), run_dir, KINDS, console=QUIET)
    assert CALLS == [("b", True), ("c", False)]
    assert read_state(run_dir.resolve(), "b")["attempts"] == 2


def test_dry_run_plan_runs_nothing(tmp_path):
    recipe, run_dir = write_recipe(tmp_path / "r.yaml"), tmp_path / "run"
    CALLS.clear()
    entries = plan(load_recipe(recipe, KINDS, run_dir), run_dir)
    assert [e.action for e in entries] == ["run"] * 3 and CALLS == []
    assert not (run_dir / "a").exists()


def test_unavailable_stage_runs_what_comes_before(tmp_path):
    recipe = write_recipe(tmp_path / "r.yaml", extra={"d": {"kind": "missing", "config": {"anything": 1}}})
    run_dir = tmp_path / "run"
    loaded = load_recipe(recipe, KINDS, run_dir)
    assert "skywork.nothing" in loaded.stage("d").unavailable
    with pytest.raises(RecipeError, match="stage 'd' \\(kind missing\\) is unavailable"):
        run(recipe, run_dir)
    assert read_state(run_dir.resolve(), "c")["status"] == "done"


@pytest.mark.parametrize(
    ("b_config", "field_name", "message"),
    [
        ({"text": "B", "txet": 1}, "stages.b.config.txet", "unknown key"),
        ({"text": "B", "repeat": "many"}, "stages.b.config.repeat", "expected an integer"),
        ({"repeat": 2}, "stages.b.config.text", "missing required key"),
        (
            {"text": "B", "source": "/no/such/file.txt"},
            "stages.b.config.source",
            "input not found: /no/such/file.txt",
        ),
        ({"text": "B", "source": "/no/such/*.jsonl"}, "stages.b.config.source", "no file matches"),
        ({"text": "${c}"}, "stages.b.config", "runs later"),
        ({"text": "${nowhere}"}, "stages.b.config.text", "unknown reference"),
    ],
)
def test_bad_recipes_name_key_and_file(tmp_path, b_config, field_name, message):
    recipe = write_recipe(tmp_path / "r.yaml", b_config)
    with pytest.raises(InputError, match=message) as info:
        load_recipe(recipe, KINDS, tmp_path / "run")
    assert info.value.field == field_name
    assert str(recipe) in str(info.value)


def test_bad_recipe_structure(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"name": "t", "stagse": {}}))
    with pytest.raises(InputError, match="unknown key") as info:
        load_recipe(path, KINDS, tmp_path / "run")
    assert info.value.field == "stagse"
    path.write_text(yaml.safe_dump({"stages": {"a": {"kind": "wrtie", "config": {}}}}))
    with pytest.raises(InputError, match="unknown stage kind 'wrtie'") as info:
        load_recipe(path, KINDS, tmp_path / "run")
    assert info.value.field == "stages.a.kind"


def test_external_input_change_reruns(tmp_path):
    source = tmp_path / "in.txt"
    source.write_text("x")
    recipe = write_recipe(tmp_path / "r.yaml", {"text": "B", "source": str(source)})
    run_dir = tmp_path / "run"
    run(recipe, run_dir)
    assert run(recipe, run_dir) == []
    source.write_text("yy")
    assert run(recipe, run_dir) == ["b", "c"]
    assert (run_dir / "c" / "all.txt").read_text() == "A|yyB"


@dataclass
class RenamedConfig:
    output_dir: str = field(help="Set by the runner.", aliases=("out_dir",))
    text: str = field("x", help="Text.", aliases=("txt",))


def test_a_renamed_key_still_loads_with_a_warning():
    with pytest.warns(DeprecatedKey, match="'txt' is deprecated, use 'text'"):
        config = from_dict(RenamedConfig, {"output_dir": "o", "txt": "old"}, source="c.yaml")
    assert config.text == "old"
    with pytest.raises(InputError, match="set 'text' only") as info:
        from_dict(RenamedConfig, {"output_dir": "o", "txt": "a", "text": "b"}, source="c.yaml")
    assert info.value.field == "txt"
    assert "formerly txt" in dict((k, h) for k, _, _, h in describe(RenamedConfig))["text"]


@pytest.mark.parametrize("key", ["output_dir", "out_dir"])
def test_the_runner_sets_the_output_directory_under_any_spelling(tmp_path, key):
    kinds = {"renamed": StageKind("renamed", lambda: RenamedConfig, run_write, output_field="output_dir")}
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"stages": {"a": {"kind": "renamed", "config": {key: "/elsewhere"}}}}))
    with pytest.raises(InputError, match="is set by the runner") as info:
        load_recipe(path, kinds, tmp_path / "run")
    assert info.value.field == f"stages.a.config.{key}"
    path.write_text(yaml.safe_dump({"stages": {"a": {"kind": "renamed", "config": {}}}}))
    stage = load_recipe(path, kinds, tmp_path / "run").stage("a")
    assert stage.config.output_dir == str((tmp_path / "run" / "a").resolve())
