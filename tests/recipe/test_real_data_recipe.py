"""recipes/real-data.yaml runs end to end on ../shared/data, shrunk: its own stages and files, fewer steps and
questions (collect, cleaning, tokenizer, both pretraining stages, loss + leakage + MCQ + GSM8K, report).
About 12 s on 2 quiet cores."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from rich.console import Console

from skywork.recipe.kinds import KINDS
from skywork.recipe.runner import load_recipe, run_recipe

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
SUBJECTS = {"ceval": ["art_studies"], "cmmlu": ["agronomy"], "mmlu": ["anatomy"]}


def _shrunk(recipe: dict) -> dict:
    stages = recipe["stages"]
    for source in stages["collect"]["config"]["sources"]:
        source["max_docs"] = 150
    stages["tokenizer"]["config"].update(latin_size=1500, chinese_chars=600, chinese_words=400)
    for name, steps in (("pretrain_stage1", 6), ("pretrain_stage2", 4)):
        config = stages[name]["config"]
        config.update(max_steps=steps, eval_every=steps, save_every=steps, precision="fp32", progress=False)
        config["data"].update(seq_len=128, eval_sequences=2)
        config["optim"].pop("warmup_steps", None)
        if "preset" in config["model"]:
            config["model"]["preset"] = "skywork-tiny"
    evaluate = stages["evaluate"]["config"]
    evaluate["max_docs"] = 4
    for bench in evaluate["mcq"]:
        bench.update(limit=2, subjects=SUBJECTS[bench["bench"]])
    evaluate["gsm8k"].update(limit=2, max_new_tokens=8)
    sft = stages["sft"]["config"]
    sft.update(max_steps=2, eval_every=2, save_every=2, precision="fp32", progress=False, plots=False)
    sft["data"].update(max_seq_len=128, seq_len=128, heldout_examples=4, samples=1, sample_max_new_tokens=4)
    sft["optim"].pop("warmup_steps", None)
    stages["chat_eval"]["config"].update(limit=2, max_new_tokens=4)
    return recipe


def test_real_data_recipe_runs_shrunk(shared_data, tmp_path):
    recipe = _shrunk(yaml.safe_load((RECIPES / "real-data.yaml").read_text()))
    path = tmp_path / "real-data-small.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False))
    run_dir = tmp_path / "run"
    states = run_recipe(load_recipe(path, KINDS, run_dir), run_dir, KINDS, console=Console(quiet=True))

    assert all(state["status"] == "done" for state in states.values()) and len(states) == 10
    collected = states["collect"]["result"]["sources"]
    assert set(collected) == {"c4_en", "wiki_en", "books_en", "clue_zh", "web_zh", "parallel"}
    assert all(0 < entry["documents"] <= 150 for entry in collected.values())
    total = sum(entry["documents"] for entry in collected.values())
    summary = json.loads((run_dir / "data" / "summary.json").read_text())
    assert summary["input"] == total and 0 < summary["kept"] < total  # the CCNet spam pages give it work

    results = json.loads((run_dir / "evaluate" / "results.json").read_text())
    for entry in results.values():
        assert set(entry["mcq"]) == {"ceval", "cmmlu", "mmlu"}
        assert all(r["n"] == 2 and 0 <= r["accuracy"] <= 1 for r in entry["mcq"].values())
        assert entry["gsm8k"]["n"] == 2
        assert {"L_train", "L_test", "L_ref"} <= set(entry["leakage"])
        assert len(entry["domain_loss"]["files"]) == 4
    html = (run_dir / "report.html").read_text()
    sft = json.loads((run_dir / "sft" / "summary.json").read_text())
    assert sft["data"]["rows_read"] == 1000 and sft["data"]["skipped"] == {"empty_response": 1}
    for title in (
        "Collected sources",
        "Data cleaning",
        "Tokenizer",
        "Pretraining",
        "Evaluation",
        "Fine-tuning",
    ):
        assert title in html
    assert "GSM8K" in html and "cmmlu" in html
    # accuracies read as percentages with a decimal ("50.0% (n=2)"), never in exponent notation
    markdown = (run_dir / "report.md").read_text()
    assert re.search(r"\| \d+\.\d% \(n=2\) \|", markdown) and "e+" not in markdown
