"""SFT rows: three formats into one Conversation, located errors, counted skips, the official alpaca sample."""

from __future__ import annotations

import pytest

from skywork.finetune.formats import Conversation, ReadCounts, Turn, read_conversations
from skywork.utils.io import InputError
from skywork.utils.paths import shared_data_dir

TWO_TURNS = Conversation((Turn("hi", "hello there"), Turn("1+1?", "2")), system="Be brief.")


def read(path, **kwargs) -> tuple[list[Conversation], ReadCounts]:
    counts = ReadCounts()
    return list(read_conversations(path, counts=counts, **kwargs)), counts


def strip_source(conversations):
    return [Conversation(c.turns, c.system) for c in conversations]


def test_three_formats_give_the_same_conversation(write_jsonl):
    alpaca = write_jsonl(
        "a.jsonl",
        [
            {
                "instruction": "1+1?",
                "input": "",
                "output": "2",
                "system": "Be brief.",
                "history": [["hi", "hello there"]],
            }
        ],
    )
    messages = write_jsonl(
        "m.jsonl",
        [
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello there"},
                    {"role": "user", "content": "1+1?"},
                    {"role": "assistant", "content": "2"},
                ]
            }
        ],
    )
    sharegpt = write_jsonl(
        "s.jsonl",
        [
            {
                "conversations": [
                    {"from": "system", "value": "Be brief."},
                    {"from": "human", "value": "hi"},
                    {"from": "gpt", "value": "hello there"},
                    {"from": "human", "value": "1+1?"},
                    {"from": "gpt", "value": "2"},
                ]
            }
        ],
    )
    for path, fmt in ((alpaca, "alpaca"), (messages, "messages"), (sharegpt, "sharegpt")):
        conversations, counts = read(path)
        assert strip_source(conversations) == [TWO_TURNS], fmt
        assert counts.by_format == {fmt: 1} and counts.rows_read == 1
        assert conversations[0].source == f"{path}:1"
        assert strip_source(read(path, format=fmt)[0]) == [TWO_TURNS]
    assert TWO_TURNS.messages()[0] == {"role": "system", "content": "Be brief."}


def test_alpaca_input_joins_the_instruction_as_build_dataset_does(write_jsonl):
    path = write_jsonl(
        "a.jsonl",
        [
            {"instruction": "Translate", "input": "你好", "output": "Hello"},
            {"instruction": "Say hi", "input": "", "output": "hi"},
            {"instruction": "Say hi", "output": "hi"},
        ],
    )
    conversations, _ = read(path)
    assert [c.turns[0].user for c in conversations] == ["Translate\n你好", "Say hi", "Say hi"]


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ({"instruction": "q"}, "output"),
        ({"instruction": "q", "output": 3}, "output"),
        ({"instruction": "q", "output": "a", "history": [["only one"]]}, "history[0]"),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant"}]}, "messages[1].content"),
        (
            {"messages": [{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}]},
            "messages[1].role",
        ),
        ({"messages": [{"role": "user", "content": "q"}]}, "messages[0].content"),
        (
            {"conversations": [{"from": "human", "value": "q"}, {"from": "robot", "value": "a"}]},
            "conversations[1].from",
        ),
        ({"conversations": [{"from": "gpt", "value": "a"}]}, "conversations[0].value"),
    ],
)
def test_bad_rows_name_file_line_and_field(write_jsonl, row, field):
    good = {"instruction": "q", "output": "a"} if "instruction" in row else None
    good = good or ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]})
    if "conversations" in row:
        good = {"conversations": [{"from": "human", "value": "q"}, {"from": "gpt", "value": "a"}]}
    path = write_jsonl("bad.jsonl", [good, "", row])  # the blank line still counts: the bad row is line 3
    with pytest.raises(InputError) as err:
        read(path)
    assert (err.value.path, err.value.line, err.value.field) == (path, 3, field)
    assert str(path) in str(err.value) and "line 3" in str(err.value) and field in str(err.value)


def test_skip_mode_counts_every_reason(write_jsonl):
    path = write_jsonl(
        "mixed.jsonl",
        [
            {"instruction": "q1", "output": "a1"},
            {"instruction": "q2"},  # missing_field
            {"instruction": "q3", "output": ["a"]},  # bad_type
            {"instruction": "q4", "output": "   "},  # empty_response
            {"instruction": "q5", "output": "a5"},
        ],
    )
    conversations, counts = read(path, on_error="skip")
    assert [c.turns[0].user for c in conversations] == ["q1", "q5"]
    assert counts.rows_read == 5 and counts.by_format == {"alpaca": 2}
    assert counts.skipped == {"missing_field": 1, "bad_type": 1, "empty_response": 1}

    messages = write_jsonl(
        "m.jsonl",
        [
            {"messages": [{"role": "assistant", "content": "a"}]},  # turn_order
            {"messages": [{"role": "user", "content": "q"}, {"role": "tool", "content": "a"}]},  # bad_role
            {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
        ],
    )
    conversations, counts = read(messages, on_error="skip")
    assert len(conversations) == 1 and counts.skipped == {"turn_order": 1, "bad_role": 1}


def test_empty_answers_are_skipped_and_counted_even_when_raising(write_jsonl):
    path = write_jsonl(
        "e.jsonl",
        [
            {"instruction": "q", "output": ""},
            {"instruction": "q", "output": "a", "history": [["earlier", ""]]},
            {"instruction": "q", "output": "a"},
        ],
    )
    conversations, counts = read(path)
    assert len(conversations) == 1 and counts.skipped == {"empty_response": 2}


def test_unknown_format_and_invalid_json(write_jsonl):
    with pytest.raises(InputError, match="cannot tell the SFT format") as err:
        read(write_jsonl("x.jsonl", [{"text": "plain"}]))
    assert err.value.line == 1
    with pytest.raises(InputError, match="invalid JSON") as err:
        read(write_jsonl("j.jsonl", [{"instruction": "q", "output": "a"}, "{not json"]))
    assert err.value.line == 2
    with pytest.raises(InputError, match="unknown SFT format"):
        read(write_jsonl("y.jsonl", [{"instruction": "q", "output": "a"}]), format="alpacca")


def test_official_alpaca_sample_loads_as_it_is():
    shared = shared_data_dir()
    if shared is None:
        pytest.skip("../shared/data is absent (set SKYWORK_SHARED_DATA to run this test)")
    path = shared / "SkyworkAI+Skywork" / "data" / "sft_data" / "alpaca_data_zh_51k_sample_1k.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    conversations, counts = read(path)
    assert counts.rows_read == 1000
    assert counts.by_format["alpaca"] + counts.skipped.get("empty_response", 0) == 1000
    assert counts.skipped == {"empty_response": 1}  # one row of the sample has an empty output
    assert all(len(c.turns) == 1 and c.turns[0].assistant.strip() for c in conversations)
