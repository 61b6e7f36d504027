"""Train the quality model on shared reference / web text and use it inside the pipeline."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from skywork.data.cli import app
from skywork.data.quality_model import QualityModel, iter_texts

pytestmark = pytest.mark.shared


def test_train_quality_model_and_filter(shared_data, tmp_path, mixed_corpus):
    s = shared_data
    reference = [
        s / "hiyouga+LLaMA-Factory/data/wiki_demo.txt",
        s / "GITenberg+Pride-and-Prejudice_1342/1342-0.txt",
        s / "SkyworkAI+Skywork/data/eval_loss/zh_news.jsonl",
        s / "SkyworkAI+Skywork/data/eval_loss/zh_general.jsonl",
    ]
    web = [
        s / "hiyouga+LLaMA-Factory/data/c4_demo.jsonl",
        s / "dbiir+UER-py/corpora/CLUECorpusSmall_sampled.txt",
        s / "CASIA-LM+ChineseWebText/fasttext/data/dirty.jsonl",
    ]
    out = tmp_path / "qm"
    args = ["train-quality", str(out), "--max-docs-per-file", "300"]
    for path in reference:
        args += ["--reference", str(path)]
    for path in web:
        args += ["--web", str(path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    model = QualityModel(out)
    assert set(model.info["bucket_edges"]) == {"zh", "en"}
    # held-out reference articles (past the 300 used for training) score better than Common Crawl pages with
    # injected gambling spam, on both parts of the model
    clean = list(iter_texts(s / "SkyworkAI+Skywork/data/eval_loss/zh_news.jsonl"))[300:380]
    spam = list(iter_texts(s / "CASIA-LM+ChineseWebText/2021-43/cleared1.jsonl"))
    clean_scores = [model.score(t, "zh") for t in clean]
    spam_scores = [model.score(t, "zh") for t in spam]
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    assert median([x["perplexity"] for x in clean_scores]) < median([x["perplexity"] for x in spam_scores])
    assert mean([x["ref_score"] for x in clean_scores]) > mean([x["ref_score"] for x in spam_scores])

    from skywork.data.pipeline import PipelineConfig, run_pipeline

    config = PipelineConfig(inputs=mixed_corpus["paths"], output_dir=str(tmp_path / "run"))
    config.quality_model.model_dir = str(out)
    summary = run_pipeline(config)
    assert summary["balanced"]
    removed = summary["excluded_by_step"]["quality_model"]
    assert removed.get("perplexity_tail", 0) > 0
