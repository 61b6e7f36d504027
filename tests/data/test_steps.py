"""Individual steps: language ID accuracy, quality rules, sensitive words, PII scrubbing, decoding."""

from __future__ import annotations

import json

import pytest
from datatrove.data import Document

from skywork.data.io import decode_bytes, iter_jsonl_records
from skywork.data.quality import QualityConfig, QualityRules
from skywork.data.steps import SensitiveWordFilter, load_word_lists, scrub_pii


@pytest.mark.shared
def test_language_id_accuracy_on_lingua_sentences(shared_data):
    """fastText lid.176 (bundled, offline) on lingua's test sentences: per-language accuracy."""
    from skywork.data.langid import detect_languages

    folder = shared_data / "pemistahl+lingua-py/language-testdata/sentences"
    accuracy = {}
    for path in sorted(folder.glob("*.txt")):
        sentences = [s for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]
        predicted = [lang for lang, _ in detect_languages(sentences)]
        accuracy[path.stem] = sum(p == path.stem for p in predicted) / len(sentences)
    assert accuracy["en"] >= 0.97 and accuracy["zh"] >= 0.97, accuracy
    assert sum(accuracy.values()) / len(accuracy) >= 0.93, accuracy


@pytest.mark.shared
def test_quality_rules_keep_clean_text_and_drop_junk(shared_data):
    from tests.data.conftest import chinese_docs, english_docs

    rules = QualityRules(QualityConfig())
    zh = chinese_docs(shared_data, 300)
    kept_zh = sum(rules.check(t, "zh")[0] is None for t in zh) / len(zh)
    c4 = english_docs(shared_data, 300)  # already C4-filtered web text: most of it should pass again
    kept_c4 = sum(rules.check(t, "en")[0] is None for t in c4) / len(c4)
    assert kept_zh >= 0.9 and kept_c4 >= 0.75, (kept_zh, kept_c4)
    assert kept_zh < 1.0  # the web sample has some repetitive pages the rules are meant to catch
    assert rules.check("点击这里购买便宜商品\n" * 30, "zh")[0] is not None
    assert rules.check("buy cheap pills now\n" * 60, "en")[0].startswith("gopher_")
    assert rules.check("短。", "zh")[0] == "zh_min_chars"
    assert (
        rules.check("x" * 2000 + "\nint main() { return 0; }", "en", is_code=True)[0]
        == "code_max_line_length"
    )


def test_rules_are_named_and_can_be_disabled():
    text = "The cat sat on the mat. A dog ran to the park and that was fine. We have seen it with joy."
    assert QualityRules(QualityConfig()).check(text, "en")[0] == "gopher_min_words"
    config = QualityConfig(disabled_rules=["gopher_min_words"])
    assert QualityRules(config).check(text, "en")[0] == "c4_min_sentences"
    config = QualityConfig(gopher_min_words=5, c4_min_sentences=1)
    assert QualityRules(config).check(text, "en")[0] is None


@pytest.mark.shared
def test_sensitive_word_list_from_shared_data(shared_data):
    lists = [str(shared_data / "CASIA-LM+ChineseWebText/dict.txt")]
    words = sorted(load_word_lists(lists))
    assert len(words) > 1000 and all("\t" not in w for w in words)
    step = SensitiveWordFilter(None, lists, max_hits=3)
    clean = "今天天气很好，我们去公园散步，看到了很多花。" * 5
    assert step.filter(Document(text=clean, id="a")) is True
    dirty = clean + "，".join(words[100:110])
    assert step.filter(Document(text=dirty, id="b")) == (False, "sensitive_words")


def test_pii_scrubbing():
    text = (
        "联系人张三，电话 138-1234-5678，身份证 11010519491231002X，邮箱 zhang.san@example.com。"
        "Call (555) 123-4567 or write to bob@mail.co.uk from 192.168.1.20; version 1.2.3 stays."
    )
    scrubbed, counts = scrub_pii(text)
    assert "138-1234-5678" not in scrubbed and "11010519491231002X" not in scrubbed
    assert "zhang.san@example.com" not in scrubbed and "192.168.1.20" not in scrubbed
    assert "(555) 123-4567" not in scrubbed and "version 1.2.3 stays" in scrubbed
    assert counts == {"email": 2, "cn_id": 1, "cn_phone": 1, "phone": 1, "ip": 1}


def test_decoding_gbk_big5_bom_crlf():
    text = "中文网页内容，包括标点。\r\n第二行"
    assert decode_bytes(text.encode("gbk"), "gb2312")[0] == "中文网页内容，包括标点。\n第二行"
    assert decode_bytes(text.encode("gbk"))[0] == "中文网页内容，包括标点。\n第二行"
    assert decode_bytes("繁體中文的網頁內容。".encode("big5"), "big5")[0] == "繁體中文的網頁內容。"
    assert decode_bytes(b"\xef\xbb\xbfhello\r\nworld")[0] == "hello\nworld"


def test_jsonl_reader_reports_reasons(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_bytes(
        b'{"id": 1, "text": "ok", "source": "web"}\n\n{bad json\n\xff\xfe\n{"text": 3}\n["x"]\n'
        + json.dumps({"text": "bin\x00ary"}).encode()
        + b"\n"
    )
    records = list(iter_jsonl_records(str(path)))
    assert [r["invalid"] for r in records] == [
        None,
        "malformed_json",
        "invalid_utf8",
        "text_not_a_string",
        "not_an_object",
        "binary",
    ]
    assert records[0]["id"] == "1" and records[0]["metadata"]["source"] == "web"
    assert records[2]["id"] == "in.jsonl:4"
