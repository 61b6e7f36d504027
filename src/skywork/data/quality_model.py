"""The trainable quality model (the report's CCNet step, section 4.1), both parts trained here, no downloads:

* a character n-gram language model (hashed counts, interpolated estimates) trained on reference text; a
  document's perplexity puts it in the ``head`` / ``middle`` / ``tail`` bucket of its language, with the bucket
  edges set at per-language percentiles (33rd / 66th by default) of the perplexities of web text, as CCNet does;
* a fastText "would a reference source cite this" classifier: positives are reference text (Wikipedia, books,
  curated articles), negatives raw web text; Chinese is fed as space-separated characters.

Characters instead of SentencePiece pieces keep the model independent of the tokenizer stage (the spec's
tokenizer is trained *after* data cleaning); this is our design choice, documented in docs/data.md.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from skywork.utils.config import field
from skywork.utils.io import InputError, atomic_path, atomic_write_json
from skywork.utils.text import CJK_RANGES, CJK_RE

log = logging.getLogger(__name__)

TABLE_BITS = 22
# CJK characters one by one, other word characters (underscore included, unlike utils.text.units) as words
_TOKEN = re.compile(rf"[{CJK_RANGES}]|[^\W{CJK_RANGES}]+", re.UNICODE)


@dataclasses.dataclass
class QualityModelTrainConfig:
    reference: list[str] = field(help="Reference-quality text files (jsonl with text/content, or txt).")
    web: list[str] = field(help="Raw web text files (negatives for the classifier, percentiles for buckets).")
    output_dir: str = field(
        help="Where lm.npz, classifier.bin and quality_model.json are written.", aliases=("out_dir",)
    )
    order: int = field(4, help="Character n-gram order of the language model.")
    percentiles: list[float] = field(
        default_factory=lambda: [33.0, 66.0], help="Bucket edges (per language)."
    )
    max_docs_per_file: int = field(5000, help="Cap on documents read from each file.")
    epochs: int = field(5, help="fastText epochs.")
    lr: float = field(
        0.1, help="fastText learning rate (halved and retried, up to 3 times, if training diverges)."
    )
    dim: int = field(32, help="fastText embedding size.")
    seed: int = field(0, help="fastText seed (single thread for determinism).")


def iter_texts(path: str | Path, max_docs: int = 10**9, min_chars: int = 40) -> Iterator[str]:
    """Documents of a jsonl (``text`` / ``content`` / ``raw_content`` field) or txt file (blank-line
    paragraphs, or lines when the file has none)."""
    path = Path(path)
    if not path.exists():
        raise InputError("no such file", path)
    count = 0
    if path.name.endswith((".jsonl", ".jsonl.gz")):
        from skywork.data.io import iter_jsonl_records

        for field_name in ("text", "content", "raw_content"):
            records = [r for r in iter_jsonl_records(str(path), text_field=field_name) if not r["invalid"]]
            if records:
                break
        for record in records:
            if len(record["text"]) >= min_chars and count < max_docs:
                count += 1
                yield record["text"]
        return
    from skywork.data.io import decode_bytes

    text = decode_bytes(path.read_bytes())[0] or ""
    blocks = re.split(r"\n\s*\n", text) if re.search(r"\n\s*\n", text) else text.split("\n")
    for block in blocks:
        block = " ".join(block.split()) if not CJK_RE.search(block) else block.strip()
        if len(block) >= min_chars and count < max_docs:
            count += 1
            yield block


def language_of(text: str) -> str:
    head = text[:1000]
    return "zh" if len(CJK_RE.findall(head)) > 0.3 * max(len(head.strip()), 1) else "en"


class CharNgramLM:
    """Interpolated character n-gram LM with hashed count tables (fixed memory, numpy-saved, no pickle)."""

    def __init__(self, order: int = 4, counts: np.ndarray | None = None, context: np.ndarray | None = None):
        self.order = order
        size = 1 << TABLE_BITS
        self.counts = counts if counts is not None else np.zeros((order, size), dtype=np.uint32)
        self.context = context if context is not None else np.zeros((order, size), dtype=np.uint32)

    @staticmethod
    def _codes(text: str) -> np.ndarray:
        return np.frombuffer(("\x02" * 8 + text).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)

    def _keys(self, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Hashed (n-gram of length k+1 ending at each position, its k-character context) table indices."""
        n = len(codes) - 8
        gram = np.zeros(n, dtype=np.uint64)
        for j in range(k, -1, -1):
            gram = gram * np.uint64(1_000_003) + codes[8 - j : 8 - j + n]
        ctx = (gram - codes[8:]) * np.uint64(0x9E3779B97F4A7C15)
        mask = np.uint64((1 << TABLE_BITS) - 1)
        mix = np.uint64(0xBF58476D1CE4E5B9)
        return ((gram * mix) >> np.uint64(20)) & mask, ((ctx * mix) >> np.uint64(20)) & mask

    def fit(self, texts: Iterable[str], batch_chars: int = 2_000_000) -> CharNgramLM:
        batch: list[str] = []
        size = 0
        for text in list(texts) + [None]:  # type: ignore[list-item]
            if text is not None:
                batch.append(text)
                size += len(text)
            if batch and (text is None or size >= batch_chars):
                codes = [self._codes(t) for t in batch]
                for k in range(self.order):
                    keys = [self._keys(c, k) for c in codes]
                    size_table = self.counts.shape[1]
                    grams = np.concatenate([g for g, _ in keys]).astype(np.int64)
                    ctxs = np.concatenate([c for _, c in keys]).astype(np.int64)
                    self.counts[k] += np.bincount(grams, minlength=size_table).astype(np.uint32)
                    self.context[k] += np.bincount(ctxs, minlength=size_table).astype(np.uint32)
                batch, size = [], 0
        return self

    def perplexity(self, text: str) -> float:
        if not text:
            return float("inf")
        codes = self._codes(text[:20000])
        n = len(codes) - 8
        vocab = max(int((self.counts[0] > 0).sum()), 1)
        # interpolate only over the orders whose context was seen (Witten-Bell-like renormalisation), with an
        # add-one unigram floor so unseen characters cost a finite amount
        floor = 0.01 / (vocab + 1)
        prob = np.full(n, floor)
        weight_sum = np.full(n, 0.01)
        for k in range(self.order):
            grams, ctxs = self._keys(codes, k)
            num, den = self.counts[k][grams].astype(np.float64), self.context[k][ctxs].astype(np.float64)
            seen = den > 0
            weight = (k + 1) ** 2
            prob += np.where(seen, weight * num / np.maximum(den, 1), 0.0)
            weight_sum += np.where(seen, weight, 0.0)
        prob /= weight_sum
        return float(math.exp(-np.log(prob).mean()))

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.savez_compressed(handle, counts=self.counts, context=self.context, order=self.order)

    @classmethod
    def load(cls, path: Path) -> CharNgramLM:
        data = np.load(path)
        return cls(int(data["order"]), data["counts"], data["context"])


def classifier_tokens(text: str) -> str:
    """fastText input: lower-cased words, Chinese characters as single tokens, one line."""
    return " ".join(_TOKEN.findall(text[:20000].lower()))


def train_quality_model(config: QualityModelTrainConfig) -> dict:
    """Train the LM and the classifier; write ``out_dir/{lm.npz, classifier.bin, quality_model.json}``."""
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    reference = [t for p in config.reference for t in iter_texts(p, config.max_docs_per_file)]
    web = [t for p in config.web for t in iter_texts(p, config.max_docs_per_file)]
    if not reference or not web:
        raise InputError("need reference and web documents (files gave none)", field="reference/web")
    lm = CharNgramLM(config.order).fit(reference)
    lm.save(out / "lm.npz")
    edges: dict[str, list[float]] = {}
    for lang in ("zh", "en"):
        ppl = [lm.perplexity(t) for t in web if language_of(t) == lang]
        if ppl:
            edges[lang] = [float(np.percentile(ppl, q)) for q in config.percentiles]
    with tempfile.TemporaryDirectory() as tmp:
        train_file = Path(tmp) / "train.txt"
        rows = [f"__label__ref {classifier_tokens(t)}" for t in reference]
        rows += [f"__label__web {classifier_tokens(t)}" for t in web]
        np.random.default_rng(config.seed).shuffle(rows)
        train_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
        model = _train_classifier(train_file, config)
        with atomic_path(out / "classifier.bin") as tmp_bin:
            model.save_model(str(tmp_bin))
    info = {
        "order": config.order,
        "bucket_edges": edges,
        "percentiles": config.percentiles,
        "reference_docs": len(reference),
        "web_docs": len(web),
        "reference": config.reference,
        "web": config.web,
    }
    atomic_write_json(out / "quality_model.json", info)
    return info


class QualityModel:
    """Loaded model: ``score(text) -> {"perplexity", "bucket", "ref_score"}``."""

    def __init__(self, model_dir: str | Path):
        model_dir = Path(model_dir)
        if not (model_dir / "quality_model.json").exists():
            raise InputError("not a quality model directory (run `skywork data train-quality`)", model_dir)
        import fasttext

        self.info = json.loads((model_dir / "quality_model.json").read_text())
        self.lm = CharNgramLM.load(model_dir / "lm.npz")
        self.classifier = fasttext.load_model(str(model_dir / "classifier.bin"))

    def bucket(self, perplexity: float, lang: str) -> str:
        edges = self.info["bucket_edges"].get(lang) or next(iter(self.info["bucket_edges"].values()))
        if perplexity <= edges[0]:
            return "head"
        return "middle" if perplexity <= edges[-1] else "tail"

    def score(self, text: str, lang: str | None = None) -> dict:
        lang = lang or language_of(text)
        perplexity = self.lm.perplexity(text)
        labels, probs = self.classifier.predict(classifier_tokens(text) or "empty", k=2)
        ref = dict(zip(labels, probs, strict=True)).get("__label__ref", 0.0)
        return {
            "perplexity": round(perplexity, 2),
            "bucket": self.bucket(perplexity, lang),
            "ref_score": round(float(min(ref, 1.0)), 4),
        }


def _train_classifier(train_file: Path, config: QualityModelTrainConfig):
    """fastText supervised training; on "Encountered NaN" (divergence, rare at lr 0.1) retry at half the rate."""
    import fasttext

    lr = config.lr
    for attempt in range(4):
        try:
            return fasttext.train_supervised(
                str(train_file),
                lr=lr,
                epoch=config.epochs,
                wordNgrams=2,
                minCount=2,
                dim=config.dim,
                bucket=200_000,
                thread=1,
                seed=config.seed,
                verbose=0,
            )
        except RuntimeError as err:
            if "NaN" not in str(err) or attempt == 3:
                raise
            log.warning("fastText diverged at lr %g; retrying at %g", lr, lr / 2)
            lr /= 2
    raise AssertionError("unreachable")
