"""Paired rephrase references: aligned views, per-item scores, the decision table, suite summary and report."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from skywork.eval.cli import app
from skywork.eval.leakage import decide, leakage_test
from skywork.eval.min_k import min_k_prob
from skywork.eval.paired import fit_two_groups, item_auc, load_pairs, null_ratios, score_gaps
from skywork.recipe.report import _evaluation
from skywork.recipe.sections import leakage as leakage_section
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


def _gap_items(gaps) -> list[dict]:
    return [{"index": i, "gap": float(g)} for i, g in enumerate(gaps)]


def _paired_signal(gaps, seed: int = 0) -> dict:
    """The set-level paired signal of synthetic per-item gaps, as score_pairs computes it from real losses."""
    return score_gaps(_gap_items(gaps), 0.01, 3.0, 200, 0.95, np.random.default_rng(seed), n_null=199)


def _style(n: int, offset: float, seed: int) -> np.ndarray:
    """Unexposed gaps: the same style offset for every item plus noise (one group)."""
    return np.random.default_rng(seed).normal(offset, 0.15, n)


def _exposed_half(n: int, seed: int) -> np.ndarray:
    """Half the items (even positions) exposed: their originals' losses drop by 0.8 nats/token."""
    gaps = _style(n, 0.3, seed)
    gaps[::2] += 0.8
    return gaps


@pytest.mark.parametrize(
    ("gaps", "d1", "d2", "below", "call", "test_leak"),
    [
        (_exposed_half(48, 1), False, False, False, "test_exposure", True),  # row 1: a subset exposed
        (_exposed_half(48, 2), True, True, False, "test_exposure", True),
        (_style(48, 0.6, 3), True, False, True, "test_exposure", True),  # row 2: every item exposed
        (_style(48, 0.3, 4), True, True, False, "familiarity", False),  # train-style data, items unseen
        (_style(48, 0.3, 5), True, False, False, "familiarity", False),
        (_style(48, 0.3, 6), False, True, False, "train_seen", False),
        (_style(48, 0.0, 7), False, False, False, "none", False),
        (None, True, False, False, "test_leak", True),  # no paired reference: the report's Δ1 rule
        (None, False, True, False, "train_seen", False),
        (None, False, False, False, "none", False),
    ],
)
def test_decision_table_rows_from_synthetic_gaps(gaps, d1, d2, below, call, test_leak):
    pair = _paired_signal(gaps) if gaps is not None else None
    signals = {"delta1": d1, "delta2": d2, "test_below_train": below, "paired": pair and pair["exposed"]}
    decision = decide(signals, -0.3, -0.3 if below else 0.3, pair)
    assert decision["call"] == call and decision["test_leak"] is test_leak and decision["version"] == 3
    if pair is not None:
        assert "two-group test p =" in decision["verdict"] and (decision["driver"] or call == "none")
        assert ("driven by the paired gaps" in decision["verdict"]) is (
            decision["driver"] == "paired gap (two groups)"
        )


def test_two_group_test_finds_the_exposed_items_and_spares_style_shifts():
    pair = _paired_signal(_exposed_half(48, 8))
    groups = pair["groups"]
    assert groups["split"] and groups["p_value"] <= 0.01 and groups["separation"] > 4
    assert abs(groups["exposed_share"] - 0.5) < 0.1 and abs(groups["style_offset"] - 0.3) < 0.1
    items = _gap_items(_exposed_half(48, 8))
    score_gaps(items, 0.01, 3.0, 100, 0.95, np.random.default_rng(0))
    assert [it["flagged"] for it in items] == [i % 2 == 0 for i in range(48)]
    # one group: a larger or smaller style offset, any spread, never splits (false-alarm rate well under 5%)
    calls = [_paired_signal(_style(n, offset, seed), seed)["exposed"] for n, offset, seed in
             [(24, 0.3, s) for s in range(10)] + [(200, -0.4, s) for s in range(10)]]  # fmt: skip
    assert sum(calls) == 0
    # a few exposed items among many form a heavy upper tail, also a second group
    tail = _style(200, 0.3, 9)
    tail[:20] += 1.0
    assert _paired_signal(tail)["exposed"]
    # one odd item is no group; nor is a lower group of a few items (at least a quarter must be unexposed)
    odd = _style(48, 0.3, 10)
    odd[0] += 3.0
    assert not _paired_signal(odd)["exposed"] and _gap_items(odd)
    low = _style(48, 0.3, 11)
    low[:6] -= 1.5
    assert not _paired_signal(low)["exposed"]


def test_heavy_tailed_single_group_never_splits_and_a_planted_half_on_heavy_tails_does():
    """The rule of decision table v3: the null is one group with the data's own fitted tail weight.

    Short items and odd rephrasings give real gap distributions heavy tails; against a Gaussian null (table v2)
    such a single group looked like a core plus a second group (t(3), 200 items: 22% of sets split).
    """
    heavy = [
        0.3 + 0.15 * np.random.default_rng(seed).standard_t(df, 200) for df in (2, 3) for seed in range(4)
    ]
    results = [_paired_signal(gaps)["groups"] for gaps in heavy]
    assert not any(g["split"] for g in results)
    assert {g["tail_df"] for g in results} <= {1.0, 2.0, 4.0, 8.0}  # fitted as heavy-tailed, not Gaussian
    # half of 128 items planted 1 nat/token above the rest, on the same kind of heavy-tailed noise (t(5))
    planted = 0.3 + 0.15 * np.random.default_rng(20).standard_t(5, 128)
    planted[::2] += 1.0
    pair = _paired_signal(planted)
    groups = pair["groups"]
    assert groups["split"] and groups["p_value"] <= 0.01 and groups["bimodal"] and groups["separation"] > 4
    assert abs(groups["exposed_share"] - 0.5) < 0.05 and abs(groups["style_offset"] - 0.3) < 0.05
    items = _gap_items(planted)
    score_gaps(items, 0.01, 3.0, 100, 0.95, np.random.default_rng(0))
    agree = np.mean([it["flagged"] == (i % 2 == 0) for i, it in enumerate(items)])
    assert agree >= 0.95  # the exposed-group posterior recovers the planted half


def test_two_group_null_is_cached_per_tail_weight_and_size():
    a, b = null_ratios(3.0, 40, 99), null_ratios(3.0, 40, 99)
    assert a is b and a.shape == (99,) and (a >= 0).all()
    gaps = _style(40, 0.3, 21)
    assert (
        _paired_signal(gaps, seed=1)["groups"]["p_value"] == _paired_signal(gaps, seed=2)["groups"]["p_value"]
    )


def test_fit_two_groups_is_location_and_scale_free():
    x = _exposed_half(40, 12)
    a, b = fit_two_groups(x[None, :]), fit_two_groups(3.0 * x[None, :] - 7.0)
    assert np.allclose(a["lr"], b["lr"], rtol=1e-6) and np.allclose(a["share"], b["share"])


def test_min_k_prob():
    losses = [0.1, 2.0, 0.2, 4.0, 0.3, 0.1, 0.1, 0.1, 0.1, 0.1]
    assert min_k_prob(losses, 0.2) == pytest.approx(-3.0)  # the 2 least likely of 10 tokens
    assert min_k_prob(losses, 0.01) == pytest.approx(-4.0)  # at least one token
    assert min_k_prob(losses, 1.0) == pytest.approx(-sum(losses) / 10)
    with pytest.raises(ValueError):
        min_k_prob(losses, 0.0)


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
        "z",
        "p_exposed",
        "min_k",
        "min_k_gap",
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
    assert leak["paired"]["version"] == 3 and leak["decision"]["version"] == 3
    assert {"p_value", "separation", "split", "style_offset", "tail_df", "bimodal"} <= set(
        leak["paired"]["groups"]
    )
    assert len(leak["paired"]["top_items"]) == 3 and "per_item" not in leak["paired"]
    scores = [it["score"] for it in leak["paired"]["top_items"]]
    assert scores == sorted(scores, reverse=True)
    run_dir = tmp_path / "run"
    section = _evaluation(
        SimpleNamespace(run_dir=run_dir, stage_dir_of=lambda name: run_dir / name), ["evaluate"]
    )
    headers = [payload[0] for kind, payload in section.blocks if kind == "table"]
    # the built-in part keeps Table 8; the paired figures and top items are the leakage section's alone
    assert not any("paired gap [CI]" in header for header in headers)
    ctx = SimpleNamespace(run_dir=run_dir, log=logging.getLogger("test"))
    verdicts = leakage_section.section(ctx, ["evaluate"], run_dir / "report")
    assert verdicts.title == "Leakage verdicts" and leakage_section.KINDS == ("evaluate",)
    (signal_header, signal_rows), (item_header, item_rows) = [p for k, p in verdicts.blocks if k == "table"]
    assert signal_rows[0][0] == "tiny" and signal_rows[0][-2] == leak["decision"]["call"]
    assert "null " in signal_rows[0][4] and signal_rows[0][4].startswith("p = ")
    assert "two-group test" in signal_header and "min-k%" in item_header and len(item_rows) == 3


def test_cli_paired_option_prints_the_top_items(tmp_path, planted, tiny_model_dir):
    files, out = planted.files, tmp_path / "leak.json"
    args = ["leakage", tiny_model_dir, "--train", files["train"], "--test", files["test"], "--ref", files["ref"],
            "--paired", files["paired"], "--bootstrap", "100", "--top", "2", "-o", out]  # fmt: skip
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    assert "most exposed-looking items" in result.output and "paired gap" in result.output
    assert len(json.loads(out.read_text())["paired"]["per_item"]) == 16
