"""Templates: the official encoding is the chat encoding id for id; labels, </s> and truncation."""

from __future__ import annotations

import pytest

from skywork.finetune.data import SFTDataConfig, build_sft_dataset, load_sft_batches
from skywork.finetune.formats import Conversation, Turn
from skywork.finetune.templates import IGNORE, encode_example, official_turns
from skywork.tokenizer import encode_chat
from skywork.utils.config import from_dict
from skywork.utils.io import InputError

SINGLE = Conversation((Turn("  你好，请介绍一下北京。\r\n", "北京是中国的首都。"),))
MULTI = Conversation(
    (Turn("hi", "hello there"), Turn("1+1?", "2"), Turn("and 2+2?", "4, of course")),
    system="You are helpful.",
)


def template_ids(tokenizer, messages) -> list[int]:
    ids = tokenizer.apply_chat_template(messages, tokenize=True)
    return list(ids if isinstance(ids, list) else ids["input_ids"])


def answer_spans(example, tokenizer) -> list[str]:
    """The decoded runs of labelled tokens."""
    spans, run = [], []
    for label in example.labels + [IGNORE]:
        if label == IGNORE:
            if run:
                spans.append(tokenizer.decode(run))
            run = []
        else:
            run.append(label)
    return spans


@pytest.mark.parametrize("conversation", [SINGLE, MULTI], ids=["single", "multi"])
def test_official_ids_are_encode_chat_and_apply_chat_template(tiny_tokenizer, conversation):
    example = encode_example(tiny_tokenizer, conversation, "official")
    messages = conversation.messages()
    assert example.input_ids == encode_chat(tiny_tokenizer, messages)
    assert example.input_ids == template_ids(tiny_tokenizer, messages)
    assert example.input_ids[:2] == [tiny_tokenizer.eos_token_id, tiny_tokenizer.bos_token_id]
    assert (
        example.input_ids[-1] == tiny_tokenizer.eos_token_id
        and example.labels[-1] == tiny_tokenizer.eos_token_id
    )
    # the prompt of the last turn is exactly the generation prompt skywork chat sends
    prompt_ids = encode_chat(tiny_tokenizer, messages[:-1])
    assert example.input_ids[: len(prompt_ids)] == prompt_ids
    last_only = encode_example(tiny_tokenizer, conversation, "official", mask_history=True)
    assert all(label == IGNORE for label in last_only.labels[: len(prompt_ids)])
    assert all(label != IGNORE for label in last_only.labels[len(prompt_ids) :])


def test_every_answer_is_trained_with_its_closing_eos(tiny_tokenizer):
    example = encode_example(tiny_tokenizer, MULTI, "official")
    assert answer_spans(example, tiny_tokenizer) == ["hello there</s>", "2</s>", "4, of course</s>"]
    trained = [i for i, label in enumerate(example.labels) if label != IGNORE]
    assert all(example.labels[i] == example.input_ids[i] for i in trained)
    # the </s> closing a history answer is the next turn's leading </s>; its <s> and markers stay prompt
    eos_positions = [i for i, t in enumerate(example.input_ids) if t == tiny_tokenizer.eos_token_id]
    assert eos_positions[0] == 0 and example.labels[0] == IGNORE
    for i in eos_positions[1:]:
        assert example.labels[i] == tiny_tokenizer.eos_token_id
        if i + 1 < len(example):
            assert example.input_ids[i + 1] == tiny_tokenizer.bos_token_id and example.labels[i + 1] == IGNORE


def test_mask_history_and_train_on_prompt(tiny_tokenizer):
    last_only = encode_example(tiny_tokenizer, MULTI, "official", mask_history=True)
    assert answer_spans(last_only, tiny_tokenizer) == ["4, of course</s>"]
    everything = encode_example(tiny_tokenizer, MULTI, "official", train_on_prompt=True)
    assert everything.labels[0] == IGNORE and everything.labels[1:] == everything.input_ids[1:]
    both = encode_example(tiny_tokenizer, MULTI, "official", mask_history=True, train_on_prompt=True)
    plain = encode_example(tiny_tokenizer, MULTI, "official")
    assert both.supervised_tokens < everything.supervised_tokens
    assert both.supervised_tokens > last_only.supervised_tokens
    assert plain.input_ids == last_only.input_ids == everything.input_ids


def test_raw_template_is_build_dataset(tiny_tokenizer):
    conversation = Conversation((Turn("Translate\n你好", "Hello"),))
    example = encode_example(tiny_tokenizer, conversation, "raw")
    source = tiny_tokenizer.encode("Translate\n你好")
    target = tiny_tokenizer.encode("Hello", add_special_tokens=False) + [tiny_tokenizer.eos_token_id]
    assert source[0] == tiny_tokenizer.bos_token_id
    assert example.input_ids == source + target
    assert example.labels == [IGNORE] * len(source) + target
    assert tiny_tokenizer.convert_tokens_to_ids("[USER]") not in example.input_ids
    multi = encode_example(tiny_tokenizer, MULTI, "raw")
    assert answer_spans(multi, tiny_tokenizer) == ["hello there</s>", "2</s>", "4, of course</s>"]


def test_truncation_cuts_the_prompt_from_the_left_first(tiny_tokenizer):
    long_prompt = Conversation((Turn("word " * 200, "short answer"),))
    full = encode_example(tiny_tokenizer, long_prompt, "official")
    cut = encode_example(tiny_tokenizer, long_prompt, "official", max_seq_len=40)
    assert len(cut) == 40 and cut.truncated and not cut.answer_truncated
    assert cut.input_ids == full.input_ids[-40:]
    assert answer_spans(cut, tiny_tokenizer) == ["short answer</s>"]

    long_answer = Conversation((Turn("q", "word " * 200),))
    cut = encode_example(tiny_tokenizer, long_answer, "official", max_seq_len=40)
    full = encode_example(tiny_tokenizer, long_answer, "official")
    assert len(cut) == 40 and cut.answer_truncated
    bot = tiny_tokenizer.convert_tokens_to_ids("[BOT]")
    assert cut.input_ids[0] == bot and cut.labels[0] == IGNORE  # one token of context kept before the answer
    start = full.input_ids.index(bot)
    assert cut.input_ids == full.input_ids[start : start + 40]

    history = encode_example(tiny_tokenizer, MULTI, "official")
    last_answer = len(tiny_tokenizer.encode("4, of course", add_special_tokens=False)) + 1
    cut = encode_example(tiny_tokenizer, MULTI, "official", max_seq_len=last_answer + 5)
    assert cut.input_ids == history.input_ids[-(last_answer + 5) :] and not cut.answer_truncated


def test_dataset_counts(tiny_tokenizer, write_jsonl):
    path = write_jsonl(
        "sft.jsonl",
        [
            {"instruction": "q " * 100, "output": "a"},
            {"instruction": "q", "output": ""},
            {"instruction": "q", "output": "b"},
            {"instruction": "q"},
        ],
    )
    other = write_jsonl(
        "chat.jsonl",
        [{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]}],
    )
    examples, counts = build_sft_dataset(
        [path, other], tiny_tokenizer, "official", max_seq_len=32, on_error="skip"
    )
    assert counts["rows_read"] == 5 and counts["examples"] == len(examples) == 3
    assert counts["by_format"] == {"alpaca": 2, "messages": 1}
    assert counts["skipped"] == {"empty_response": 1, "missing_field": 1}
    assert counts["truncated"] == 1 and counts["answer_truncated"] == 0
    assert counts["tokens"] == sum(len(e) for e in examples)
    assert counts["supervised_tokens"] == sum(e.supervised_tokens for e in examples)
    assert all(len(e) <= 32 for e in examples)


def test_config_section_builds_the_batch_source(tiny_tokenizer, write_jsonl):
    path = write_jsonl(
        "c.jsonl", [{"instruction": f"question {i}", "output": f"answer {i}"} for i in range(10)]
    )
    config = from_dict(SFTDataConfig, {"files": [str(path)], "max_seq_len": 64, "seq_len": 64}, "test.yaml")
    batches, counts = load_sft_batches(config, tiny_tokenizer, micro_batch_size=2, seed=0)
    assert counts["examples"] == 10 and counts["packing"]["rows"] < 10
    batch = batches.next_batch()
    assert batch["input_ids"].shape == (2, 64) and batch["attention_mask"].shape == (2, 1, 64, 64)
    with pytest.raises(InputError, match="unknown"):
        from_dict(SFTDataConfig, {"files": [], "pack": True}, "test.yaml")
    with pytest.raises(InputError, match="shorter than max_seq_len"):
        load_sft_batches(SFTDataConfig(files=[str(path)], seq_len=32, max_seq_len=64), tiny_tokenizer, 2)


def test_official_turns_checks_itself_against_encode_chat(tiny_tokenizer, monkeypatch):
    import skywork.finetune.templates as templates

    monkeypatch.setattr(templates, "encode_chat", lambda tok, messages: [7] * (len(messages) + 1))
    with pytest.raises(RuntimeError, match="concatenation"):
        official_turns(tiny_tokenizer, MULTI)
