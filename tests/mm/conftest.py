"""Shared fixtures of the multimodal tests: a small generated image set, a tokenizer trained on its text (with the
reserved tokens, ``<reserved_0>`` the image token) and a tiny untrained LLaVA model directory."""

from __future__ import annotations

import pytest

pytest.importorskip("PIL", reason="the multimodal model needs Pillow: pip install 'skywork[mm]'")


@pytest.fixture(scope="session")
def mm_data(tmp_path_factory):
    from skywork.data.synth.images import ImageQAConfig, generate_images

    out = tmp_path_factory.mktemp("mm") / "data"
    generate_images(
        ImageQAConfig(train_images=60, heldout_images=12, digits_train=20, digits_heldout=10), out
    )
    return out


@pytest.fixture(scope="session")
def mm_tokenizer_dir(mm_data, tmp_path_factory):
    from skywork.tokenizer.train import TokenizerTrainConfig, train_tokenizer

    out = tmp_path_factory.mktemp("mm") / "tokenizer"
    config = TokenizerTrainConfig(
        inputs=[str(mm_data / "text" / "corpus.jsonl")],
        latin_size=400,
        chinese_chars=150,
        chinese_words=30,
        reserved=17,
        num_threads=1,
        dictionary_fill=True,
        selection_rounds=1,
    )
    train_tokenizer(config, out, progress=lambda *a: None)
    return out


@pytest.fixture(scope="session")
def mm_model_dir(mm_tokenizer_dir, tmp_path_factory):
    """An untrained tiny multimodal model directory (SigLIP 32 px / patch 8 -> 16 image tokens)."""
    from skywork.mm.model import VisionSection, build_mm_model
    from skywork.mm.processor import image_token_id, save_mm_dir
    from skywork.testing import build_tiny_model
    from skywork.tokenizer import load

    tokenizer = load(mm_tokenizer_dir)
    vision = VisionSection(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2)
    llm = build_tiny_model(vocab_size=len(tokenizer))
    model = build_mm_model(llm, vision, image_token_id(tokenizer, vision.image_token), seed=0)
    return save_mm_dir(tmp_path_factory.mktemp("mm") / "model", model, mm_tokenizer_dir, vision.image_token)
