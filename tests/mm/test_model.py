"""The multimodal directory is plain transformers LLaVA: Auto classes load it without remote code, the processor
gives the same ids and pixels as our encoding, and `skywork info` reports the parts."""

from __future__ import annotations

import json

import torch
from typer.testing import CliRunner

from skywork.data.synth.images import decode_png


def _first_image(mm_data):
    return decode_png(json.loads((mm_data / "heldout" / "images.jsonl").read_text().splitlines()[0])["image"])


def test_auto_classes_load_it_without_remote_code(mm_model_dir, mm_data):
    from transformers import AutoModelForImageTextToText, AutoProcessor, LlavaForConditionalGeneration

    from skywork.mm.processor import encode_mm_chat, pixels
    from skywork.tokenizer import load

    config = json.loads((mm_model_dir / "config.json").read_text())
    assert config["model_type"] == "llava" and config["text_config"]["model_type"] == "llama"
    assert config["vision_config"]["model_type"] == "siglip_vision_model" and "auto_map" not in config
    model = AutoModelForImageTextToText.from_pretrained(mm_model_dir, trust_remote_code=False).eval()
    assert isinstance(model, LlavaForConditionalGeneration)
    processor = AutoProcessor.from_pretrained(mm_model_dir, trust_remote_code=False)
    tokenizer = load(mm_model_dir)
    image = _first_image(mm_data)
    question = "What colour are the shapes?"
    ids, count = encode_mm_chat(
        tokenizer, [{"role": "user", "content": "<image>" + question}], "<reserved_0>", 16
    )
    assert count == 1 and ids.count(config["image_token_index"]) == 16
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "<reserved_0>" + question}], tokenize=False
    )
    inputs = processor(images=[image], text=[text], add_special_tokens=False, return_tensors="pt")
    assert inputs["input_ids"][0].tolist() == ids
    ours = pixels([image], 32)
    assert torch.equal(inputs["pixel_values"], ours)
    with torch.no_grad():
        a = model(**inputs).logits
        b = model(input_ids=torch.tensor([ids]), pixel_values=ours).logits
    assert torch.allclose(a, b)


def test_the_image_changes_the_answer_logits(mm_model_dir, mm_data):
    from skywork.mm.model import load_mm_model
    from skywork.mm.processor import encode_mm_chat, pixels
    from skywork.tokenizer import load

    model, tokenizer = load_mm_model(mm_model_dir), load(mm_model_dir)
    ids, _ = encode_mm_chat(tokenizer, [{"role": "user", "content": "<image>Hi"}], "<reserved_0>", 16)
    rows = [json.loads(line) for line in (mm_data / "heldout" / "images.jsonl").read_text().splitlines()[:2]]
    values = pixels([r["image"] for r in rows], 32)
    with torch.no_grad():
        first = model(input_ids=torch.tensor([ids]), pixel_values=values[:1]).logits[0, -1]
        second = model(input_ids=torch.tensor([ids]), pixel_values=values[1:]).logits[0, -1]
    assert not torch.allclose(first, second)


def test_info_reports_parts_and_image_tokens(mm_model_dir):
    from skywork.cli import app

    result = CliRunner().invoke(app, ["info", str(mm_model_dir), "--json"])
    assert result.exit_code == 0, result.output
    facts = json.loads(result.output[result.output.index("{") :])
    assert facts["image_tokens_per_image"] == 16
    assert set(facts["parameters"]) == {"vision", "projector", "llm"}
    assert all(v > 0 for v in facts["parameters"].values())


def test_a_missing_image_token_is_an_input_error(mm_tokenizer_dir):
    import pytest

    from skywork.mm.processor import image_token_id
    from skywork.tokenizer import load
    from skywork.utils.io import InputError

    with pytest.raises(InputError, match="not in the vocabulary"):
        image_token_id(load(mm_tokenizer_dir), "<no_such_token>")
