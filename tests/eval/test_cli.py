"""``skywork eval`` commands end to end on a tiny saved model: JSON results with the issue's keys, tables."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from skywork.eval.cli import app
from skywork.eval.tables import leakage_table

runner = CliRunner()


def _run(args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_loss_command(tmp_path, tiny_model_dir, tiny_tokenizer_dir):
    data = tmp_path / "zh_x.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in ["今天天气很好。" * 5, "def f(): pass"]))
    out = tmp_path / "loss.json"
    text = _run(
        ["loss", tiny_model_dir, "--data", data, "--reference-tokenizer", tiny_tokenizer_dir, "-o", out]
    )
    res = json.loads(out.read_text())
    entry = res["files"][str(data)]
    assert {"loss", "tokens", "ppl", "normalized_loss", "bits_per_char"} <= set(entry)
    assert {"loss", "ppl"} <= set(res["pooled"])
    assert "pooled" in text


def test_mcq_gsm8k_leakage_commands(tmp_path, shared_data, tiny_model_dir, gsm8k_files):
    out = tmp_path / "mcq.json"
    cmmlu = shared_data / "haonan-li+CMMLU/data"
    _run(
        [
            "mcq",
            tiny_model_dir,
            "--bench",
            "cmmlu",
            "--data-dir",
            cmmlu,
            "--subjects",
            "anatomy",
            "--limit",
            "3",
            "-o",
            out,
        ]
    )
    res = json.loads(out.read_text())
    assert res["bench"] == "cmmlu" and res["subjects"]["anatomy"]["n"] == 3 and "categories" in res

    out = tmp_path / "gsm8k.json"
    _run(["gsm8k", tiny_model_dir, "--data", gsm8k_files["test"], "--shots", "1", "--limit", "2",
          "--max-new-tokens", "4", "-o", out])  # fmt: skip
    res = json.loads(out.read_text())
    assert res["n"] == 2 and "accuracy" in res
    assert len((tmp_path / "gsm8k.samples.jsonl").read_text().splitlines()) == 2

    out = tmp_path / "leak.json"
    text = _run(["leakage", tiny_model_dir, "--train", gsm8k_files["train"], "--test", gsm8k_files["test"],
                 "--ref", gsm8k_files["ref"], "--limit", "8", "--bootstrap", "100", "-o", out,
                 "--plot", tmp_path / "leak.png"])  # fmt: skip
    res = json.loads(out.read_text())
    assert (tmp_path / "leak.png").stat().st_size > 1000
    row = leakage_table({"tiny": res}).splitlines()[2]
    assert row.startswith("| tiny | ") and f"{res['delta1']:+.2f}" in row
    assert {"L_train", "L_test", "L_ref", "delta1", "delta2", "ci", "verdict"} <= set(res)
    assert "delta1" in text


def test_overlap_command_finds_planted_sample(tmp_path):
    bench = tmp_path / "bench.jsonl"
    questions = [
        "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.",
        "小明有三个苹果，又买了五个苹果，他现在一共有多少个苹果呢请你算一算",
        "A completely unrelated question about trains and their timetables in the morning.",
    ]
    bench.write_text("".join(json.dumps({"question": q, "answer": "#### 1"}) + "\n" for q in questions))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text(
        json.dumps(
            {"id": "doc-7", "text": "Blog: natalia SOLD clips to 48 of her friends in April, and then she..."}
        )
        + "\n"
        + json.dumps({"id": "doc-8", "text": "他说小明有三个苹果，又买了五个苹果，他现在一共有多少个"})
        + "\n"
        + json.dumps({"meta": "no text"})
        + "\n"
    )
    out = tmp_path / "overlap.json"
    _run(["overlap", corpus, bench, "-o", out])
    res = json.loads(out.read_text())
    assert res["contaminated_samples"] == [0, 1] and res["samples"] == 3
    assert res["skipped"] == {"no_text_field": 1}
    assert {e["corpus_doc"] for e in res["examples"]} == {"doc-7", "doc-8"}


def test_export_lm_eval_command(tmp_path, shared_data, tiny_tokenizer_dir):
    cmmlu = shared_data / "haonan-li+CMMLU/data"
    _run(["export-lm-eval", "--bench", "cmmlu", "--data-dir", cmmlu, "-o", tmp_path / "tasks",
          "--tokenizer", tiny_tokenizer_dir, "--subjects", "anatomy,philosophy", "--limit", "2"])  # fmt: skip
    import yaml

    group = yaml.safe_load((tmp_path / "tasks" / "skywork_cmmlu.yaml").read_text())
    assert group["task"] == ["skywork_cmmlu_anatomy", "skywork_cmmlu_philosophy"]
    task = yaml.safe_load((tmp_path / "tasks" / "skywork_cmmlu_anatomy.yaml").read_text(encoding="utf-8"))
    assert task["dataset_path"] == "json" and task["target_delimiter"] == ""
    rows = (
        (tmp_path / "tasks" / "data" / "skywork_cmmlu_anatomy.jsonl").read_text(encoding="utf-8").splitlines()
    )
    assert len(rows) == 2 and json.loads(rows[0])["prompt"].endswith("\n答案：")
