"""A small tokenizer of the Skywork composition, trained once per session on text always present here."""

from __future__ import annotations

import json

import pytest

from skywork.testing import _ZH, stdlib_text
from skywork.tokenizer.train import TokenizerTrainConfig, train_tokenizer

SMALL = dict(latin_size=700, chinese_chars=300, chinese_words=200, reserved=17)  # 1,217 entries


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    (root / "code.txt").write_text(stdlib_text(max_files=12, max_chars=150_000), encoding="utf-8")
    (root / "zh.jsonl").write_text(
        "\n".join(json.dumps({"text": s}, ensure_ascii=False) for s in _ZH * 30), encoding="utf-8"
    )
    return root


@pytest.fixture(scope="session")
def small_config(small_corpus):
    return TokenizerTrainConfig(inputs=[str(small_corpus)], **SMALL)


@pytest.fixture(scope="session")
def small_tokenizer(tmp_path_factory, small_config, small_corpus):
    out = tmp_path_factory.mktemp("small") / "tok"
    compression_files = {"zh": str(small_corpus / "zh.jsonl")}
    report = train_tokenizer(
        small_config, out, progress=lambda msg: None, compression_files=compression_files
    )
    return out, report
