"""The generated image QA set: deterministic, bilingual, answers consistent with the pixels, held-out apart."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skywork.data.synth.images import (
    COLOURS,
    IMAGE_PLACEHOLDER,
    ImageQAConfig,
    decode_png,
    digit_split,
    generate_images,
)


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_same_seed_same_bytes_and_another_seed_differs(tmp_path):
    config = ImageQAConfig(train_images=9, heldout_images=3, digits_train=0, digits_heldout=0)
    a = generate_images(config, tmp_path / "a")["files"]
    b = generate_images(config, tmp_path / "b")["files"]
    c = generate_images(
        ImageQAConfig(seed=1, train_images=9, heldout_images=3, digits_train=0, digits_heldout=0),
        tmp_path / "c",
    )["files"]
    assert a == b
    assert a["train/images.jsonl"]["sha256"] != c["train/images.jsonl"]["sha256"]


def test_rows_are_bilingual_with_the_image_in_the_first_user_turn(mm_data):
    rows = _rows(mm_data / "train" / "images.jsonl")
    assert {r["kind"] for r in rows} == {"scene", "reading", "chart"}
    langs = {d["lang"] for r in rows for d in r["dialogues"]}
    assert langs == {"en", "zh"}
    for row in rows:
        assert set(row["captions"]) == {"en", "zh"}
        messages = row["dialogues"][0]["messages"]
        assert messages[0]["role"] == "user" and messages[0]["content"].startswith(IMAGE_PLACEHOLDER)
        assert all(IMAGE_PLACEHOLDER not in m["content"] for m in messages[1:])
        assert len(messages) in (4, 6)
        assert decode_png(row["image"]).size == (32, 32)


def test_colour_answers_match_the_pixels(mm_data):
    rows = [r for r in _rows(mm_data / "train" / "images.jsonl") if r["kind"] == "scene"]
    for row in rows:
        colour = next(q["answer"] for q in row["qa"] if q["kind"] == "color" and q["lang"] == "en")
        pixels = np.asarray(decode_png(row["image"])).reshape(-1, 3).astype(int)
        distance = np.abs(pixels - np.array(COLOURS[colour][0])).sum(axis=1)
        assert (distance < 30).sum() >= 4, f"{row['id']}: no {colour} pixels"


def test_yes_no_pairs_have_one_yes_and_one_no_per_language(mm_data):
    for row in _rows(mm_data / "heldout" / "images.jsonl"):
        for lang in ("en", "zh"):
            answers = [q["answer"] for q in row["yesno"] if q["lang"] == lang]
            assert len(answers) % 2 == 0 and answers.count(answers[0]) == len(answers) // 2


def test_digits_split_never_overlaps_and_is_seeded():
    train, held = digit_split(0, 1797, 900, 300)
    assert len(train) == 900 and len(held) == 300 and not set(train) & set(held)
    assert digit_split(0, 1797, 900, 300) == (train, held)


def test_digits_are_real_images_with_labels(mm_data):
    pytest.importorskip("sklearn", reason="the digits need scikit-learn: pip install 'skywork[mm]'")
    rows = _rows(mm_data / "heldout" / "digits.jsonl")
    assert len(rows) == 10
    train_ids = {r["id"] for r in _rows(mm_data / "train" / "digits.jsonl")}
    assert not train_ids & {r["id"] for r in rows}
    for row in rows:
        digit = next(q["answer"] for q in row["qa"] if q["kind"] == "digit" and q["lang"] == "en")
        parity = next(q["answer"] for q in row["qa"] if q["kind"] == "parity" and q["lang"] == "en")
        assert parity == ("yes" if int(digit) % 2 == 0 else "no")


def test_unknown_kind_is_an_input_error(tmp_path):
    from skywork.utils.io import InputError

    with pytest.raises(InputError, match="unknown image kinds"):
        generate_images(ImageQAConfig(train_images=1, heldout_images=1, kinds=["video"]), tmp_path)


def _ink_box(image, threshold: int = 150) -> tuple[int, int]:
    """Height and width of the dark pixels' bounding box (the text of a reading image)."""
    gray = np.asarray(image.convert("L"))
    ys, xs = np.nonzero(gray < threshold)
    return int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)


def test_number_share_sets_the_share_of_numbers_among_reading_images():
    import random

    from skywork.data.synth.images import reading_item

    def numbers(share: float) -> int:
        r = random.Random(0)
        return sum(reading_item(r, 32, number_share=share)["qa"][0]["answer"].isdigit() for _ in range(200))

    assert numbers(0.0) == 0 and numbers(1.0) == 200
    assert 60 < numbers(0.5) < 140 < numbers(0.9)


def test_reading_text_size_and_shape_scale_are_options():
    import random

    from skywork.data.synth.images import reading_item, scene_item

    small = reading_item(random.Random(3), 32, text_px=12)
    large = reading_item(random.Random(3), 32)  # default: 9/16 of the side, 18 px at 32
    assert small["qa"][0]["answer"] == large["qa"][0]["answer"]
    assert _ink_box(large["image"])[0] > _ink_box(small["image"])[0]
    for seed in range(40):  # scaled shapes still stay inside their quarter, so the count stays countable
        item = scene_item(random.Random(seed), 32, shape_scale=1.4)
        count = int(next(q["answer"] for q in item["qa"] if q["kind"] == "count"))
        if count > 1:
            gray = np.asarray(item["image"].convert("L")) < 200
            occupied = sum(bool(gray[y : y + 16, x : x + 16].any()) for y in (0, 16) for x in (0, 16))
            assert occupied == count, f"seed {seed}"
