"""Shared fixtures: a real tiny SentencePiece tokenizer and tiny Skywork models, built once per session."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def tiny_tokenizer_dir(tmp_path_factory):
    from skywork.testing import build_tiny_tokenizer

    return build_tiny_tokenizer(tmp_path_factory.mktemp("tok"), vocab_size=1000)


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_tokenizer_dir):
    from skywork.tokenizer import load

    return load(tiny_tokenizer_dir)


@pytest.fixture(scope="session")
def shared_data():
    from skywork.testing import shared_data_dir

    path = shared_data_dir()
    if path is None:
        pytest.skip("../shared/data is absent (set SKYWORK_SHARED_DATA to run this test)")
    return path
