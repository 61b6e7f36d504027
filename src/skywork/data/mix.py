"""Source mixing: per-source weights with a repetition cap, written as shuffled JSONL shards for tokenization.

Weights are shares of output *characters*. The output size is ``target_chars`` when given, otherwise the size at
which the most demanding source reaches exactly the repetition cap (SkyPile upsamples high-quality sources at
most 5 times). A source that would need more than ``max_repeat`` passes is capped and the shortfall reported.
Fractional repetition (e.g. 2.4x) repeats every document twice and a seeded 40% of them a third time.
"""

from __future__ import annotations

import dataclasses
import gzip
import random
from collections import defaultdict
from pathlib import Path

import orjson

from skywork.utils.config import field
from skywork.utils.io import InputError, atomic_path, atomic_write_json


@dataclasses.dataclass
class MixConfig:
    inputs: list[str] = field(
        help="Pipeline run directories (their kept/) or kept/ folders or .jsonl.gz files."
    )
    output_dir: str = field(help="Where mixed-<n>.jsonl.gz shards and mix_report.json are written.")
    weights: dict[str, float] = field(help="metadata.source -> share of output characters (normalised).")
    max_repeat: float = field(5.0, help="A source is repeated at most this many times.")
    target_chars: int = field(0, help="Output size in characters (0: the largest size the cap allows).")
    source_field: str = field("source", help="Metadata field naming the source.")
    shard_docs: int = field(100_000, help="Documents per output shard.")
    seed: int = field(0, help="Seed of the fractional repetition and the shuffle.")


def mix_sources(config: MixConfig) -> dict:
    from skywork.data.io import read_documents

    docs: dict[str, list[dict]] = defaultdict(list)
    for entry in config.inputs:
        for doc in read_documents(entry):
            source = str(doc["metadata"].get(config.source_field, "unknown"))
            if source in config.weights:
                docs[source].append(doc)
    missing = [s for s, w in config.weights.items() if w > 0 and not docs.get(s)]
    if missing:
        raise InputError(f"no documents for source(s) {missing}", ", ".join(config.inputs), field="weights")
    total_weight = sum(w for w in config.weights.values() if w > 0)
    shares = {s: w / total_weight for s, w in config.weights.items() if w > 0}
    chars = {s: sum(len(d["text"]) for d in docs[s]) for s in shares}
    target = config.target_chars or min(chars[s] * config.max_repeat / shares[s] for s in shares)
    rng = random.Random(config.seed)
    report: dict = {"target_chars": int(target), "sources": {}}
    mixed: list[dict] = []
    for source in sorted(shares):
        wanted = shares[source] * target / chars[source]
        repeat = min(wanted, config.max_repeat)
        whole, fraction = int(repeat), repeat - int(repeat)
        extra = set(rng.sample(range(len(docs[source])), round(fraction * len(docs[source]))))
        out_chars = 0
        for index, doc in enumerate(docs[source]):
            for copy in range(whole + (index in extra)):
                mixed.append({**doc, "metadata": {**doc["metadata"], "repeat": copy}})
                out_chars += len(doc["text"])
        report["sources"][source] = {
            "documents": len(docs[source]),
            "chars": chars[source],
            "weight": shares[source],
            "repeat": round(repeat, 4),
            "capped": wanted > config.max_repeat + 1e-9,
            "output_chars": out_chars,
        }
    rng.shuffle(mixed)
    total = sum(s["output_chars"] for s in report["sources"].values())
    for info in report["sources"].values():
        info["actual_share"] = round(info["output_chars"] / max(total, 1), 4)
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    shards = 0
    for start in range(0, len(mixed), config.shard_docs):
        with atomic_path(out / f"mixed-{shards:05d}.jsonl.gz") as tmp, gzip.open(tmp, "wb") as handle:
            for doc in mixed[start : start + config.shard_docs]:
                handle.write(orjson.dumps(doc, option=orjson.OPT_APPEND_NEWLINE))
        shards += 1
    report.update({"documents": len(mixed), "output_chars": total, "shards": shards})
    atomic_write_json(out / "mix_report.json", report)
    return report
