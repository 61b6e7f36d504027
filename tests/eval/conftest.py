"""Fixtures for the evaluation tests: one tiny random Skywork model (and its saved directory) per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model(tiny_tokenizer):
    from skywork.testing import build_tiny_model

    return build_tiny_model(vocab_size=len(tiny_tokenizer), seed=0)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_model, tiny_tokenizer):
    """The tiny model saved with its tokenizer files (loads with load_model and lm-eval's hf backend)."""
    out = tmp_path_factory.mktemp("model")
    tiny_model.save_pretrained(out)
    tiny_tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def gsm8k_files(shared_data):
    """The three sets of the report's leakage test (train split, test split, GPT-4 reference)."""
    return {
        "train": shared_data / "SkyworkAI+Skywork/data/pt_train.jsonl",
        "test": shared_data / "openai+grade-school-math/grade_school_math/data/test.jsonl",
        "ref": shared_data / "SkyworkAI+Skywork/data/eval_loss/mock_gsm8k_test_public.jsonl",
    }
