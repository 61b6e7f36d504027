"""Paired rephrase references: aligned views, per-item scores, the decision table, suite summary and report."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml
from typer.testing import CliRunner

from skywork.eval.cli import app
from skywork.eval.leakage import decide, leakage_test
from skywork.eval.paired import item_auc, load_pairs
from skywork.recipe.report import _evaluation
from skywork.utils.io import InputError
from skywork.utils.summary import read_summary

REPHRASE = "lm-sys+llm-decontaminator/data/rephrase"


def _head(src: Path, dst: Path, n: int) -> Path:
    dst.write_text("".join(src.read_text(encoding="utf-8").splitlines(keepends=True)[:n]), encoding="utf-8")
    return dst


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_gsm8k_view_compares_question_and_final_answer(shared_data, gsm8k_files):
    pairs = load_pairs(gsm8k_files["test"], shared_data / REPHRASE / "rephrase_gsm8k.jsonl")
    assert pairs.view == "gsm8k" and not pairs.skipped and len(pairs.indices) > 1000
    original, rephrased = pairs.originals[0], pairs.rephrasings[0]
    assert original.startswith("Question: Janet’s ducks") and original.endswith("\nAnswer: \n#### 18")
    assert "<<" not in original  # the worked solution is left out: the rephrasing has none
    assert rephrased.startswith("Question: Janet's ducks produce") and rephrased.endswith("#### 18")


def test_mcq_view_is_question_plus_answer_text_and_skips_empty_rephrasings(shared_data):
    folder = shared_data / REPHRASE
    pairs = load_pairs(
        folder / "sociology_test.csv", folder / "sociology_test_rephrase_english_filtered_question.jsonl"
    )
    assert pairs.view == "mcq" and pairs.skipped == [16, 39, 67, 176]
    answer = "how social groups colonized different areas of the city and competed for resources"
    assert pairs.originals[1] == f"The ecological approach to urban sociology involved studying: {answer}"
    assert pairs.rephrasings[1].endswith(answer) and pairs.rephrasings[1].startswith("For urban sociology")


def test_text_view_and_alignment_errors(tmp_path):
    test = _jsonl(tmp_path / "t.jsonl", [{"text": "a b c"}, {"text": "d e f"}])
    pairs = load_pairs(test, _jsonl(tmp_path / "p.jsonl", [{"text": "c b a"}, {"text": ""}]))
    assert pairs.view == "text" and pairs.indices == [0] and pairs.skipped == [1]
    with pytest.raises(InputError, match="align 1:1"):
        load_pairs(test, _jsonl(tmp_path / "short.jsonl", [{"text": "x"}]))
    with pytest.raises(InputError, match="unknown paired view"):
        load_pairs(test, tmp_path / "p.jsonl", view="nope")


def test_item_auc():
    assert item_auc([3, 2, 1, 0], [True, True, False, False]) == 1.0
    assert item_auc([0, 1], [True, False]) == 0.0
    assert item_auc([1, 1], [True, False]) == 0.5


@pytest.mark.parametrize(
    ("paired", "d1", "d2", "call", "test_leak"),
    [
        (True, False, False, "test_exposure", True),
        (True, True, True, "test_exposure", True),
        ("below", True, False, "test_exposure", True),  # test easier than train and its rephrasings
        (False, True, True, "familiarity", False),  # train-style data, test items not seen: no test leak
        (False, True, False, "familiarity", False),
        (False, False, True, "train_seen", False),
        (False, False, False, "none", False),
        (None, True, False, "test_leak", True),  # no paired reference: the report's Δ1 rule
        (None, False, True, "train_seen", False),
        (None, False, False, "none", False),
    ],
)
def test_decision_table(paired, d1, d2, call, test_leak):
    pair = {
        "gap": 0.2,
        "ci": [0.1, 0.3],
        "excess": 0.3,
        "excess_ci": [0.2, 0.4],
        "margin": 0.25,
        "flagged": 1,
        "items": 4,
        "item_threshold": 0.5,
    }
    decision = decide(
        {"delta1": d1, "delta2": d2, "paired": paired}, -0.3, 0.3, pair if paired is not None else None
    )
    assert decision["call"] == call and decision["test_leak"] is test_leak and decision["version"] == 1
    if paired is not None:
        assert ("paired gap" in decision["verdict"]) and (decision["driver"] or call == "none")


def test_without_paired_reference_the_result_is_unchanged(tmp_path, gsm8k_files, tiny_model, tiny_tokenizer):
    files = {k: _head(v, tmp_path / f"{k}.jsonl", 8) for k, v in gsm8k_files.items()}
    res = leakage_test(
        tiny_model, tiny_tokenizer, files["train"], files["test"], files["ref"], n_bootstrap=100
    )
    assert "paired" not in res and res["verdict"].startswith("No sign of leakage: test, reference")
    assert res["decision"]["call"] == "none" and res["decision"]["signals"]["paired"] is None


def _train(model, tokenizer, texts: list[str], steps: int = 40) -> None:
    ids = [tokenizer(t[:300], add_special_tokens=False)["input_ids"] for t in texts]
    width = max(len(x) for x in ids)
    batch = torch.tensor([x + [0] * (width - len(x)) for x in ids])
    labels = torch.tensor([x + [-100] * (width - len(x)) for x in ids])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=batch, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


@pytest.fixture(scope="module")
def planted(tmp_path_factory, shared_data, gsm8k_files, tiny_tokenizer):
    """Tiny models trained on half of 16 paired GSM8K test items (contaminated) or on 8 train items (control)."""
    from skywork.testing import build_tiny_model

    root = tmp_path_factory.mktemp("planted")
    files = {k: _head(v, root / f"{k}.jsonl", 16) for k, v in gsm8k_files.items()}
    files["paired"] = _head(shared_data / REPHRASE / "rephrase_gsm8k.jsonl", root / "paired.jsonl", 16)
    pairs = load_pairs(files["test"], files["paired"])
    train_texts = [json.loads(x)["text"] for x in files["train"].read_text().splitlines()[:8]]
    out = {}
    for variant, texts in (("contaminated", pairs.originals[::2]), ("control", train_texts)):
        model = build_tiny_model(vocab_size=len(tiny_tokenizer), seed=1)
        _train(model, tiny_tokenizer, texts)
        out[variant] = leakage_test(
            model, tiny_tokenizer, files["train"], files["test"], files["ref"], max_chars=300, n_bootstrap=200,
            paired=files["paired"],
        )  # fmt: skip
    return SimpleNamespace(files=files, results=out)


def test_planted_items_rank_first_and_get_the_exposure_call(planted):
    res = planted.results["contaminated"]
    items = res["paired"]["per_item"]
    assert len(items) == 16 and {
        "index",
        "loss_original",
        "loss_rephrased",
        "gap",
        "score",
        "flagged",
    } <= set(items[0])
    assert item_auc([it["score"] for it in items], [it["index"] % 2 == 0 for it in items]) >= 0.9
    assert res["decision"]["call"] == "test_exposure" and res["leak_suspected"]
    assert res["verdict"].startswith("Test-set exposure (driven by")


def test_train_style_control_gets_no_test_leak_call(planted):
    res = planted.results["control"]
    assert not res["decision"]["test_leak"] and not res["leak_suspected"]
    assert res["decision"]["call"] in ("familiarity", "train_seen", "none")


def test_suite_summary_and_report_hold_the_paired_keys(tmp_path, planted, tiny_model_dir):
    files = planted.files
    suite = {
        "models": {"tiny": str(tiny_model_dir)},
        "leakage": {**{k: str(files[k]) for k in ("train", "test", "ref", "paired")}, "top_items": 3},
        "max_chars": 300,
        "device": "cpu",
    }
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    result = CliRunner().invoke(app, ["run", str(path), "-o", str(tmp_path / "run" / "evaluate")])
    assert result.exit_code == 0, result.output
    leak = read_summary(tmp_path / "run" / "evaluate", kind="eval", max_version=1)["models"]["tiny"][
        "leakage"
    ]
    assert leak["paired"]["version"] == 1 and leak["decision"]["version"] == 1
    assert len(leak["paired"]["top_items"]) == 3 and "per_item" not in leak["paired"]
    scores = [it["score"] for it in leak["paired"]["top_items"]]
    assert scores == sorted(scores, reverse=True)
    run_dir = tmp_path / "run"
    section = _evaluation(
        SimpleNamespace(run_dir=run_dir, stage_dir_of=lambda name: run_dir / name), ["evaluate"]
    )
    headers = [payload[0] for kind, payload in section.blocks if kind == "table"]
    assert ["model", "paired gap [CI]", "items flagged", "call", "driven by"] in headers
    top = next(rows for (header, rows) in (p for k, p in section.blocks if k == "table") if "score" in header)
    assert len(top) == 3 and top[0][0] == "tiny"


def test_cli_paired_option_prints_the_top_items(tmp_path, planted, tiny_model_dir):
    files, out = planted.files, tmp_path / "leak.json"
    args = ["leakage", tiny_model_dir, "--train", files["train"], "--test", files["test"], "--ref", files["ref"],
            "--paired", files["paired"], "--bootstrap", "100", "--top", "2", "-o", out]  # fmt: skip
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert "most exposed-looking items" in result.output and "paired gap" in result.output
    assert len(json.loads(out.read_text())["paired"]["per_item"]) == 16
