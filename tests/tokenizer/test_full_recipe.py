"""The full Skywork recipe on the real text of ../shared/data: 32,000 + 8,000 + 25,519 + 17 = 65,536."""

from __future__ import annotations

from pathlib import Path

import pytest
import sentencepiece as spm
import yaml

from skywork.tokenizer import load
from skywork.tokenizer.corpus import iter_documents
from skywork.tokenizer.report import tokenizer_report
from skywork.tokenizer.train import TokenizerTrainConfig, is_punctuation_join, join_kind, train_tokenizer
from skywork.utils.config import from_dict
from skywork.utils.text import is_cjk_ideograph

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.shared
def test_full_recipe_gives_65536_with_the_four_parts(shared_data, tmp_path):
    recipe = yaml.safe_load((REPO / "recipes" / "tokenizer" / "full.yaml").read_text(encoding="utf-8"))
    recipe["inputs"] = [
        p.replace("../shared/data", str(shared_data)) if p.startswith("../shared/data") else p
        for p in recipe["inputs"]
    ]
    recipe["word_input_weights"] = {
        p.replace("../shared/data", str(shared_data)): w
        for p, w in recipe.get("word_input_weights", {}).items()
    }
    recipe["max_chinese_chars"] = (
        2_000_000  # jieba is the slow part; words beyond the corpus come from its dictionary
    )
    config = from_dict(TokenizerTrainConfig, recipe)
    report = train_tokenizer(config, tmp_path / "tok", progress=lambda m: None)

    assert report["vocab_size"] == 65536
    assert report["composition"] == {
        "latin": 32000,
        "chinese_chars": 8000,
        "chinese_words": 25519,
        "reserved": 17,
    }
    for part in ("chinese_chars", "chinese_words"):
        info = report[part]
        assert info["from_corpus"] + info["from_dictionary"] == report["composition"][part]
        assert info["from_corpus"] > 0
    assert report["chinese_words"]["not_produced_alone"] == 0
    assert report["fast_tokenizer"]["identical"], report["fast_tokenizer"]["examples"]
    # the classical poems count for the characters only (word_input_weights), every other input in full
    by_input = report["corpus"]["chinese_by_input"]
    poems = next(entry for entry in by_input if entry.endswith("chinese-poetry+chinese-poetry"))
    assert by_input[poems]["chars"] > 1_000_000 and by_input[poems]["kept_chars"] == 0
    assert all(v["kept_chars"] == v["chars"] for entry, v in by_input.items() if entry != poems)

    sp = spm.SentencePieceProcessor(model_file=str(tmp_path / "tok" / "tokenizer.model"))
    pieces = [sp.id_to_piece(i) for i in range(65536)]
    assert pieces[:7] == ["<unk>", "<s>", "</s>", "[USER]", "[BOT]", "[SEP]", "<pad>"]
    assert sum(sp.is_byte(i) for i in range(65536)) == 256
    chars, words = pieces[32017:40017], pieces[40017:]
    assert all(len(c) == 1 for c in chars) and sum(is_cjk_ideograph(c) for c in chars) > 7500
    # words and phrases are all-ideograph; the rest are joins of Chinese punctuation (。” ”， %。), of Latin
    # letters inside Chinese text (SZ) and of a space with what follows it (▁据); none mixes scripts
    joins = [w for w in words if not all(is_cjk_ideograph(ch) for ch in w)]
    assert all(len(w) >= 2 for w in words)
    punctuation = [w for w in joins if is_punctuation_join(w)]
    latin = [w for w in joins if w.isascii() and w.isalpha()]
    space = [w for w in joins if w[0] == "▁" and join_kind("▁", w[1:]) == "space"]
    assert len(punctuation) + len(latin) + len(space) == len(joins)
    kinds = report["chinese_words"]["joins"]
    assert (
        20 < len(punctuation) == kinds["punctuation"] == report["chinese_words"]["punctuation_joins"] < 1000
    )
    assert (len(latin), len(space)) == (kinds.get("latin", 0), kinds.get("space", 0))

    held_out = [
        f"chinese={shared_data}/SkyworkAI+Skywork/data/eval_loss/zh_general.jsonl",
        f"english={shared_data}/GITenberg+The-Adventures-of-Sherlock-Holmes_1661/1661.txt",
    ]
    # The fast tokenizer against SentencePiece on whole held-out documents (never seen at training time).
    tok = load(tmp_path / "tok")
    assert type(tok).__name__ == "SkyworkTokenizerFast"
    docs = [d for spec in held_out for d in iter_documents(Path(spec.split("=", 1)[1]))]
    assert tok(docs, add_special_tokens=False)["input_ids"] == sp.encode(docs)
    result = tokenizer_report(tmp_path / "tok", held_out, baselines=False)
    ours = result["results"]["ours"]["by_label"]
    assert ours["chinese"]["chars_per_token"] > 1.2 and ours["english"]["chars_per_token"] > 3.0


def test_recipe_configs_are_valid_and_sized():
    from skywork.tokenizer.train import load_train_config

    full = load_train_config(REPO / "recipes" / "tokenizer" / "full.yaml")
    demo = load_train_config(REPO / "recipes" / "tokenizer" / "demo.yaml")
    assert full.vocab_size == 65536 and (full.latin_size, full.chinese_chars, full.chinese_words) == (
        32000,
        8000,
        25519,
    )
    assert demo.vocab_size == 4096 and demo.reserved == full.reserved == 17
