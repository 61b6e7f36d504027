"""The bilingual trainer: exact composition, lossless round trip, HF loading with identical ids, chat, bad input."""

from __future__ import annotations

import json

import pytest
import sentencepiece as spm
from hypothesis import given, settings
from hypothesis import strategies as st
from sentencepiece import sentencepiece_model_pb2 as sp_pb2
from transformers import AutoTokenizer

from skywork.tokenizer import encode_chat, encode_turn, load
from skywork.tokenizer.corpus import split_long_line
from skywork.tokenizer.train import TokenizerTrainConfig, load_train_config, train_tokenizer
from skywork.utils.io import InputError
from skywork.utils.text import is_cjk_ideograph

from .conftest import SMALL

TEXTS = [
    "Hello world 12345",
    "  def f(x):\n\treturn x  ",
    "今天天气很好，我们一起去公园散步。",
    "机器学习是人工智能的一个重要分支。",
    "emoji 😀 and 𠀀 (CJK ext B)",
    "mixed 中文 and English 2023年",
    "text with </s>, <s>, [USER] and [SEP] inside",
    "\r\n\r\n  trailing  ",
]


def _sp(out):
    return spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))


def test_composition_is_exact(small_tokenizer, small_config):
    out, report = small_tokenizer
    sp = _sp(out)
    assert sp.get_piece_size() == report["vocab_size"] == sum(SMALL.values())
    assert report["composition"] == {
        "latin": 700,
        "chinese_chars": 300,
        "chinese_words": 200,
        "reserved": 17,
    }
    reserved = small_config.reserved_tokens()
    assert [sp.id_to_piece(i) for i in range(17)] == reserved
    assert reserved[:7] == ["<unk>", "<s>", "</s>", "[USER]", "[BOT]", "[SEP]", "<pad>"]
    assert all(sp.is_control(i) for i in range(1, 17)) and sp.is_unknown(0)
    chars = [sp.id_to_piece(i) for i in range(717, 1017)]
    words = [sp.id_to_piece(i) for i in range(1017, 1217)]
    assert all(len(c) == 1 for c in chars)
    assert all(len(w) >= 2 and all(is_cjk_ideograph(ch) for ch in w) for w in words)
    # The corpus is tiny, so jieba's dictionary fills in; the report says how many came from where.
    for part in ("chinese_chars", "chinese_words"):
        info = report[part]
        assert info["from_corpus"] + info["from_dictionary"] == SMALL[part]
    assert report["chinese_words"]["from_corpus"] > 0 and report["chinese_words"]["from_dictionary"] > 0


def test_every_added_word_is_produced_by_encoding(small_tokenizer):
    out, report = small_tokenizer
    sp = _sp(out)
    words = [sp.id_to_piece(i) for i in range(1017, 1217)]
    # as inside running text: without the dummy prefix an encoding starts with (a space join's ▁ is a space)
    proto = sp_pb2.ModelProto()
    proto.ParseFromString((out / "tokenizer.model").read_bytes())
    proto.normalizer_spec.add_dummy_prefix = False
    inside = spm.SentencePieceProcessor(model_proto=proto.SerializeToString())
    for word in words:
        assert inside.encode(word.replace("▁", " "), out_type=str) == [word]
        if all(is_cjk_ideograph(c) for c in word):
            assert sp.encode("。" + word, out_type=str)[-1] == word
    assert report["chinese_words"]["not_produced_alone"] == 0
    # In running text the trained words are used: "机器学习" style words from the corpus come out whole.
    pieces = sp.encode("机器学习是人工智能的一个重要分支。", out_type=str)
    assert any(len(p) >= 2 and all(is_cjk_ideograph(c) for c in p) for p in pieces)


def test_hf_loading_gives_sentencepiece_ids(small_tokenizer):
    out, report = small_tokenizer
    sp = _sp(out)
    config = json.loads((out / "tokenizer_config.json").read_text())
    assert report["fast_tokenizer"]["identical"] and report["fast_tokenizer"]["mismatches"] == 0
    assert config["tokenizer_class"] == "SkyworkTokenizerFast"
    assert {p.name for p in out.iterdir()} >= {
        "tokenizer.model",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
    }
    ours, auto = load(out), AutoTokenizer.from_pretrained(out)
    assert type(ours).__name__ == "SkyworkTokenizerFast"
    for text in TEXTS:
        expected = [1] + sp.encode(text)
        assert ours.encode(text) == expected, text
        assert auto.encode(text) == expected, text
        assert ours.decode(expected[1:]) == auto.decode(expected[1:]) == text


def test_special_token_text_is_text_unless_asked(small_tokenizer):
    out, _ = small_tokenizer
    sp, tok = _sp(out), load(out)
    text = "a </s> b [USER] c"
    ids = tok.encode(text, add_special_tokens=False)
    assert ids == sp.encode(text) and not set(ids) & set(range(17))
    asked = tok.encode(text, add_special_tokens=False, split_special_tokens=False)
    assert 2 in asked and 3 in asked
    assert tok.decode(asked) == text


@pytest.mark.parametrize("loader", ["load", "auto"])
def test_chat_uses_the_reserved_markers(small_tokenizer, loader):
    out, _ = small_tokenizer
    sp = _sp(out)
    tok = load(out) if loader == "load" else AutoTokenizer.from_pretrained(out)
    assert len(tok) == sum(SMALL.values()), "chat must need no added tokens"
    user, sep, bot = tok.convert_tokens_to_ids(["[USER]", "[SEP]", "[BOT]"])
    assert (user, bot, sep) == (3, 4, 5)
    prompt = "  你好，请介绍一下北京。\r\n"
    assert encode_turn(tok, prompt) == [2, 1, user] + sp.encode("你好，请介绍一下北京。") + [sep, bot]
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello </s> there"},
        {"role": "user", "content": "1+1?"},
    ]
    ids = encode_chat(tok, messages)
    via_template = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
    if not isinstance(via_template, list):
        via_template = via_template["input_ids"]
    assert list(via_template) == ids
    assert tok.decode(ids) == tok.apply_chat_template(messages, tokenize=False)


FRAGMENTS = st.sampled_from(
    [
        "😀",
        "👩‍💻",
        "𠀀",
        "𪚥",
        "\x00",
        "\x07",
        "\x1b[0m",
        "\r\n",
        "\r",
        "\t\t",
        "    ",
        " ",
        "  \n",
        "def f(x):\n    return {'a': [1, 2]}\n",
        "中文",
        "北京大学",
        "，。！",
        "12345",
        "</s>",
        "[USER]",
        "<0x41>",
        "\u200b",
        "ﬁ",
        "é",
        "e\u0301",
    ]
)
# U+2581 "▁" is SentencePiece's own space marker: it decodes as a space in every SentencePiece model (LLaMA's too),
# so it is the one character left out here; test_space_marker_is_the_documented_exception pins that behaviour.
CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\u2581")
UNICODE = st.lists(st.one_of(FRAGMENTS, st.text(alphabet=CHARS, max_size=12)), max_size=12).map("".join)


@settings(max_examples=250, deadline=None)
@given(UNICODE)
def test_round_trip_is_lossless(small_tokenizer, text):
    out, _ = small_tokenizer
    sp, tok = _cached(out)
    ids = sp.encode(text)
    assert sp.decode(ids) == text
    assert tok.encode(text, add_special_tokens=False) == ids
    assert tok.decode(tok.encode(text)[1:]) == text
    assert tok.decode(tok.encode(text), skip_special_tokens=True) == text


def test_space_marker_is_the_documented_exception(small_tokenizer):
    out, _ = small_tokenizer
    sp, tok = _cached(out)
    assert sp.decode(sp.encode("a▁b")) == "a b"
    assert tok.decode(tok.encode("a▁b", add_special_tokens=False)) == "a b"


_CACHE: dict = {}


def _cached(out):
    if out not in _CACHE:
        _CACHE[out] = (_sp(out), load(out))
    return _CACHE[out]


def test_long_lines_are_split_and_counted(tmp_path, small_corpus):
    long_line = " ".join(["word"] * 5000)  # 25 KB in one line
    (tmp_path / "long.txt").write_text(long_line + "\nshort line\n", encoding="utf-8")
    assert all(len(p.encode()) <= 4096 for p in split_long_line(long_line, 4096))
    assert "".join(split_long_line(long_line, 4096)) == long_line
    assert "".join(split_long_line("汉" * 5000, 1000)) == "汉" * 5000
    config = TokenizerTrainConfig(
        inputs=[str(small_corpus), str(tmp_path / "long.txt")], max_sentence_length=4096, **SMALL
    )
    report = train_tokenizer(config, tmp_path / "tok", progress=lambda m: None)
    assert report["corpus"]["long_lines_split"] >= 1


def test_empty_corpus_is_a_clear_error(tmp_path):
    (tmp_path / "empty.txt").write_text("\n  \n", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        train_tokenizer(TokenizerTrainConfig(inputs=[str(tmp_path / "empty.txt")], **SMALL), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_chinese_words_without_chinese_text_is_a_clear_error(tmp_path):
    (tmp_path / "en.txt").write_text("Only English here.\n" * 50, encoding="utf-8")
    with pytest.raises(InputError, match="no Chinese text"):
        train_tokenizer(TokenizerTrainConfig(inputs=[str(tmp_path / "en.txt")], **SMALL), tmp_path / "out")


def test_bad_inputs_name_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"body": "no text"}\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        train_tokenizer(TokenizerTrainConfig(inputs=[str(bad)], **SMALL), tmp_path / "out")
    assert err.value.line == 2 and err.value.field == "text" and "bad.jsonl" in str(err.value)
    with pytest.raises(InputError, match="file not found"):
        train_tokenizer(
            TokenizerTrainConfig(inputs=[str(tmp_path / "missing.txt")], **SMALL), tmp_path / "out"
        )
    with pytest.raises(InputError, match="latin_size"):  # a dict config is checked like the YAML
        train_tokenizer({"inputs": [str(bad)], "latin_sise": 10}, tmp_path / "out")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("inputs: [a.txt]\nlatin_sise: 10\n")
    with pytest.raises(InputError, match="latin_size"):
        load_train_config(cfg)
    with pytest.raises(InputError, match="unknown join kinds"):
        train_tokenizer(
            TokenizerTrainConfig(inputs=[str(bad)], join_kinds=["emoji"], **SMALL), tmp_path / "out"
        )


def test_save_pretrained_round_trip_keeps_class_ids_and_chat(small_tokenizer, tmp_path):
    out, _ = small_tokenizer
    sp, tok = _sp(out), load(out)
    tok.save_pretrained(tmp_path / "copy")
    again = load(tmp_path / "copy")
    assert type(again).__name__ == "SkyworkTokenizerFast"
    assert (tmp_path / "copy" / "tokenizer.model").exists()
    exact = AutoTokenizer.from_pretrained(tmp_path / "copy")  # resolves to the SentencePiece class
    messages = [{"role": "user", "content": "你好 </s>"}]
    for text in TEXTS:
        assert again.encode(text) == exact.encode(text) == [1] + sp.encode(text)
    assert encode_chat(again, messages) == encode_chat(tok, messages) == encode_chat(exact, messages)
    ids = again.apply_chat_template(messages, tokenize=True, add_generation_prompt=True)
    assert list(ids if isinstance(ids, list) else ids["input_ids"]) == encode_chat(tok, messages)


def test_auto_tokenizer_without_importing_skywork(small_tokenizer):
    """No remote code and no registration: transformers alone reads tokenizer.json and gets the same ids."""
    import subprocess
    import sys

    out, _ = small_tokenizer
    code = (
        "import json, sys; from transformers import AutoTokenizer;"
        f"t = AutoTokenizer.from_pretrained({str(out)!r});"
        "print(json.dumps([type(t).__name__, t.encode(sys.argv[1]), 'skywork' in sys.modules]))"
    )
    text = "Hello 世界 </s> 12345\n\tdef f(): pass"
    result = subprocess.run([sys.executable, "-c", code, text], capture_output=True, text=True, check=True)
    name, ids, imported_skywork = json.loads(result.stdout.strip().splitlines()[-1])
    assert not imported_skywork and name == "TokenizersBackend"
    assert ids == [1] + _sp(out).encode(text)


def test_summary_holds_the_report_and_the_measured_compression(small_tokenizer, small_corpus):
    from skywork import tokenizer as tok
    from skywork.utils.io import read_jsonl
    from skywork.utils.summary import read_summary

    out, report = small_tokenizer
    summary = read_summary(out, "tokenizer", max_version=1)
    assert summary["training"] == json.loads((out / "train_report.json").read_text()) == report
    assert summary["vocab_size"] == report["vocab_size"] and summary["composition"] == report["composition"]
    zh = summary["compression"]["domains"]["zh"]
    texts = [row["text"] for row in read_jsonl(small_corpus / "zh.jsonl")][:200]
    tokenizer = tok.load(out)
    tokens = sum(len(tokenizer.encode(t, add_special_tokens=False)) for t in texts)
    assert zh["documents"] == len(texts) and zh["tokens"] == tokens
    assert zh["chars_per_token"] == sum(map(len, texts)) / tokens
    assert summary["compression"]["tokenizer_size"] == len(tokenizer)
