"""Parquet, raw HTML (GBK / Big5 / UTF-8 with BOM) and WARC inputs through the whole pipeline; extraction F1."""

from __future__ import annotations

import io

import pytest

from skywork.data.io import read_documents
from skywork.data.pipeline import PipelineConfig, run_pipeline

ARTICLE_ZH = "".join(
    f"<p>第{i}段：这是一篇关于城市公共交通发展的新闻报道，记者走访了多个公交站点并采访了市民的出行体验。</p>"
    for i in range(8)
)
NAV = "<div class='nav'>首页 | 新闻 | 联系我们</div><p>电话：010-12345678</p>"


def _page(body: str, charset: str) -> str:
    return (
        f"<html><head><meta charset='{charset}'><title>新闻</title></head><body>{NAV}"
        f"<article><h1>城市公交新闻</h1>{body}</article><footer>版权所有 2024</footer></body></html>"
    )


def _warc(path, pages: list[tuple[str, bytes, str]]) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as handle:
        writer = WARCWriter(handle, gzip=True)
        for url, payload, content_type in pages:
            headers = StatusAndHeaders("200 OK", [("Content-Type", content_type)], protocol="HTTP/1.0")
            writer.write_record(
                writer.create_warc_record(url, "response", payload=io.BytesIO(payload), http_headers=headers)
            )


def test_html_warc_parquet_inputs(tmp_path, mixed_corpus):
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path / "web"
    root.mkdir()
    (root / "gbk.html").write_bytes(_page(ARTICLE_ZH, "gb2312").encode("gbk"))
    (root / "bom.html").write_bytes(
        b"\xef\xbb\xbf"
        + _page(ARTICLE_ZH.replace("城市", "乡村"), "utf-8").replace("\n", "\r\n").encode("utf-8")
    )
    (root / "big5.html").write_bytes(
        _page(ARTICLE_ZH.replace("城市", "港口"), "big5").encode("big5", "replace")
    )
    (root / "empty.html").write_bytes(b"<html><body><div>   </div></body></html>")
    _warc(
        root / "crawl.warc.gz",
        [
            (
                "http://a.example/1",
                _page(ARTICLE_ZH.replace("城市", "山区"), "gbk").encode("gbk"),
                "text/html; charset=gbk",
            ),
            ("http://a.example/img.png", b"\x89PNG\r\n\x1a\n" + bytes(100), "image/png"),
        ],
    )
    texts = [d.replace("\n", " ") for d in ["Parquet row " + "with enough English words to pass. " * 20]]
    pq.write_table(
        pa.table({"id": ["pq-1", "pq-2"], "text": texts + [""], "source": ["pq", "pq"]}),
        root / "rows.parquet",
    )

    out = tmp_path / "run"
    config = PipelineConfig(inputs=[str(root)], output_dir=str(out))
    config.quality.enabled = False
    config.dedup.minhash = False  # the four test pages are near-duplicates of each other by design
    config.language.to_simplified = True
    summary = run_pipeline(config)
    assert summary["balanced"]
    assert summary["input"] == 4 + 1 + 2  # 4 pages, 1 html response in the WARC (the PNG is not text), 2 rows
    kept = {d["id"]: d for d in read_documents(out)}
    gbk = kept["gbk.html"]["text"]
    assert "公共交通" in gbk and "首页" not in gbk and "010-12345678" not in gbk and "版权所有" not in gbk
    assert "乡村" in kept["bom.html"]["text"] and "\r" not in kept["bom.html"]["text"]
    assert "港口" in kept["big5.html"]["text"] and "這" not in kept["big5.html"]["text"]  # t2s applied
    warc_doc = next(d for d in kept.values() if d["metadata"].get("url") == "http://a.example/1")
    assert "山区" in warc_doc["text"]
    assert kept["pq-1"]["metadata"]["source"] == "pq"
    assert summary["excluded"]["no_main_text"] == 1 and summary["excluded"]["empty"] == 1


@pytest.mark.shared
def test_extraction_f1_beats_trafilatura_alone_on_chinese_pages(shared_data):
    from skywork.data.extract_eval import evaluate

    scores = evaluate(shared_data, "chinese_extraction", max_pages=12)
    assert scores["pages"] == 12
    assert scores["ours"] >= scores["trafilatura"] - 0.01 and scores["ours"] > 0.6, scores
