"""End-to-end pipeline runs: exact accounting, ids preserved, resume after a kill, bad input never crashes."""

from __future__ import annotations

import gzip
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from skywork.data.io import read_documents
from skywork.data.pipeline import PipelineConfig, run_pipeline

pytestmark = pytest.mark.shared


def _all_ids(out: Path) -> tuple[list[str], dict[str, str]]:
    kept = [doc["id"] for doc in read_documents(out / "kept")]
    excluded = {doc["id"]: doc["metadata"]["filter_reason"] for doc in read_documents(out / "excluded")}
    return kept, excluded


def test_accounting_adds_up_and_ids_survive(mixed_corpus, tmp_path):
    out = tmp_path / "run"
    summary = run_pipeline(PipelineConfig(inputs=mixed_corpus["paths"], output_dir=str(out)))
    assert summary["input"] == mixed_corpus["records"]
    assert summary["balanced"] and summary["kept"] + summary["excluded_total"] == summary["input"]
    assert json.loads((out / "summary.json").read_text())["kept"] == summary["kept"]
    kept, excluded = _all_ids(out)
    assert len(kept) == summary["kept"] and len(set(kept)) == len(kept)
    planted = mixed_corpus["planted"]
    # every planted defect is caught by the step meant for it
    for kind, reason in (("exact_dup", "exact_duplicate"), ("near_dup", "near_duplicate")):
        for original, copy in planted[kind]:
            outcome = sorted([excluded.get(original, "kept"), excluded.get(copy, "kept")])
            # one copy survives and the other is removed as a duplicate, unless an earlier rule removed both
            assert outcome == sorted(["kept", reason]) or (outcome[0] == outcome[1] != "kept"), (
                kind,
                outcome,
            )
    assert summary["excluded"]["exact_duplicate"] >= 3 and summary["excluded"]["near_duplicate"] >= 3
    assert all(excluded.get(i) == "language_other" for i in planted["other_lang"])
    assert all(excluded.get(i) == "empty" for i in planted["empty"])
    assert all(i in excluded for i in planted["spam"])
    assert summary["excluded_by_step"]["input"].keys() >= {"malformed_json", "invalid_utf8", "empty"}
    # metadata keeps the input's extra fields; the detected language is added
    doc = next(d for d in read_documents(out) if d["id"].startswith("zh-"))
    assert doc["metadata"]["source"] == "clue" and doc["metadata"]["lang"] == "zh"
    assert doc["metadata"]["lang_id"] == "zh"


def test_report_renders_funnel(mixed_corpus, tmp_path):
    from typer.testing import CliRunner

    from skywork.data.cli import app

    out = tmp_path / "run"
    config = tmp_path / "pipeline.yaml"
    config.write_text(
        yaml.safe_dump({"inputs": mixed_corpus["paths"], "output_dir": str(out), "dedup": {"threshold": 0.7}})
    )
    result = CliRunner().invoke(app, ["run", str(config)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report" / "funnel.png").stat().st_size > 1000
    report = (out / "report" / "report.md").read_text()
    assert "exact_duplicate" in report and "language_other" in report
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"inputs": mixed_corpus["paths"], "output_dir": str(out), "dedupe": {}}))
    result = CliRunner().invoke(app, ["run", str(bad)])
    assert result.exit_code == 2 and "dedupe" in result.output


def _decompressed_outputs(out: Path) -> dict[str, bytes]:
    files = sorted(p for p in out.rglob("*.jsonl.gz") if "work" not in p.relative_to(out).parts)
    return {str(p.relative_to(out)): gzip.decompress(p.read_bytes()) for p in files}


def test_kill_and_resume_gives_identical_outputs(shared_data, tmp_path):
    from tests.data.conftest import build_mixed_corpus

    corpus = build_mixed_corpus(shared_data, tmp_path / "input", n_en=300, n_zh=300, files=4)
    reference = tmp_path / "reference"
    expected = run_pipeline(PipelineConfig(inputs=corpus["paths"], output_dir=str(reference)))

    out = tmp_path / "killed"
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump({"inputs": corpus["paths"], "output_dir": str(out)}))
    code = f"from skywork.data.cli import app; app(['run', {str(config)!r}])"
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    first_done = out / "work" / "logs" / "filter" / "completions" / "00000"
    deadline = time.time() + 120
    while not first_done.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert first_done.exists()
    assert not (out / "summary.json").exists(), "the run finished before it could be killed"
    rank0 = out / "work" / "filtered" / "00000.jsonl.gz"
    stamp = rank0.stat().st_mtime_ns

    summary = run_pipeline(PipelineConfig(inputs=corpus["paths"], output_dir=str(out)))
    assert rank0.stat().st_mtime_ns == stamp, "a completed task was run again"
    assert {k: v for k, v in summary.items() if k != "config_hash"} == {
        k: v for k, v in expected.items() if k != "config_hash"
    }
    assert _decompressed_outputs(out) == _decompressed_outputs(reference)


def test_resume_refuses_a_changed_config(mixed_corpus, tmp_path):
    from skywork.utils.io import InputError

    out = tmp_path / "run"
    run_pipeline(PipelineConfig(inputs=mixed_corpus["paths"], output_dir=str(out)))
    changed = PipelineConfig(inputs=mixed_corpus["paths"], output_dir=str(out))
    changed.length.min_chars = 5
    with pytest.raises(InputError, match="different config"):
        run_pipeline(changed)


def test_fuzz_bad_records_are_skipped_and_counted(shared_data, tmp_path):
    """1,000 random records: valid, malformed JSON, invalid UTF-8, empty, binary junk and one 100 MB document."""
    from tests.data.conftest import chinese_docs, english_docs

    rng = random.Random(1234)
    good = english_docs(shared_data, 50) + chinese_docs(shared_data, 50)
    lines: list[bytes] = []
    for i in range(999):
        kind = rng.choice(["good", "malformed", "utf8", "empty", "binary", "wrong_type", "no_text"])
        if kind == "good":
            lines.append(
                json.dumps({"id": f"f{i}", "text": rng.choice(good)[: rng.randint(1, 3000)]}).encode()
            )
        elif kind == "malformed":
            valid = json.dumps({"id": f"f{i}", "text": rng.choice(good)}).encode()
            lines.append(valid[: rng.randint(1, len(valid) - 1)])
        elif kind == "utf8":
            lines.append(json.dumps({"id": f"f{i}", "text": "x"}).encode()[:-2] + b"\xc3\x28\xa0\xa1" + b'"}')
        elif kind == "empty":
            lines.append(json.dumps({"id": f"f{i}", "text": rng.choice(["", " ", "\n\t"])}).encode())
        elif kind == "binary":
            junk = (
                bytes(rng.randrange(256) for _ in range(rng.randint(1, 400)))
                .replace(b"\n", b"")
                .replace(b"\r", b"")
            )
            lines.append(junk or b"\x00")
        elif kind == "wrong_type":
            lines.append(json.dumps({"id": f"f{i}", "text": rng.choice([1, None, ["a"], {"b": 2}])}).encode())
        else:
            lines.append(json.dumps({"id": f"f{i}", "body": "no text field"}).encode())
    huge = tmp_path / "input" / "huge.jsonl"
    huge.parent.mkdir()
    with open(huge, "wb") as handle:
        handle.write(b'{"id": "huge", "text": "' + b"a" * 100_000_000 + b'"}\n')
    (tmp_path / "input" / "fuzz.jsonl").write_bytes(
        b"\n".join(line.replace(b"\r", b"") for line in lines) + b"\n"
    )

    out = tmp_path / "run"
    summary = run_pipeline(PipelineConfig(inputs=[str(tmp_path / "input")], output_dir=str(out)))
    nonblank = sum(1 for line in lines if line.replace(b"\r", b"").strip())
    assert summary["input"] == nonblank + 1
    assert summary["balanced"]
    input_reasons = summary["excluded_by_step"]["input"]
    assert input_reasons["too_large"] == 1
    assert input_reasons["malformed_json"] > 50 and input_reasons["invalid_utf8"] > 50
    assert input_reasons["empty"] > 50
    huge_doc = next(d for d in read_documents(out / "excluded" / "input") if d["metadata"].get("size"))
    assert huge_doc["metadata"]["filter_reason"] == "too_large" and len(huge_doc["text"]) < 1000
