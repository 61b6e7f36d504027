"""The MM chain as a recipe: data -> tokenizer -> encoder -> alignment -> instruction tuning -> eval -> report."""

from __future__ import annotations

import json

import pytest
import yaml

pytestmark = pytest.mark.slow

TINY_LLM = {"preset": "skywork-tiny", "overrides": {"hidden_size": 32, "intermediate_size": 64}}
TINY_VIT = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}


def test_the_mm_recipe_runs_end_to_end_and_reports(tmp_path):
    from skywork.recipe.kinds import KINDS
    from skywork.recipe.loading import load_recipe
    from skywork.recipe.runner import run_recipe

    files = {"files": ["${mm_data}/train/images.jsonl"], "heldout_images": 4}
    train = {
        "tokenizer": "${tokenizer}",
        "max_steps": 2,
        "micro_batch_size": 2,
        "precision": "fp32",
        "progress": False,
        "plots": False,
    }
    recipe = {
        "name": "mm-tiny",
        "stages": {
            "mm_data": {
                "kind": "mm_data",
                "config": {"train_images": 24, "heldout_images": 3, "digits_train": 0, "digits_heldout": 3},
            },
            "tokenizer": {
                "kind": "tokenizer",
                "config": {
                    "inputs": ["${mm_data}/text/corpus.jsonl"],
                    "latin_size": 400,
                    "chinese_chars": 150,
                    "chinese_words": 30,
                    "reserved": 17,
                    "selection_rounds": 1,
                    "num_threads": 1,
                },
            },
            "encoder": {
                "kind": "mm_encoder",
                "config": {**train, "model": TINY_LLM, "mm": {"vision": TINY_VIT}, "data": files},
            },
            "alignment": {
                "kind": "mm_align",
                "config": {**train, "mm": {"init_from": "${encoder}/final"}, "data": files},
            },
            "instruct": {
                "kind": "mm_instruct",
                "config": {**train, "mm": {"init_from": "${alignment}/final"}, "data": files},
            },
            "mm_eval": {
                "kind": "mm_eval",
                "config": {"model": "${instruct}/final", "data_dir": "${mm_data}", "limit": 2},
            },
            "report": {"kind": "report", "config": {"title": "mm tiny"}},
        },
    }
    path = tmp_path / "mm.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    run_dir = tmp_path / "run"
    run_recipe(load_recipe(path, KINDS, run_dir), run_dir, KINDS)
    summary = json.loads((run_dir / "alignment" / "summary.json").read_text())
    assert summary["kind"] == "mm_align" and summary["trained_parts"] == ["projector"]
    assert json.loads((run_dir / "mm_eval" / "summary.json").read_text())["questions"] > 0
    report = (run_dir / "report.md").read_text()
    assert "Skywork-MM" in report and "text only" in report
