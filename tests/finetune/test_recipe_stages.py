"""The fine-tuning stages in a recipe: instructions -> sft -> chat_eval (before / after) -> the report's part."""

from __future__ import annotations

import json

import yaml
from rich.console import Console


def test_instructions_sft_and_chat_eval_stages_and_their_report_part(tmp_path, base_model_dir):
    from skywork.recipe.kinds import KINDS
    from skywork.recipe.runner import load_recipe, run_recipe

    recipe = {
        "name": "sft-small",
        "stages": {
            "instructions": {"kind": "instructions", "config": {"train_rows": 60, "heldout_rows": 8}},
            "sft": {
                "kind": "sft",
                "config": {
                    "model": {"init_from": str(base_model_dir)},
                    "data": {
                        "files": ["${instructions}/train.jsonl"],
                        "validation_files": ["${instructions}/heldout.jsonl"],
                        "max_seq_len": 64,
                        "seq_len": 128,
                        "samples": 2,
                        "sample_max_new_tokens": 4,
                    },
                    "optim": {"lr": 3e-3, "warmup_steps": 1},
                    "max_steps": 4,
                    "eval_every": 2,
                    "save_every": 4,
                    "micro_batch_size": 2,
                    "precision": "fp32",
                    "progress": False,
                    "tensorboard": False,
                },
            },
            "chat_eval": {
                "kind": "chat_eval",
                "config": {
                    "models": {"before": str(base_model_dir), "after": "${sft}/final"},
                    "prompts": [str(tmp_path / "absent.jsonl"), "${instructions}/heldout.jsonl"],
                    "limit": 3,
                    "max_new_tokens": 4,
                    "sampling": "greedy",
                },
            },
            "report": {"kind": "report", "config": {"title": "fine-tuning"}},
        },
    }
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True, sort_keys=False))
    run_dir = tmp_path / "run"
    states = run_recipe(load_recipe(path, KINDS, run_dir), run_dir, KINDS, console=Console(quiet=True))
    assert all(state["status"] == "done" for state in states.values()) and len(states) == 4

    rows = [json.loads(x) for x in (run_dir / "instructions" / "train.jsonl").read_text().splitlines()]
    assert len(rows) == 60 and {"add", "sort"} <= {r["task"] for r in rows}
    sft = json.loads((run_dir / "sft" / "summary.json").read_text())
    assert sft["data"]["examples"] == 60 and sft["plots"]["sft"] == "plots/sft.png"
    assert (run_dir / "sft" / "plots" / "sft.png").is_file()

    chat = json.loads((run_dir / "chat_eval" / "summary.json").read_text())
    assert chat["kind"] == "chat_eval_models" and chat["prompts_file"].endswith("heldout.jsonl")
    assert set(chat["models"]) == {"before", "after"}
    for name in ("before", "after"):
        overall = chat["models"][name]["overall"]
        assert overall["answers"] == 3 and 0 <= overall["exact"] <= 1  # generated prompts carry references
        assert (run_dir / "chat_eval" / name / "answers.html").is_file()

    html = (run_dir / "report.html").read_text()
    assert "Fine-tuning" in html and "examples kept" in html and "held-out loss" in html
    assert "sft_sft.png" in html and (run_dir / "report" / "sft_sft.png").is_file()
    assert "stopped by itself" in html and "exact answer" in html
    first_prompt = json.loads((run_dir / "chat_eval" / "after" / "answers.jsonl").read_text().splitlines()[0])
    assert first_prompt["prompt"][:20] in html  # the before / after answers table
