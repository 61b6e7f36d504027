"""`skywork train cpt`: continued pretraining from a model directory on raw JSONL/text, in fixed blocks."""

from __future__ import annotations

import json


def test_cpt_run_on_raw_text_learns_and_saves_a_model(tmp_path, base_model_dir):
    from skywork.model import load_model
    from skywork.train.cpt import run_cpt
    from skywork.train.finetune_config import CPTConfig
    from skywork.utils.config import from_dict
    from skywork.utils.summary import read_summary

    texts = [f"第{i}天，小明读了{i + 2}页书。Day {i}: read {i + 2} pages. " * 4 for i in range(30)]
    (tmp_path / "corpus.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    (tmp_path / "note.txt").write_text("A plain text file is one document. " * 5)
    config = from_dict(
        CPTConfig,
        {
            "output_dir": str(tmp_path / "run"),
            "model": {"init_from": str(base_model_dir)},
            "data": {
                "files": [str(tmp_path / "corpus.jsonl"), str(tmp_path / "note.txt")],
                "seq_len": 64,
                "heldout_documents": 3,
                "eval_sequences": 2,
            },
            "optim": {"lr": 3e-3, "warmup_steps": 1},
            "max_steps": 8,
            "micro_batch_size": 2,
            "precision": "fp32",
            "device": "cpu",
            "eval_every": 4,
            "save_every": 8,
            "progress": False,
            "tensorboard": False,
            "plots": False,
        },
    )
    summary = run_cpt(config, resume="never")
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in rows if "loss" in r]
    assert losses[-1] < losses[0]
    val = [r["val_loss"]["heldout"] for r in rows if "val_loss" in r]
    assert len(val) == 2 and val[-1] < val[0]
    saved = read_summary(tmp_path / "run", "cpt")
    assert saved["data"]["documents"] == 31 and saved["data"]["train_documents"] == 28
    assert load_model(summary["final_dir"]) is not None
    assert "chat_template" in json.loads((tmp_path / "run" / "final" / "tokenizer_config.json").read_text())
