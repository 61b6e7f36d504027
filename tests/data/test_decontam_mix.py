"""Decontamination against real benchmark files and source mixing with the repetition cap."""

from __future__ import annotations

import json

import pytest

from skywork.data.io import read_documents
from skywork.data.mix import MixConfig, mix_sources
from skywork.data.pipeline import PipelineConfig, run_pipeline

pytestmark = pytest.mark.shared


def _write(path, records):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")


@pytest.mark.parametrize("mode", ["drop", "mask"])
def test_decontamination_drops_or_masks_leaked_items(shared_data, tmp_path, mode):
    from tests.data.conftest import chinese_docs, english_docs

    gsm8k = shared_data / "openai+grade-school-math/grade_school_math/data/test.jsonl"
    cmmlu = shared_data / "haonan-li+CMMLU/data/test/agronomy.csv"
    item = json.loads(gsm8k.read_text().splitlines()[0])
    cmmlu_q = cmmlu.read_text(encoding="utf-8").splitlines()[1].split(",")[1]
    en, zh = english_docs(shared_data, 6), chinese_docs(shared_data, 6)
    records = [{"id": f"en-{i}", "text": t, "source": "web"} for i, t in enumerate(en)]
    records += [{"id": f"zh-{i}", "text": t, "source": "web"} for i, t in enumerate(zh)]
    records.append({"id": "leak-gsm8k", "text": en[0] + "\n" + item["question"] + " " + item["answer"]})
    records.append({"id": "leak-cmmlu", "text": zh[0] + "。\n" + cmmlu_q + "。"})
    _write(tmp_path / "in.jsonl", records)
    config = PipelineConfig(inputs=[str(tmp_path / "in.jsonl")], output_dir=str(tmp_path / "run"))
    config.quality.enabled = False
    config.dedup.exact = config.dedup.minhash = False
    config.decontamination.benchmarks = {"gsm8k": [str(gsm8k)], "cmmlu": [str(cmmlu.parent / "*.csv")]}
    config.decontamination.mode = mode
    summary = run_pipeline(config)
    assert summary["balanced"]
    assert summary["contamination"] == {"cmmlu": 1, "gsm8k": 1}
    kept = {d["id"]: d for d in read_documents(tmp_path / "run")}
    if mode == "drop":
        assert summary["excluded"]["contaminated"] == 2 and "leak-gsm8k" not in kept
    else:
        assert item["question"][:40] not in kept["leak-gsm8k"]["text"]
        assert en[0][:100] in kept["leak-gsm8k"]["text"] and cmmlu_q not in kept["leak-cmmlu"]["text"]
    assert all(k in kept for k in ("en-1", "zh-1"))


def test_mix_weights_and_repetition_cap(tmp_path):
    records = [{"id": f"big-{i}", "text": "b" * 1000, "source": "web"} for i in range(50)]
    records += [{"id": f"small-{i}", "text": "s" * 1000, "source": "books"} for i in range(10)]
    _write(tmp_path / "in.jsonl", records)
    report = mix_sources(
        MixConfig(
            inputs=[str(tmp_path / "in.jsonl")],
            output_dir=str(tmp_path / "mix"),
            weights={"web": 0.5, "books": 0.5},
            max_repeat=5,
        )
    )
    # books needs 5x to match web's 1x: exactly at the cap, output is half books / half web
    assert report["sources"]["books"]["repeat"] == 5 and report["sources"]["web"]["repeat"] == 1
    assert report["sources"]["books"]["actual_share"] == 0.5
    docs = list(read_documents(tmp_path / "mix"))
    assert len(docs) == 100 and max(d["metadata"]["repeat"] for d in docs) == 4
    capped = mix_sources(
        MixConfig(
            inputs=[str(tmp_path / "in.jsonl")],
            output_dir=str(tmp_path / "mix2"),
            weights={"web": 0.1, "books": 0.9},
            max_repeat=5,
            target_chars=200_000,
        )
    )
    assert capped["sources"]["books"]["capped"] and capped["sources"]["books"]["repeat"] == 5
