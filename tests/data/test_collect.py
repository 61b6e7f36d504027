"""The collect reader as a datatrove step: documents with ids and labels, and the stage's summary.json."""

from __future__ import annotations

import json

import pytest
from datatrove.data import Document

from skywork.data.collect import CollectConfig, CollectReader, CollectSource, collect
from skywork.utils.io import InputError
from skywork.utils.summary import read_summary


def test_reader_step_yields_documents_in_file_order(tmp_path):
    (tmp_path / "a.txt").write_text("one\n\ntwo 中文\n")
    (tmp_path / "b.txt").write_text("three\n")
    reader = CollectReader(CollectSource(name="s", files=[str(tmp_path / "*.txt")], max_docs=2))
    docs = list(reader.run())
    assert all(isinstance(d, Document) for d in docs)
    assert [(d.id, d.text, d.metadata) for d in docs] == [
        ("s-000001", "one", {"source": "s", "lang": "en"}),
        ("s-000002", "two 中文", {"source": "s", "lang": "zh"}),
    ]
    assert reader.chars == len("one") + len("two 中文")
    with pytest.raises(ValueError, match="one task"):
        list(reader.run(rank=0, world_size=2))


def test_collect_writes_summary_json(tmp_path):
    (tmp_path / "pairs.tsv").write_text("Hello.\t你好。\nno tab\n")
    config = CollectConfig(
        sources=[CollectSource(name="pairs", files=[str(tmp_path / "pairs.tsv")], split="tab")]
    )
    sources = collect(config, tmp_path / "out")
    summary = read_summary(tmp_path / "out", "collect", max_version=1)
    assert summary["sources"] == json.loads(json.dumps(sources))
    assert sources["pairs"]["skipped"] == {"no_tab": 1} and sources["pairs"]["documents"] == 1


def test_a_missing_file_names_the_source(tmp_path):
    config = CollectConfig(sources=[CollectSource(name="web", files=[str(tmp_path / "none*.jsonl")])])
    with pytest.raises(InputError, match=r"sources\.web\.files"):
        collect(config, tmp_path / "out")
