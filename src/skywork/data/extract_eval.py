"""Character-level F1 of main-text extraction on the gold sets in ``../shared/data``.

F1 is computed on the multiset of non-whitespace characters (so it is script-neutral: a Chinese page is scored
the same way as an English one): precision = shared characters / extracted characters, recall = shared / gold.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from skywork.data.io import decode_bytes, sniff_charset

BENCHMARKS = ("scrapinghub", "magic_html", "chinese_extraction")


def char_f1(predicted: str, gold: str) -> float:
    pred = Counter("".join(predicted.split()))
    ref = Counter("".join(gold.split()))
    if not pred or not ref:
        return float(not pred and not ref)
    common = sum((pred & ref).values())
    if common == 0:
        return 0.0
    precision, recall = common / sum(pred.values()), common / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def _decode(data: bytes) -> str:
    return decode_bytes(data, sniff_charset(data))[0] or ""


def load_pages(shared: Path, benchmark: str, max_pages: int | None = None) -> Iterator[dict]:
    """Pages as ``{"id", "html", "gold", "baselines": {name: text}}`` in a stable order."""
    pages: list[dict] = []
    if benchmark == "scrapinghub":
        root = shared / "scrapinghub+article-extraction-benchmark"
        gold = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
        baselines = {
            path.stem: json.loads(path.read_text(encoding="utf-8"))["output"]
            for path in sorted((root / "output").glob("*.json"))
        }
        for page_id in sorted(gold):
            html_path = root / "html" / f"{page_id}.html.gz"
            if not html_path.exists():
                continue
            pages.append(
                {
                    "id": page_id,
                    "html_path": html_path,
                    "gold": gold[page_id]["articleBody"],
                    "baselines": {
                        n: (b.get(page_id) or {}).get("articleBody") or "" for n, b in baselines.items()
                    },
                }
            )
    elif benchmark == "magic_html":
        root = shared / "opendatalab+magic-html/benchmark/data"
        for kind in ("article", "forum"):
            gold = json.loads((root / kind / "base.subset.json").read_text(encoding="utf-8"))
            for page_id in sorted(gold):
                html_path = root / kind / "htmls" / f"{page_id}.html"
                if html_path.exists():
                    pages.append(
                        {
                            "id": f"{kind}/{page_id}",
                            "html_path": html_path,
                            "gold": gold[page_id]["content"],
                            "baselines": {},
                        }
                    )
    elif benchmark == "chinese_extraction":
        root = shared / "immortal-autumn+Chinese-Web-Content-Extraction-Dataset"
        for html_path in sorted((root / "original").glob("*.html")):
            gold_path = root / "cleaned" / f"{html_path.stem}.txt"
            if gold_path.exists():
                pages.append(
                    {
                        "id": html_path.stem,
                        "html_path": html_path,
                        "gold": _decode(gold_path.read_bytes()),
                        "baselines": {},
                    }
                )
    else:
        raise ValueError(f"unknown benchmark {benchmark!r} (expected one of {BENCHMARKS})")
    for page in pages[:max_pages]:
        path = page.pop("html_path")
        raw = path.read_bytes()
        page["html"] = _decode(gzip.decompress(raw) if path.name.endswith(".gz") else raw)
        yield page


def extractors() -> dict[str, Callable[[str], str]]:
    import trafilatura

    from skywork.data.extract import extract_main_text

    return {
        "ours": lambda html: extract_main_text(html, chinese_cleanup=True),
        "trafilatura": lambda html: trafilatura.extract(html) or "",
    }


def evaluate(shared: Path, benchmark: str, max_pages: int | None = None) -> dict[str, float]:
    """Mean character F1 per extractor (ours, trafilatura alone, and the benchmark's shipped baselines)."""
    scores: dict[str, list[float]] = {}
    for page in load_pages(shared, benchmark, max_pages):
        for name, extract in extractors().items():
            scores.setdefault(name, []).append(char_f1(extract(page["html"]), page["gold"]))
        for name, text in page["baselines"].items():
            scores.setdefault(f"shipped_{name}", []).append(char_f1(text, page["gold"]))
    return {name: sum(v) / len(v) for name, v in scores.items()} | {"pages": len(next(iter(scores.values())))}


def extraction_results(shared: Path, max_pages: int | None = None) -> list[dict]:
    """RESULT rows for bench/data_pipeline.py: ours vs trafilatura alone and vs each shipped baseline."""
    results = []
    for benchmark in BENCHMARKS:
        scores = evaluate(shared, benchmark, max_pages)
        print(
            f"extraction {benchmark} ({scores['pages']} pages): "
            + ", ".join(f"{k}={v:.3f}" for k, v in scores.items() if k != "pages")
        )
        for peer in [k for k in scores if k not in ("ours", "pages")]:
            results.append(
                {
                    "name": f"extraction_f1_{benchmark}_vs_{peer}",
                    "ours": scores["ours"],
                    "peer": scores[peer],
                    "goal": ">=1.0",
                    "pages": scores["pages"],
                }
            )
    return results
