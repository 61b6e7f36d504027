"""How Chinese words are chosen: phrases of adjacent jieba words, BPE reachability, worth of intermediate pieces."""

from __future__ import annotations

import jieba
import sentencepiece as spm

from skywork.testing import _ZH
from skywork.tokenizer.train import (
    _last_merge,
    _normal_piece_scores,
    _take_reachable,
    _worth,
    count_corpus_words,
)
from skywork.utils.text import is_cjk_ideograph


def test_phrases_join_adjacent_jieba_words_and_stop_at_punctuation():
    line = "今天天气很好，我们一起去公园散步。"
    words, phrases = count_corpus_words([line], max_len=6, hmm=False, max_phrase_words=3)
    cut = list(jieba.cut(line, HMM=False))
    ideograph_words = [w for w in cut if all(is_cjk_ideograph(ch) for ch in w)]
    assert set(words) == {w for w in ideograph_words if len(w) >= 2}
    adjacent = {a + b for a, b in zip(cut, cut[1:], strict=False) if (a + b).isalpha() and len(a + b) <= 6}
    assert adjacent and adjacent <= set(phrases)
    assert all(all(is_cjk_ideograph(ch) for ch in p) and len(p) <= 6 for p in phrases)
    only_words, no_phrases = count_corpus_words([line], max_len=6, hmm=False, max_phrase_words=1)
    assert only_words == words and not no_phrases


def test_unreachable_words_wait_or_bring_a_helper_half():
    chars = set("净利润人工智能")
    # 人工智能 has no split into pieces and no reachable half: it waits for 人工 and 智能, keeping its rank.
    chosen, helpers = _take_reachable(["人工智能", "人工", "智能"], 3, chars)
    assert chosen == ["人工智能", "人工", "智能"] and not helpers
    # 净利润 ranked above 利润: the reachable half 利润 comes along as a helper instead of 净利润 being skipped.
    chosen, helpers = _take_reachable(["净利润", "人工"], 3, chars)
    assert chosen == ["利润", "净利润", "人工"] and helpers == {"利润": "净利润"}
    # The exact count is kept: a helper that does not fit leaves its word waiting.
    chosen, _ = _take_reachable(["净利润", "人工"], 1, chars)
    assert chosen == ["人工"]


def test_intermediate_pieces_inherit_the_worth_of_words_built_from_them(small_tokenizer):
    out, _ = small_tokenizer
    sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    words = [sp.id_to_piece(i) for i in range(1017, 1217)]
    worth, _ = _worth(sp, words, list(_ZH) * 3, set(words))
    scores = _normal_piece_scores(sp)
    merged = [(w, _last_merge(w, scores)) for w in words if len(w) >= 3]
    inherited = [(w, halves) for w, halves in merged if halves and any(h in worth for h in halves)]
    assert inherited, "the small tokenizer has words built from other words"
    for word, halves in inherited:
        assert "".join(halves) == word
        assert all(worth[h] >= worth[word] for h in halves if h in worth)
    assert any(worth[w] > 0 for w in words)


def test_punctuation_joins_are_recognised():
    from skywork.tokenizer.train import is_punctuation_join

    for text in ("。”", "”，", "%。", "》《", "——", "）、"):
        assert is_punctuation_join(text), text
    for text in ("。", "的。", "a。", "%%", ")(", "。 ”", "▁。", "3%。"):
        assert not is_punctuation_join(text), text


def test_punctuation_joins_compete_with_the_words(tmp_path):
    """Quoted speech ends in 。” and goes on with ”，: pair counts make those joins pieces (as a plain BPE
    learns them); with punctuation_pairs off every Chinese word stays all-ideograph."""
    from skywork.testing import stdlib_text
    from skywork.tokenizer.train import TokenizerTrainConfig, is_punctuation_join, train_tokenizer

    latin = stdlib_text(max_files=6, max_chars=60_000) + "\nprices rose 5% and 7%\n" * 50  # "%" is a piece
    (tmp_path / "code.txt").write_text(latin, encoding="utf-8")
    quoted = [f"他说：“{s}”，然后走了。她问：“{s[:-1]}？”价格上涨{i}%。" for i, s in enumerate(_ZH)]
    (tmp_path / "zh.txt").write_text("\n".join((_ZH + quoted) * 20), encoding="utf-8")
    small = dict(latin_size=500, chinese_chars=120, chinese_words=80, reserved=17, selection_rounds=3)
    reports = {}
    for joins in (True, False):
        out = tmp_path / f"tok-{joins}"
        config = TokenizerTrainConfig(inputs=[str(tmp_path)], punctuation_pairs=joins, **small)
        reports[joins] = train_tokenizer(config, out, progress=lambda msg: None)
        sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
        pieces = {sp.id_to_piece(i) for i in range(sp.get_piece_size())}
        found = {p for p in pieces if is_punctuation_join(p)}
        if joins:
            assert {"。”", "”，"} & found, found
            assert "%。" in found  # checked after a character: alone, the Latin piece "▁%" would win
            assert reports[joins]["chinese_words"]["punctuation_joins"] == len(found)
            assert set(sp.encode("他说：“好。”，然后", out_type=str)) & found  # encoding uses them
        else:
            assert not found and reports[joins]["chinese_words"]["punctuation_joins"] == 0
        assert reports[joins]["vocab_size"] == 500 + 120 + 80 + 17


def test_join_kinds_stay_within_one_script_and_keep_digits_single():
    from skywork.tokenizer.train import join_kind

    assert join_kind("。", "”") == "punctuation"
    assert join_kind("S", "Z") == join_kind("Tik", "Tok") == "latin"
    assert join_kind("▁", "据") == join_kind("▁", "北京时间") == join_kind("▁", "【") == "space"
    assert join_kind("迪士", "尼") == "ideograph"
    # digits stay split; no piece mixes scripts (a plain BPE with the same settings learns none either)
    for left, right in (
        ("1", "年"),
        ("的", "，"),
        ("a", "的"),
        ("▁", "a"),
        ("▁", "%"),
        ("%", "1"),
        ("。", "a"),
    ):
        assert join_kind(left, right) is None, (left, right)


def test_words_are_checked_without_the_dummy_prefix(small_tokenizer):
    """A space join such as ▁据 must not make 据悉 look unproducible (alone, the dummy prefix would give ▁据 + 悉),
    and %。 must not lose to the Latin piece ▁%: inside text neither prefix is there."""
    from sentencepiece import sentencepiece_model_pb2 as sp_pb2

    from skywork.tokenizer.train import _append_pieces, _encodes_as_itself

    out, _ = small_tokenizer
    proto = sp_pb2.ModelProto()
    proto.ParseFromString((out / "tokenizer.model").read_bytes())
    have = {p.piece for p in proto.pieces}
    words = [w for w in ("▁据", "据悉", "%。") if w not in have]
    extra = [ch for ch in "据悉%。" if ch not in have]
    proto = _append_pieces(proto, extra + words, min(p.score for p in proto.pieces) - 1)
    assert words and _encodes_as_itself(proto, words) == [True] * len(words)
    # a word that a higher-ranked merge takes apart is reported: 工智 first leaves 人 + 工智 + 能
    have = {p.piece for p in proto.pieces}
    parts = [ch for ch in "人工智能" if ch not in have] + [
        w for w in ("人工", "智能", "人工智能") if w not in have
    ]
    proto = _append_pieces(proto, parts, min(p.score for p in proto.pieces) - 1)
    assert _encodes_as_itself(proto, ["人工智能"]) == [True]
    assert _encodes_as_itself(_append_pieces(proto, ["工智"], 0.0), ["人工智能"]) == [False]


def test_the_dictionary_prior_is_jieba_scaled_to_the_corpus_and_brings_general_words(small_tokenizer):
    """With ``dictionary_prior`` w (0.15 by default), jieba's dictionary adds w times the corpus's candidate count, spread by its
    frequencies; a general word the training text lacks can then win a slot."""
    from collections import Counter

    from sentencepiece import sentencepiece_model_pb2 as sp_pb2

    from skywork.tokenizer.train import TokenizerTrainConfig, _dictionary_prior, select_chinese_words

    out, _ = small_tokenizer
    proto = sp_pb2.ModelProto()
    proto.ParseFromString((out / "tokenizer.model").read_bytes())
    base = sp_pb2.ModelProto()
    base.CopyFrom(proto)
    del base.pieces[1017:]  # the Latin part, reserved tokens and the 300 characters; no words
    existing = {p.piece for p in base.pieces}
    counts = Counter({w: 3 for w in ("我们", "今天", "天气")})
    off = TokenizerTrainConfig(inputs=["x"], dictionary_prior=0.0, selection_rounds=1)
    assert _dictionary_prior(off, existing, 9) == {}
    config = TokenizerTrainConfig(inputs=["x"], dictionary_prior=0.5, selection_rounds=1)
    prior = _dictionary_prior(config, existing, 9)
    assert prior and abs(sum(prior.values()) - 0.5 * 9) < 1e-6
    assert all(len(w) >= 2 and all(ch in existing for ch in w) for w in prior)
    top = max(prior, key=prior.get)
    words, info = select_chinese_words(base, counts, 4, config, [], Counter())
    assert top in words and info["from_dictionary"] >= 1
    plain, _ = select_chinese_words(base, counts, 3, off, [])
    assert set(plain) == set(counts)


def test_single_jieba_words_may_be_longer_than_phrases():
    line = "中华人民共和国国家金融监督管理总局发布通知"
    words, phrases = count_corpus_words([line], max_len=6, hmm=False, max_phrase_words=3)
    assert "中华人民共和国" not in words and all(len(w) <= 6 for w in words)
    longer, same_phrases = count_corpus_words([line], 6, False, 3, max_word_len=10)
    assert longer["中华人民共和国"] == 1 and same_phrases == phrases
    assert all(len(p) <= 6 for p in same_phrases)


def test_word_input_weights_sample_an_input_evenly_and_report_it():
    from skywork.tokenizer.train import _weighted_sample

    lines = [f"诗{i}" for i in range(10)] + [f"新闻{i}" for i in range(4)]
    kept, report = _weighted_sample(lines, [("poetry", 10), ("news", 4), ("empty", 0)], {"poetry": 0.3})
    poetry = [line for line in kept if line.startswith("诗")]
    assert poetry == ["诗3", "诗6", "诗9"]  # evenly spaced, 3 of 10
    assert kept[3:] == lines[10:]  # not named: weight 1
    assert report == {
        "poetry": {"chars": 20, "weight": 0.3, "kept_chars": 6},
        "news": {"chars": 12, "weight": 1.0, "kept_chars": 12},
    }
    none, _ = _weighted_sample(lines, [("poetry", 10), ("news", 4)], {"poetry": 0})
    assert none == lines[10:]


def test_word_input_weights_name_entries_of_inputs_and_stay_in_range():
    import pytest

    from skywork.tokenizer.train import TokenizerTrainConfig
    from skywork.utils.io import InputError

    TokenizerTrainConfig(inputs=["a", "b"], word_input_weights={"b": 0}).validate()
    with pytest.raises(InputError, match="word_input_weights.*|not an entry of inputs"):
        TokenizerTrainConfig(inputs=["a"], word_input_weights={"c": 0.5}).validate()
    with pytest.raises(InputError, match=r"must be in \[0, 1\]"):
        TokenizerTrainConfig(inputs=["a"], word_input_weights={"a": 2}).validate()


def test_an_input_of_weight_zero_gives_characters_but_no_words(tmp_path, small_corpus):
    """The full recipe keeps classical poetry out of the word selection (docs/tokenizer.md): its characters
    still count, its phrases take no word slot."""
    import json

    from skywork.tokenizer.train import TokenizerTrainConfig, build_model

    poems = tmp_path / "poems.jsonl"
    poems.write_text(
        "\n".join(
            json.dumps({"text": "床前明月光，疑是地上霜。举头望明月，低头思故乡。"}, ensure_ascii=False)
            for _ in range(40)
        ),
        encoding="utf-8",
    )
    inputs = [str(small_corpus), str(poems)]
    sizes = dict(latin_size=700, chinese_chars=300, chinese_words=200, reserved=17, dictionary_prior=0.0)

    def vocabulary(weights):
        config = TokenizerTrainConfig(inputs=inputs, word_input_weights=weights, **sizes)
        proto, report, _ = build_model(config, progress=lambda m: None)
        return {p.piece for p in proto.pieces}, report

    with_poems, _ = vocabulary({})
    without, report = vocabulary({str(poems): 0})
    poem_pieces = {
        w for w in with_poems if len(w) >= 3 and w in "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
    }
    assert len(poem_pieces) >= 3, poem_pieces  # phrases of the poem (疑是地上霜, 低头思故乡) take word slots
    assert not poem_pieces & without and {"床", "霜", "乡"} <= without
    by_input = report["corpus"]["chinese_by_input"]
    assert by_input[str(poems)]["kept_chars"] == 0 and by_input[str(poems)]["chars"] == 40 * 24
    assert by_input[str(small_corpus)]["kept_chars"] == by_input[str(small_corpus)]["chars"] > 0
