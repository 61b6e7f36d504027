"""Data pipeline benchmarks, one run, same documents for ours and the peer:

1. filter chain docs/s on English web documents: our full zh+en chain (validity, language ID, length, quality
   rules, PII) vs datatrove's FineWeb-style chain (GopherRepetition + GopherQuality + C4Quality + FineWebQuality);
2. MinHash docs/s and clusters vs datasketch (MinHash + MinHashLSH) at the same num_perm / threshold /
   shingles, and the pairwise precision / recall of all three against exact-Jaccard ground truth;
3. extraction character F1 per benchmark of ours and six peers (trafilatura, Resiliparse, readability-lxml,
   jusText, boilerpy3, inscriptis) with the K-fold cross-validation of our vote, pages/s of each, and the
   benchmark's shipped baselines; the per-page table goes to ``bench/results/extraction.json``.

Run: ``.venv/bin/python bench/data_pipeline.py [--repeat N] [--skip-filters] [--skip-extraction]
[--only filters|minhash|extraction]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import RESULTS_DIR, report  # noqa: E402

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


def exact_jaccard_clusters(docs: list[str], threshold: float) -> tuple[np.ndarray, int]:
    """Ground truth for near-dedup: exact Jaccard of every pair of shingle sets (the shingles both MinHash
    variants and datasketch use), a sparse binary (docs x shingles) matrix times its transpose giving every
    intersection; pairs at or above ``threshold`` are joined (connected components, root = smallest index)."""
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    from skywork.data.minhash import shingles

    vocab: dict[bytes, int] = {}
    rows, cols = [], []
    for i, text in enumerate(docs):
        ids = {vocab.setdefault(g, len(vocab)) for g in shingles(text)}
        cols += ids
        rows += [i] * len(ids)
    x = sparse.csr_matrix((np.ones(len(rows), np.int32), (rows, cols)), shape=(len(docs), len(vocab)))
    inter = (x @ x.T).toarray()
    sizes = np.diag(inter)
    jaccard = inter / (sizes[:, None] + sizes[None, :] - inter)
    edges = np.triu(jaccard >= threshold, 1)
    _, labels = connected_components(sparse.csr_matrix(edges), directed=False)
    roots = np.full(labels.max() + 1, len(docs))
    np.minimum.at(roots, labels, np.arange(len(docs)))
    return roots[labels], int(edges.sum())


def pair_precision_recall(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Pairwise cluster agreement: of the document pairs put in one cluster, the share that exact Jaccard also
    puts in one cluster (precision), and of the true pairs the share found (recall)."""

    def pairs(*labelings: np.ndarray) -> int:
        _, counts = np.unique(np.stack(labelings), axis=1, return_counts=True)
        return int((counts * (counts - 1) // 2).sum())

    both, pred, true = pairs(predicted, truth), pairs(predicted), pairs(truth)
    return (both / pred if pred else 1.0), (both / true if true else 1.0)


def edited_copies(texts: list[str], max_rate: float, seed: int = 0) -> list[str]:
    """One copy of each text with a random share (uniform in [0, max_rate]) of its words (or, for Chinese, of
    its characters) replaced: exact Jaccard to the original spreads from 1 down to about 0.5, around the
    threshold, where MinHash LSH makes its mistakes."""
    import random

    from skywork.data.minhash import is_chinese

    rng = random.Random(seed)
    copies = []
    for text in texts:
        rate = rng.uniform(0, max_rate)
        if is_chinese(text):
            units = [
                chr(rng.randint(0x4E00, 0x9FFF)) if not c.isspace() and rng.random() < rate else c
                for c in text
            ]
            copies.append("".join(units))
        else:
            words = [f"edit{rng.randrange(10**6)}" if rng.random() < rate else w for w in text.split(" ")]
            copies.append(" ".join(words))
    return copies


def bench_minhash(shared: Path, repeat: int, runs: int, accuracy_seeds: int) -> list[dict]:
    """Speed (best of ``runs``) and accuracy against exact Jaccard (mean over ``accuracy_seeds`` seeds) of
    ours in both hash modes and datasketch, on the same near-duplicate set; accuracy also on a harder set."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.data.test_minhash import datasketch_clusters

    from skywork.data.minhash import MinHasher, lsh_clusters, optimal_bands

    base = english_docs(shared)[:150] + chinese_docs(shared)[:150]
    docs = []
    for r in range(repeat):
        docs += [t if r == 0 else t[: int(len(t) * 0.98)] + f" v{r}" for t in base]
    hard = base + edited_copies(base, 0.08)
    threshold, num_perm = 0.8, 128
    # the same (bands, rows) for both sides, computed once: the timings are per-document work only
    params = optimal_bands(threshold, num_perm)

    def run(method: str, texts: list[str], seed: int = 1) -> np.ndarray:
        if method == "datasketch":
            return datasketch_clusters(texts, threshold, num_perm, seed, params)
        return lsh_clusters(MinHasher(num_perm=num_perm, seed=seed, hash=method).signatures(texts), *params)

    def timed(texts: list[str]) -> tuple[dict[str, float], dict[str, np.ndarray]]:
        """Best of ``runs`` interleaved runs per method (a shared machine: the minimum is least disturbed)."""
        seconds, clusters = {"datasketch": [], "sha1": [], "fast": []}, {}
        for _ in range(runs):
            for method in seconds:
                start = time.perf_counter()
                clusters[method] = run(method, texts)
                seconds[method].append(time.perf_counter() - start)
        return {method: min(times) for method, times in seconds.items()}, clusters

    def accuracy(texts: list[str]) -> dict:
        """Pair precision / recall against exact Jaccard, mean over seeds (one seed is one random draw), and
        the standard error of each method's seed-by-seed (paired) difference to datasketch."""
        truth, true_edges = exact_jaccard_clusters(texts, threshold)
        scores, sha1_identical = {"datasketch": [], "sha1": [], "fast": []}, True
        for seed in range(1, accuracy_seeds + 1):
            roots = {method: run(method, texts, seed) for method in scores}
            sha1_identical &= bool(np.array_equal(roots["sha1"], roots["datasketch"]))
            for method in scores:
                scores[method].append(pair_precision_recall(roots[method], truth))
        mean = {m: np.mean(s, axis=0) for m, s in scores.items()}
        error = {
            m: (np.array(s) - scores["datasketch"]).std(axis=0, ddof=min(1, accuracy_seeds - 1))
            / np.sqrt(accuracy_seeds)
            for m, s in scores.items()
        }
        print(
            f"minhash truth ({len(texts)} docs): {true_edges} pairs with exact Jaccard >= {threshold}, "
            f"{len(set(truth.tolist()))} true clusters; sha1 clusters identical to datasketch on all "
            f"{accuracy_seeds} seeds: {sha1_identical}"
        )
        return {"mean": mean, "error": error, "true_edges": true_edges}

    best, clusters = timed(docs)
    distinct_best, _ = timed(base)  # no near-duplicates: few shingles repeat across documents
    scored = {"": accuracy(docs), "_hard": accuracy(hard)}
    results = []
    for hash_kind in ("sha1", "fast"):
        ours_roots, peer = clusters[hash_kind], clusters["datasketch"]
        same = bool(np.array_equal(ours_roots, peer))
        agree = float((ours_roots == peer).mean())
        print(
            f"minhash ({hash_kind} shingle hash): ours {len(docs) / best[hash_kind]:.0f} docs/s, datasketch "
            f"{len(docs) / best['datasketch']:.0f} docs/s (best of {runs}); on the {len(base)} distinct docs "
            f"{len(base) / distinct_best[hash_kind]:.0f} vs {len(base) / distinct_best['datasketch']:.0f}; "
            f"clusters identical={same} ({len(set(ours_roots.tolist()))} clusters, {agree:.4f} of docs with "
            f"the same cluster root)"
        )
        results += [
            {
                "name": f"minhash_{hash_kind}_docs_per_s",
                "ours": len(docs) / best[hash_kind],
                "peer": len(docs) / best["datasketch"],
                "goal": ">=2.0",
                "unit": "docs/s",
                "peer_name": "datasketch MinHash+MinHashLSH",
                "docs": len(docs),
                "runs": runs,
            },
            {
                "name": f"minhash_{hash_kind}_distinct_docs_per_s",
                "ours": len(base) / distinct_best[hash_kind],
                "peer": len(base) / distinct_best["datasketch"],
                "goal": "info (no near-duplicates in the set)",
                "unit": "docs/s",
                "docs": len(base),
                "runs": runs,
            },
            {
                "name": f"minhash_{hash_kind}_same_cluster_fraction",
                "ours": agree,
                "peer": 1.0,
                "goal": "1.0" if hash_kind == "sha1" else "~1.0 (different hash)",
                "identical": same,
            },
        ]
        for suffix, acc in scored.items():
            for i, kind in enumerate(("precision", "recall")):
                print(
                    f"  pair {kind}{suffix.replace('_', ' ')} vs exact Jaccard ({accuracy_seeds} seeds): "
                    f"{hash_kind} {acc['mean'][hash_kind][i]:.4f}, "
                    f"datasketch {acc['mean']['datasketch'][i]:.4f} "
                    f"(standard error of the difference {acc['error'][hash_kind][i]:.4f})"
                )
                difference = acc["mean"][hash_kind][i] - acc["mean"]["datasketch"][i]
                results.append(
                    {
                        "name": f"minhash_{hash_kind}{suffix}_pair_{kind}",
                        "ours": float(acc["mean"][hash_kind][i]),
                        "peer": float(acc["mean"]["datasketch"][i]),
                        "goal": (
                            "1.0 (bit-identical signatures)"
                            if hash_kind == "sha1"
                            else f"~1.0 (difference to datasketch {difference:+.4f}, paired standard error "
                            f"{acc['error'][hash_kind][i]:.4f})"
                        ),
                        "seeds": accuracy_seeds,
                        "difference_standard_error": float(acc["error"][hash_kind][i]),
                        "true_pairs_over_threshold": acc["true_edges"],
                    }
                )
    return results


def bench_extraction(shared: Path, max_pages: int | None) -> list[dict]:
    """Every extractor on the three gold benchmarks; ours is scored out of fold (each page by a vote fitted on
    the other folds) and, as a transfer test, on the pages after the first 60 by a vote fitted on those 60."""
    from skywork.data.extract_eval import extraction_benchmark

    start = time.perf_counter()
    report_ = extraction_benchmark(shared, max_pages)
    summary = report_["summary"]
    names = ["ours_cv", "ours_transfer", "ours", "ours_cv_no_cleanup", "trafilatura", "trafilatura_recall"]
    names += ["resiliparse"]
    names += ["readability", "justext", "boilerpy3", "inscriptis"]
    print(f"extraction ({time.perf_counter() - start:.0f} s): mean character F1")
    print(f"  {'benchmark / pages':34s}" + "".join(f"{n[:12]:>13s}" for n in names))
    results = []
    for benchmark, entry in summary["benchmarks"].items():
        splits = [("all", entry["all"], entry["pages"])]
        splits += [(f"fold {f['fold']}", f, None) for f in entry["folds"]]
        splits += [("held out", entry["held_out"], entry["pages_held_out"])] if entry["held_out"] else []
        for label, scores, pages in splits:
            cells = "".join(
                f"{scores[n]:13.3f}" if scores.get(n) is not None else f"{'-':>13s}" for n in names
            )
            print(f"  {benchmark + ' ' + label + (f' ({pages})' if pages else ''):34s}{cells}")
        for split, suffix in (("all", ""), ("held_out", "_transfer")):
            best = entry.get(f"{split}_best_peer")
            if best:
                results.append(
                    {
                        "name": f"extraction_f1_{benchmark}{suffix}",
                        "ours": best["ours"],
                        "peer": best["f1"],
                        "goal": ">=1.0",
                        "peer_name": best["name"],
                        "pages": entry["pages" if split == "all" else "pages_held_out"],
                        "ours_is": (
                            f"{report_['folds']}-fold cross-validated vote"
                            if split == "all"
                            else f"vote fitted on the first {report_['visible_pages']} pages"
                        ),
                    }
                )
    speed = summary["pages_per_s"]
    print("  pages/s: " + ", ".join(f"{n} {v:.1f}" for n, v in sorted(speed.items(), key=lambda kv: -kv[1])))
    results.append(
        {
            "name": "extraction_pages_per_s",
            "ours": speed["ours"],
            "peer": speed["trafilatura"],
            "goal": "info (ours runs six extractors and the consensus check; >= 0.33 wanted)",
            "unit": "pages/s",
        }
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "extraction.json").write_text(json.dumps(report_, indent=1))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="Copies of the document set (bigger = steadier)."
    )
    parser.add_argument("--skip-extraction", action="store_true", help="Skip the extraction F1 part.")
    parser.add_argument("--skip-filters", action="store_true", help="Skip the filter chain part.")
    parser.add_argument(
        "--minhash-runs", type=int, default=3, help="Timed MinHash runs per method (best kept)."
    )
    parser.add_argument(
        "--accuracy-seeds",
        type=int,
        default=20,
        help="Permutation seeds averaged in the exact-Jaccard accuracy.",
    )
    parser.add_argument(
        "--max-pages",
        type=int,
        default=None,
        help="Pages per extraction benchmark (default: all; the first 60 are the visible ones).",
    )
    parser.add_argument(
        "--only",
        choices=["filters", "minhash", "extraction"],
        help="Run one part (results: data_pipeline_<part>).",
    )
    args = parser.parse_args()
    shared = shared_data_dir()
    if shared is None:
        sys.exit("../shared/data is absent: set SKYWORK_SHARED_DATA")

    def wanted(part: str, skipped: bool = False) -> bool:
        return args.only == part if args.only else not skipped

    results = bench_filters(shared, args.repeat) if wanted("filters", args.skip_filters) else []
    if wanted("minhash"):
        results += bench_minhash(shared, args.repeat, args.minhash_runs, args.accuracy_seeds)
    if wanted("extraction", args.skip_extraction):
        results += bench_extraction(shared, args.max_pages)
    report(f"data_pipeline_{args.only}" if args.only else "data_pipeline", copy.deepcopy(results))


if __name__ == "__main__":
    main()
