"""What each ``data.use`` of the multimodal batch source turns an image row into."""

from __future__ import annotations

from skywork.data.synth.images import IMAGE_PLACEHOLDER
from skywork.mm.data import conversations, read_image_rows


def _rows(mm_data):
    return read_image_rows([str(mm_data / "train" / "images.jsonl")], max_images=6)


def test_questions_make_one_single_turn_example_per_question_with_the_image(mm_data):
    for row in _rows(mm_data):
        asked = conversations(row, "questions", ["en", "zh"])
        items = row["qa"] + row["yesno"]
        assert len(asked) == len(items)
        for conversation, item in zip(asked, items, strict=True):
            (turn,) = conversation.turns
            assert turn.user == IMAGE_PLACEHOLDER + item["question"] and turn.assistant == item["answer"]


def test_question_kinds_and_languages_filter_the_questions(mm_data):
    for row in _rows(mm_data):
        asked = conversations(row, "questions", ["en"], question_kinds=["color", "reading"])
        wanted = [q for q in row["qa"] if q["kind"] in ("color", "reading") and q["lang"] == "en"]
        assert [c.turns[0].assistant for c in asked] == [q["answer"] for q in wanted]


def test_dialogues_plus_questions_is_the_dialogue_then_every_question(mm_data):
    row = _rows(mm_data)[0]
    both = conversations(row, "dialogues+questions", ["en", "zh"])
    dialogues = conversations(row, "dialogues", ["en", "zh"])
    questions = conversations(row, "questions", ["en", "zh"])
    assert both == dialogues + questions and len(dialogues) == 1
