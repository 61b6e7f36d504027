"""The three stages on the one loop: what each trains, that packing keeps examples (and images) apart, resume."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from skywork.mm.train import MMTrainConfig, run_mm_training
from skywork.utils.config import from_dict

LLM = {"preset": "skywork-tiny", "overrides": {"hidden_size": 32, "intermediate_size": 64}}
VISION = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2}


def _config(out, kind, tokenizer, data, init=None, steps=3, **extra):
    raw = {
        "output_dir": str(out),
        "tokenizer": str(tokenizer),
        "kind": kind,
        "max_steps": steps,
        "micro_batch_size": 2,
        "eval_every": steps,
        "save_every": steps,
        "progress": False,
        "plots": False,
        "precision": "fp32",
        "model": LLM,
        "mm": {"vision": VISION} if init is None else {"init_from": str(init)},
        "data": {"files": [str(data / "train" / "images.jsonl")], "heldout_images": 6},
        **extra,
    }
    return from_dict(MMTrainConfig, raw)


def _weights(model_dir):
    return load_file(str(model_dir / "model.safetensors"))


@pytest.fixture(scope="module")
def encoder_dir(tmp_path_factory, mm_tokenizer_dir, mm_data):
    out = tmp_path_factory.mktemp("enc")
    summary = run_mm_training(_config(out, "mm_encoder", mm_tokenizer_dir, mm_data))
    assert summary["trained_parts"] == ["vision", "projector", "llm"]
    assert summary["data"]["use"] == "both" and summary["data"]["heldout_images"] == 6
    return out / "final"


def test_encoder_stage_writes_a_loadable_llava_dir_with_its_summary(encoder_dir):
    from transformers import AutoModelForImageTextToText

    from skywork.utils.summary import read_summary

    summary = read_summary(encoder_dir.parent, kind="mm_encoder")
    assert summary["steps"] == 3 and summary["val_loss"]["heldout"] > 0
    assert all(v > 0 for v in summary["trainable"].values())
    model = AutoModelForImageTextToText.from_pretrained(encoder_dir)
    assert model.config.vision_config.image_size == 32
    assert (encoder_dir / "processor_config.json").is_file()


def test_alignment_trains_the_projector_only(encoder_dir, tmp_path, mm_tokenizer_dir, mm_data):
    summary = run_mm_training(
        _config(tmp_path, "mm_align", mm_tokenizer_dir, mm_data, init=encoder_dir, steps=2)
    )
    assert summary["trainable"]["llm"] == 0 and summary["trainable"]["vision"] == 0
    before, after = _weights(encoder_dir), _weights(tmp_path / "final")
    assert before.keys() == after.keys()
    for name, tensor in before.items():
        changed = not torch.equal(tensor, after[name])
        assert changed == ("multi_modal_projector." in name), name


def test_instruction_tuning_resumes_exactly(encoder_dir, tmp_path, mm_tokenizer_dir, mm_data):
    straight = _config(tmp_path / "a", "mm_instruct", mm_tokenizer_dir, mm_data, init=encoder_dir, steps=4)
    straight.save_every = 2
    summary = run_mm_training(straight)
    assert summary["data"]["use"] == "dialogues" and summary["trainable"]["vision"] == 0
    first = _config(tmp_path / "b", "mm_instruct", mm_tokenizer_dir, mm_data, init=encoder_dir, steps=2)
    run_mm_training(first)
    second = _config(tmp_path / "b", "mm_instruct", mm_tokenizer_dir, mm_data, init=encoder_dir, steps=4)
    second.save_every = 2
    resumed = run_mm_training(second, resume="auto")
    assert resumed["steps"] == 4
    a, b = _weights(tmp_path / "a" / "final"), _weights(tmp_path / "b" / "final")
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-6), name


def test_packed_rows_give_each_example_its_own_image_and_context(encoder_dir, mm_tokenizer_dir, mm_data):
    """An example's logits in a packed row (several examples and images) equal the example run alone."""
    from skywork.mm.data import make_mm_source
    from skywork.mm.model import load_mm_model
    from skywork.tokenizer import load

    config = _config(
        encoder_dir.parent / "unused", "mm_instruct", mm_tokenizer_dir, mm_data, init=encoder_dir
    )
    from skywork.mm.train import resolve

    resolve(config)
    config.mm.vision.image_size, config.mm.vision.patch_size = 32, 8
    source = make_mm_source(config, 1, load(mm_tokenizer_dir))
    batch = source.next_batch(2)
    row = next(r for r in range(2) if batch.images_per_row[r] >= 2)
    part = batch.rows(slice(row, row + 1))
    assert len(part.pixel_values) == part.images_per_row[0] >= 2
    model = load_mm_model(encoder_dir)
    with torch.no_grad():
        packed = model(**part.model_inputs(torch.device("cpu")), use_cache=False).logits[0]
        starts = (part.position_ids[0] == 0).nonzero().flatten().tolist()
        for k, (start, end) in enumerate(zip(starts, starts[1:], strict=False)):
            ids = part.input_ids[:, start:end]
            alone = model(input_ids=ids, pixel_values=part.pixel_values[k : k + 1], use_cache=False).logits[0]
            assert torch.allclose(packed[start:end], alone, atol=1e-4), f"example {k}"


def test_instruction_tuning_with_lora_trains_the_adapter_and_saves_merged_weights(
    encoder_dir, tmp_path, mm_tokenizer_dir, mm_data
):
    config = _config(tmp_path, "mm_instruct", mm_tokenizer_dir, mm_data, init=encoder_dir, steps=2)
    config.mm.lora.enabled, config.mm.lora.r, config.mm.lora.alpha = True, 4, 32
    summary = run_mm_training(config)
    assert summary["lora"] is True and summary["trainable"]["vision"] == 0
    assert 0 < summary["trainable"]["llm"] < summary["parameters"]["llm"] / 4
    before, after = _weights(encoder_dir), _weights(tmp_path / "final")
    assert before.keys() == after.keys()  # merged: no adapter tensors, a plain LLaVA directory
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert any("q_proj" in n for n in changed) and any("multi_modal_projector" in n for n in changed)
    assert not any("vision_tower" in n or "mlp" in n for n in changed)
