"""Needle-style training samples: exact lengths, the evaluation's format, values the evaluation never asks."""

from __future__ import annotations

from skywork.data.synth.needle_docs import needle_sft_rows, needle_token_documents
from skywork.eval.needle import NeedleBuilder
from skywork.finetune.formats import Conversation, Turn
from skywork.finetune.templates import encode_example
from skywork.longctx.cip import write_token_documents
from skywork.train.shards import TokenShards

HAYSTACK = " ".join(f"Sentence number {i} talks about rivers and stones." for i in range(300))


def test_documents_have_the_exact_length_and_the_needle_answered(tiny_tokenizer):
    docs = needle_token_documents(tiny_tokenizer, HAYSTACK, 12, 400, seed=3, needles=(1, 3))
    assert len(docs) == 12 and all(len(d) == 400 for d in docs)
    encode = NeedleBuilder(tiny_tokenizer, "x").encode
    answered = 0
    for doc in docs:
        tokens = doc.tolist()
        assert tokens[0] == tiny_tokenizer.bos_token_id and tokens[-1] == tiny_tokenizer.eos_token_id
        text = tiny_tokenizer.decode(tokens)
        question = text.index("Question: What is the special magic number for ")
        key = text[question:].split("for ", 1)[1].split("?", 1)[0]
        answer = text[question:].split(f"Answer: The special magic number for {key} is ", 1)[1].split(".")[0]
        # the needle of the asked key sits before the question, with the value the answer gives
        assert f"The special magic number for {key} is {answer}." in text[:question]
        # the answer's tokens are the needle's own value tokens (what a copying model emits)
        value_ids = encode(f"is {answer}.")[len(encode("is")) :]
        assert any(tokens[i : i + len(value_ids)] == value_ids for i in range(len(tokens)))
        answered += 1
    assert answered == 12
    again = needle_token_documents(tiny_tokenizer, HAYSTACK, 12, 400, seed=3, needles=(1, 3))
    assert all((a == b).all() for a, b in zip(docs, again, strict=True))


def test_training_values_are_not_the_evaluation_values(tiny_tokenizer):
    rows = needle_sft_rows(tiny_tokenizer, HAYSTACK, 40, [200, 300], seed=1000)
    builder = NeedleBuilder(tiny_tokenizer, HAYSTACK, seed=0)
    test_values = {
        v for n in (200, 300) for d in range(5) for s in range(4) for v in
        NeedleBuilder(tiny_tokenizer, HAYSTACK, seed=s).cell(n, 50.0, 1, d).values
    }  # fmt: skip
    assert builder.cell(200, 50.0, 1, 0).values[0] in test_values
    assert not {r["output"].rstrip(".") for r in rows} & test_values


def test_sft_rows_encode_to_the_evaluation_prompt_then_the_value(tiny_tokenizer):
    rows = needle_sft_rows(tiny_tokenizer, HAYSTACK, 4, [160, 320], seed=5)
    for row in rows:
        example = encode_example(
            tiny_tokenizer, Conversation((Turn(row["instruction"], row["output"]),)), "raw"
        )
        assert abs(len(example) - row["target_tokens"]) <= 16
        trained = [t for t, label in zip(example.input_ids, example.labels, strict=True) if label != -100]
        assert tiny_tokenizer.decode(trained).strip() == row["output"] + tiny_tokenizer.eos_token
        prompt = tiny_tokenizer.decode(example.input_ids[: len(example) - len(trained)])
        assert prompt.endswith(f"Answer: The special magic number for {row['key']} is")
        assert f"The special magic number for {row['key']} is {row['output']}" in prompt


def test_documents_written_as_a_stream_read_back(tmp_path, tiny_tokenizer, tiny_tokenizer_dir):
    docs = needle_token_documents(tiny_tokenizer, HAYSTACK, 5, 128, seed=0)
    meta = write_token_documents(
        tmp_path, docs, tokenizer=tiny_tokenizer, tokenizer_dir=tiny_tokenizer_dir, source="needle"
    )
    assert meta["docs"] == 5 and meta["tokens"] == 5 * 128
    shards = TokenShards(tmp_path / "needle")
    assert [shards.doc(i).tolist() for i in range(5)] == [d.tolist() for d in docs]
