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
