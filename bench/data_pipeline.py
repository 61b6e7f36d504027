"""Data pipeline benchmarks, one run, same documents for ours and the peer:

1. filter chain docs/s on English web documents: our full zh+en chain (validity, language ID, length, quality
   rules, PII) vs datatrove's FineWeb-style chain (GopherRepetition + GopherQuality + C4Quality + FineWebQuality);
2. MinHash docs/s and clusters vs datasketch (MinHash + MinHashLSH) at the same num_perm / threshold / shingles;
3. extraction character F1 per benchmark vs trafilatura alone and the baselines shipped with the benchmark.

Run: ``.venv/bin/python bench/data_pipeline.py [--repeat N] [--skip-extraction]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import report  # noqa: E402

from skywork.testing import shared_data_dir  # noqa: E402


def english_docs(shared: Path) -> list[str]:
    lines = (shared / "hiyouga+LLaMA-Factory/data/c4_demo.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines]


def chinese_docs(shared: Path) -> list[str]:
    lines = (
        (shared / "dbiir+UER-py/corpora/CLUECorpusSmall_sampled.txt").read_text(encoding="utf-8").splitlines()
    )
    return [line for line in lines if line.strip()]


def _run_chain(steps, texts: list[str]) -> tuple[float, int]:
    from datatrove.data import Document

    docs = [Document(text=t, id=str(i), metadata={}) for i, t in enumerate(texts)]
    start = time.perf_counter()
    data = iter(docs)
    for step in steps:
        data = step.run(data, rank=0, world_size=1)
    kept = sum(1 for _ in data)
    return time.perf_counter() - start, kept


def our_chain():
    from skywork.data import steps as st
    from skywork.data.quality import QualityConfig

    return [
        st.InputValidity(None),
        st.LanguageFilter(None, ["zh", "en"]),
        st.LengthFilter(None, 30, 1_000_000),
        st.QualityFilter(None, QualityConfig()),
        st.PIIScrubber(["email", "cn_id", "cn_phone", "phone", "ip"]),
    ]


def datatrove_chain():
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    return [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter()]


def bench_filters(shared: Path, repeat: int) -> list[dict]:
    en = english_docs(shared) * repeat
    zh = chinese_docs(shared)[: len(en)]
    _run_chain(our_chain(), en[:20])  # warm-up: fastText model load, spacy tokenizer
    _run_chain(datatrove_chain(), en[:20])
    ours_s, ours_kept = _run_chain(our_chain(), en)
    peer_s, peer_kept = _run_chain(datatrove_chain(), en)
    zh_s, zh_kept = _run_chain(our_chain(), zh)
    print(
        f"filters: ours {len(en) / ours_s:.0f} docs/s (kept {ours_kept}/{len(en)}), datatrove "
        f"{len(en) / peer_s:.0f} docs/s (kept {peer_kept}/{len(en)}); ours on Chinese {len(zh) / zh_s:.0f} "
        f"docs/s (kept {zh_kept}/{len(zh)})"
    )
    return [
        {
            "name": "filter_chain_en_docs_per_s",
            "ours": len(en) / ours_s,
            "peer": len(en) / peer_s,
            "goal": ">=1.0",
            "unit": "docs/s",
            "peer_name": "datatrove Gopher+C4+FineWeb",
            "ours_kept": ours_kept,
            "peer_kept": peer_kept,
            "docs": len(en),
        },
        {
            "name": "filter_chain_zh_docs_per_s",
            "ours": len(zh) / zh_s,
            "peer": len(en) / peer_s,
            "goal": "info (peer: datatrove on English)",
            "unit": "docs/s",
        },
    ]


def bench_minhash(shared: Path, repeat: int) -> list[dict]:
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.data.test_minhash import datasketch_clusters

    from skywork.data.minhash import MinHasher, lsh_clusters, optimal_bands

    base = english_docs(shared)[:150] + chinese_docs(shared)[:150]
    docs = []
    for r in range(repeat):
        docs += [t if r == 0 else t[: int(len(t) * 0.98)] + f" v{r}" for t in base]
    threshold, num_perm = 0.8, 128
    start = time.perf_counter()
    peer = datasketch_clusters(docs, threshold, num_perm)
    peer_s = time.perf_counter() - start
    bands, rows = optimal_bands(threshold, num_perm)
    results = []
    for hash_kind in ("sha1", "fast"):
        start = time.perf_counter()
        ours = lsh_clusters(MinHasher(num_perm=num_perm, hash=hash_kind).signatures(docs), bands, rows)
        ours_s = time.perf_counter() - start
        same = bool(np.array_equal(ours, peer))
        agree = float((ours == peer).mean())
        print(
            f"minhash ({hash_kind} shingle hash): ours {len(docs) / ours_s:.0f} docs/s, datasketch "
            f"{len(docs) / peer_s:.0f} docs/s; clusters identical={same} ({len(set(ours.tolist()))} clusters, "
            f"{agree:.4f} of docs with the same cluster root)"
        )
        results += [
            {
                "name": f"minhash_{hash_kind}_docs_per_s",
                "ours": len(docs) / ours_s,
                "peer": len(docs) / peer_s,
                "goal": ">=2.0",
                "unit": "docs/s",
                "peer_name": "datasketch MinHash+MinHashLSH",
                "docs": len(docs),
            },
            {
                "name": f"minhash_{hash_kind}_same_cluster_fraction",
                "ours": agree,
                "peer": 1.0,
                "goal": "1.0" if hash_kind == "sha1" else "~1.0 (different hash)",
                "identical": same,
            },
        ]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="Copies of the document set (bigger = steadier)."
    )
    parser.add_argument("--skip-extraction", action="store_true", help="Skip the extraction F1 part.")
    parser.add_argument("--max-pages", type=int, default=60, help="Pages per extraction benchmark.")
    args = parser.parse_args()
    shared = shared_data_dir()
    if shared is None:
        sys.exit("../shared/data is absent: set SKYWORK_SHARED_DATA")
    results = bench_filters(shared, args.repeat) + bench_minhash(shared, args.repeat)
    if not args.skip_extraction:
        from skywork.data.extract_eval import extraction_results

        results += extraction_results(shared, args.max_pages)
    report("data_pipeline", copy.deepcopy(results))


if __name__ == "__main__":
    main()
