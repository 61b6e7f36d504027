"""``skywork eval run SUITE.yaml`` on a tiny model: summary.json keyed by name, results.json, plots, the report."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from typer.testing import CliRunner

from skywork.eval.cli import app
from skywork.eval.loss import evaluate_loss
from skywork.recipe.report import _evaluation
from skywork.utils.summary import read_summary

runner = CliRunner()
ZH = ["今天天气很好，我们去公园散步。" * 3, "这家公司的收入在第三季度增长了百分之十。", "学习使人进步。" * 4]
EN = ["The quick brown fox jumps over the lazy dog. " * 3, "def add(a, b):\n    return a + b\n", "Hello."]


def _jsonl(path: Path, texts: list[str]) -> str:
    path.write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8"
    )
    return str(path)


def _invoke(args) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


@pytest.fixture(scope="module")
def suite_run(tmp_path_factory, tiny_model_dir):
    """A suite with two model labels, two domains and the leakage splits, run into RUN/evaluate."""
    root = tmp_path_factory.mktemp("suite")
    suite = {
        "models": {"stage-1": str(tiny_model_dir), "stage-2": str(tiny_model_dir)},
        "domains": {
            "finance": _jsonl(root / "zh_finance.jsonl", ZH),
            "code": _jsonl(root / "en_code.jsonl", EN),
        },
        "leakage": {
            "train": _jsonl(root / "train.jsonl", EN[:2]),
            "test": _jsonl(root / "test.jsonl", ZH[:2]),
            "ref": _jsonl(root / "ref.jsonl", [EN[2], ZH[2]]),
        },
        "max_chars": 40,
        "batch_size": 2,
        "device": "cpu",
    }
    path = root / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, allow_unicode=True, sort_keys=False), encoding="utf-8")
    out = root / "run" / "evaluate"
    text = _invoke(["run", path, "-o", out])
    return SimpleNamespace(suite=suite, out=out, text=text)


def test_summary_is_keyed_by_domain_name(suite_run, tiny_model, tiny_tokenizer):
    summary = read_summary(suite_run.out, kind="eval", max_version=1)
    assert summary["schema"] == "skywork.eval/v1" and summary["max_chars"] == 40
    assert list(summary["models"]) == ["stage-1", "stage-2"]
    entry = summary["models"]["stage-1"]
    assert list(entry["domains"]) == ["finance", "code"]  # the names of the suite, in its order
    direct = evaluate_loss(tiny_model, tiny_tokenizer, list(suite_run.suite["domains"].values()), 40, 2)
    for name, path in suite_run.suite["domains"].items():
        domain = entry["domains"][name]
        assert domain["file"] == path
        assert {"loss", "ppl", "tokens", "documents", "chars", "bits_per_char"} <= set(domain)
        assert domain["loss"] == pytest.approx(direct["files"][path]["loss"], abs=1e-6)
    assert entry["pooled"]["ppl"] == pytest.approx(direct["pooled"]["ppl"], rel=1e-6)
    assert {"L_train", "L_test", "L_ref", "delta1", "delta2", "ci", "verdict"} <= set(entry["leakage"])
    assert "benchmarks" not in entry and "gsm8k" not in entry
    assert summary["plots"] == {
        "domain_ppl": "domain_ppl.png",
        "leakage-stage-1": "leakage-stage-1.png",
        "leakage-stage-2": "leakage-stage-2.png",
    }
    for rel in summary["plots"].values():
        assert (suite_run.out / rel).stat().st_size > 1000
    assert "finance loss / ppl" in suite_run.text and "summary written" in suite_run.text


def test_results_json_keeps_the_evaluator_results(suite_run):
    results = json.loads((suite_run.out / "results.json").read_text())
    assert set(results) == {"stage-1", "stage-2"}
    entry = results["stage-1"]
    assert set(entry["domain_loss"]["files"]) == set(suite_run.suite["domains"].values())
    assert {"L_train", "L_test", "L_ref"} <= set(entry["leakage"])


def test_report_section_reads_the_summary(suite_run):
    run_dir = suite_run.out.parent
    ctx = SimpleNamespace(run_dir=run_dir, stage_dir_of=lambda name: run_dir / name)
    section = _evaluation(ctx, ["evaluate"])
    tables = [payload for kind, payload in section.blocks if kind == "table"]
    header, rows = tables[0]
    assert header == ["model", "finance", "code", "average"] and [r[0] for r in rows] == [
        "stage-1",
        "stage-2",
    ]
    images = [payload[0] for kind, payload in section.blocks if kind == "img"]
    assert images == [
        "evaluate/domain_ppl.png",
        "evaluate/leakage-stage-1.png",
        "evaluate/leakage-stage-2.png",
    ]


def test_benchmarks_and_gsm8k_keyed_by_name(tmp_path, shared_data, tiny_model_dir, gsm8k_files):
    suite = {
        "models": {"tiny": str(tiny_model_dir)},
        "mcq": [{"bench": "cmmlu", "data_dir": str(shared_data / "haonan-li+CMMLU/data"), "subjects": ["anatomy"],
                 "limit": 2}],
        "gsm8k": {"data": str(gsm8k_files["test"]), "shots": 1, "limit": 2, "max_new_tokens": 4},
        "device": "cpu",
    }  # fmt: skip
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    _invoke(["run", path, "--output", tmp_path / "out"])
    entry = read_summary(tmp_path / "out", kind="eval")["models"]["tiny"]
    cmmlu = entry["benchmarks"]["cmmlu"]
    assert cmmlu["n"] == 2 and 0 <= cmmlu["accuracy"] <= 1 and cmmlu["subjects"]["anatomy"]["n"] == 2
    assert cmmlu["average"] == "macro" and cmmlu["categories"]
    assert entry["gsm8k"]["n"] == 2 and {"accuracy", "no_answer", "log"} <= set(entry["gsm8k"])
    assert len(Path(entry["gsm8k"]["log"]).read_text().splitlines()) == 2
    assert "domains" not in entry and "leakage" not in entry


def test_bad_suite_names_the_key(tmp_path, tiny_model_dir):
    path = tmp_path / "bad.yaml"
    path.write_text(
        yaml.safe_dump({"models": {"m": str(tiny_model_dir)}, "mcq": [{"bench": "agieval", "data_dir": "."}]})
    )
    result = runner.invoke(app, ["run", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "mcq[0].bench" in result.output and "agieval" in result.output
    path.write_text(yaml.safe_dump({"models": {"m": str(tiny_model_dir)}, "domains": {"x": "missing.jsonl"}}))
    result = runner.invoke(app, ["run", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and "domains.x" in result.output and "missing.jsonl" in result.output
    assert not (tmp_path / "out").exists()


def test_example_suite_file_is_valid():
    from skywork.eval.suite import SuiteConfig
    from skywork.utils.config import load_config

    config = load_config(SuiteConfig, Path(__file__).resolve().parents[2] / "configs" / "eval" / "demo.yaml")
    config.validate()
    assert list(config.domains) == ["en", "zh", "code", "stem"] and config.leakage and config.gsm8k
