"""The embedded demo corpus: a small, deterministic, SkyPile-shaped bilingual corpus with planted defects.

Nothing is downloaded. General text comes from bilingual sentence templates over real vocabulary
(:mod:`skywork.data.synth.lexicon`) and from the docstrings of Python's own standard library; code comes from the
standard library's source; the STEM part is GSM8K-style word problems (:mod:`skywork.data.synth.stem`).

Layout written under ``out_dir``::

    train/web_en.jsonl train/web_zh.jsonl train/parallel.jsonl train/code.jsonl   raw input of the data stage
    stem/train.jsonl                                  STEM problems for stage-2 pretraining (curated, not cleaned)
    valid/{en,zh,code,stem}.jsonl                     held-out validation sets per domain
    leakage/{train,test,ref}.jsonl                    STEM splits for the leakage test (L_train, L_test, L_ref)
    labels.jsonl                                      the planted defects: {"id", "defect", "source", "of"}
    manifest.json                                     rows, bytes and sha256 per file, the config (see base.py),
                                                      training text per file, validation, leakage and defect counts

Records are ``{"id", "text", "source", "lang"}``. The same seed gives the same bytes on the same Python version
(the code part reads that Python's standard library).
"""

from __future__ import annotations

import ast
import hashlib
import random
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from skywork.data.synth import lexicon as lx
from skywork.data.synth.base import GeneratorConfig, JsonlFile, ProgressCallback, SyntheticGenerator, rng
from skywork.data.synth.stem import make_problem
from skywork.data.synth.web import DEFECTS, defect_text, general_document
from skywork.utils.config import field
from skywork.utils.text import CJK_UNIFIED_RE, zh_or_en


@dataclass
class DemoCorpusConfig(GeneratorConfig):
    """Size, mixture and planted defects of the generated demo corpus."""

    seed: int = field(0, help="Random seed; the same seed writes the same corpus.")
    size_mb: float = field(20.0, help="Approximate size of the training text in MB (train/ plus stem/).")
    shares: dict[str, float] = field(
        default_factory=lambda: {
            "web_en": 0.36,
            "web_zh": 0.34,
            "parallel": 0.04,
            "code": 0.14,
            "stem": 0.12,
        },
        help="Share of size_mb per part: web_en, web_zh, parallel, code, stem (normalised to sum 1).",
    )
    docstring_share: float = field(
        0.25, help="Part of web_en taken from standard-library docstrings (real English prose)."
    )
    defect_rates: dict[str, float] = field(
        default_factory=lambda: {
            "exact_dup": 0.03,
            "near_dup": 0.03,
            "boilerplate": 0.02,
            "spam": 0.02,
            "other_lang": 0.02,
            "garbled": 0.02,
        },
        help="Planted defects per clean web document, by kind: " + ", ".join(DEFECTS) + ".",
    )
    valid_docs: int = field(100, help="Documents per held-out validation domain (en, zh, code, stem).")
    leakage_problems: int = field(200, help="Problems in each leakage split (train, test, ref).")
    leak_test_into_train: bool = field(
        False, help="Also put the leakage test problems into the STEM training data (to see Δ1 go negative)."
    )
    stdlib_dir: str | None = field(
        None, help="Directory of Python sources for code and docstrings (default: stdlib)."
    )


# -------------------------------------------------------------------------------------- standard library


def _python_files(root: Path) -> list[Path]:
    skip = {"test", "tests", "idlelib", "site-packages", "__pycache__", "lib2to3", "turtledemo"}
    return sorted(p for p in root.rglob("*.py") if not skip.intersection(p.relative_to(root).parts))


def _held_out(rel: str) -> bool:
    """One file in ten (by a hash of its path) is kept out of training for the code validation set."""
    return int(hashlib.sha1(rel.encode()).hexdigest(), 16) % 10 == 0


def code_chunks(text: str, min_chars: int = 1200, max_chars: int = 6000) -> Iterator[str]:
    """Cut a source file at top-level ``def`` / ``class`` boundaries into documents of a readable size."""
    lines, chunk, size = text.splitlines(keepends=True), [], 0
    for line in lines:
        boundary = line.startswith(("def ", "class ", "async def ", "@"))
        if boundary and size >= min_chars and not (chunk and chunk[-1].startswith("@")):
            yield "".join(chunk).strip("\n")
            chunk, size = [], 0
        chunk.append(line)
        size += len(line)
        if size >= max_chars and line.strip() == "":
            yield "".join(chunk).strip("\n")
            chunk, size = [], 0
    if size >= 200:
        yield "".join(chunk).strip("\n")


def docstrings(text: str, min_chars: int = 300) -> Iterator[str]:
    """Module, class and function docstrings of a file that are long enough to read as prose."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc and len(doc) >= min_chars:
                yield doc.strip()


# ---------------------------------------------------------------------------------------------- generator

PARTS = ("web_en", "web_zh", "parallel", "code", "stem")


def _lang(text: str) -> str:
    """The record label of generated text: the unified ideograph block only (what the corpus always wrote)."""
    return zh_or_en(text, 300, CJK_UNIFIED_RE)


class _Ticker:
    """Counts generated training bytes for a ``(done, total)`` progress callback."""

    def __init__(self, total: int, progress: ProgressCallback | None):
        self.total, self.done, self._progress = total, 0, progress

    def __call__(self, text: str) -> None:
        self.done += len(text.encode())
        if self._progress:
            self._progress(min(self.done, self.total), self.total)


class DemoCorpus(SyntheticGenerator[DemoCorpusConfig]):
    """The demo corpus (see the module docstring): training parts by byte budget, then leakage and validation."""

    name = "demo_corpus"
    version = 1
    summary_kind = "corpus"

    def write(self, out: Path, progress: ProgressCallback | None) -> dict:
        config = self.config
        budget = self._budgets()
        tick = _Ticker(int(config.size_mb * 1_000_000), progress)
        stdlib = Path(config.stdlib_dir or sysconfig.get_paths()["stdlib"])
        train_files, valid_files = self._source_files(stdlib)

        labels: list[dict] = []
        parts = {
            "web_en": self._web(out, "web_en", "en", budget, train_files, labels, tick),
            "web_zh": self._web(out, "web_zh", "zh", budget, train_files, labels, tick),
            "parallel": self._parallel(out, budget, tick),
            "code": self._code(out, budget, train_files, tick),
        }
        seen: set[str] = set()  # every STEM problem written so far: later splits never repeat one
        stem_file, train_problems = self._stem(out, budget, seen, tick)
        leakage = self._leakage(out, stem_file, train_problems, seen)
        valid = self._validation(out, valid_files, seen)
        self.write_jsonl(out, "labels.jsonl", labels)
        return {
            "training_text": {
                **{
                    f"train/{k}.jsonl": {"documents": f.rows, "text_bytes": f.text_bytes}
                    for k, f in parts.items()
                },
                "stem/train.jsonl": {"documents": stem_file.rows, "text_bytes": stem_file.text_bytes},
            },
            "valid": valid,
            "leakage": leakage,
            "defects": {d: sum(1 for row in labels if row["defect"] == d) for d in DEFECTS},
        }

    def _budgets(self) -> dict[str, int]:
        """Training text bytes per part: ``size_mb`` split by the normalised ``shares``."""
        shares = self.config.shares
        unknown = set(shares) - set(PARTS)
        if unknown:
            raise ValueError(f"shares: unknown parts {sorted(unknown)}")
        total_bytes = int(self.config.size_mb * 1_000_000)
        share_sum = sum(shares.values()) or 1.0
        return {k: int(total_bytes * v / share_sum) for k, v in shares.items()}

    def _source_files(self, stdlib: Path) -> tuple[list[Path], list[Path]]:
        """The standard library's files in a seeded order, split into training and held-out files."""
        files = _python_files(stdlib)
        rng(self.config.seed).shuffle(files)
        train = [p for p in files if not _held_out(str(p.relative_to(stdlib)))]
        valid = [p for p in files if _held_out(str(p.relative_to(stdlib)))]
        return train, valid

    def _web(self, out, part, lang, budget, train_files, labels, tick) -> JsonlFile:
        """General text in one language (web_en also takes standard-library docstrings), defects planted after
        clean documents at ``defect_rates``; each defect is labelled in ``labels``."""
        config = self.config
        part_rng = rng(config.seed, part)
        writer = self.jsonl(out, f"train/{part}.jsonl")
        counter = 0
        recent: list[str] = []  # "id<TAB>text" of the last 200 clean documents, for duplicates
        doc_budget = budget.get(part, 0)
        if part == "web_en":
            doc_iter = (d for p in train_files for d in docstrings(p.read_text("utf-8", errors="replace")))
            docstring_budget = int(doc_budget * config.docstring_share)
        else:
            doc_iter, docstring_budget = iter(()), 0
        used_docstrings = 0
        while writer.text_bytes < doc_budget:
            counter += 1
            if used_docstrings < docstring_budget and part_rng.random() < config.docstring_share:
                text = next(doc_iter, None)
                if text is None:
                    docstring_budget = 0
                    continue
                used_docstrings += len(text.encode())
                source = "docs_en"
            else:
                text, source = general_document(part_rng, lang), part
            record = {"id": f"{part}-{counter:07d}", "text": text, "source": source, "lang": lang}
            writer.write(record)
            tick(text)
            recent = [*recent, record["id"] + "\t" + text][-200:]
            for defect, rate in config.defect_rates.items():
                if part_rng.random() >= rate:
                    continue
                counter += 1
                bad, of = defect_text(part_rng, defect, recent, lang)
                defect_id = f"{part}-{counter:07d}"
                writer.write({"id": defect_id, "text": bad, "source": part, "lang": lang})
                labels.append({"id": defect_id, "defect": defect, "source": part, "of": of})
        return writer

    def _parallel(self, out, budget, tick) -> JsonlFile:
        """English / Chinese line pairs of the same content."""
        part_rng = rng(self.config.seed, "parallel")
        writer = self.jsonl(out, "train/parallel.jsonl")
        counter = 0
        while writer.text_bytes < budget.get("parallel", 0):
            counter += 1
            text = general_document(part_rng, "parallel")
            writer.write({"id": f"parallel-{counter:07d}", "text": text, "source": "parallel", "lang": "zh"})
            tick(text)
        return writer

    def _code(self, out, budget, train_files, tick) -> JsonlFile:
        """Standard-library source cut into chunks, file by file until the budget is met."""
        writer = self.jsonl(out, "train/code.jsonl")
        counter = 0
        for path in train_files:
            if writer.text_bytes >= budget.get("code", 0):
                break
            for chunk in code_chunks(path.read_text("utf-8", errors="replace")):
                counter += 1
                writer.write({"id": f"code-{counter:07d}", "text": chunk, "source": "code", "lang": "code"})
                tick(chunk)
        return writer

    def _stem(self, out, budget, seen, tick) -> tuple[JsonlFile, list[str]]:
        """Distinct STEM problems for training; the file stays open (the leakage test may append to it)."""
        part_rng = rng(self.config.seed, "stem")
        writer = self.jsonl(out, "stem/train.jsonl")
        problems: list[str] = []
        while writer.text_bytes < budget.get("stem", 0):
            lang = "en" if part_rng.random() < 0.5 else "zh"
            problem = make_problem(part_rng, lang)
            if problem.text in seen:
                continue
            seen.add(problem.text)
            problems.append(problem.text)
            _write_stem_problem(writer, problem.text, lang)
            tick(problem.text)
        return writer, problems

    def _leakage(self, out, stem_file, train_problems, seen) -> dict[str, int]:
        """The three leakage splits: problems trained on, unseen test problems and independent references."""
        n_leak = self.config.leakage_problems
        leak_rng = rng(self.config.seed, "leakage")
        splits = {"train": leak_rng.sample(train_problems, min(n_leak, len(train_problems)))}
        splits["test"] = _fresh_problems(leak_rng, n_leak, seen)
        # The reference split is drawn exactly like the test split, independently: a model that never saw the test
        # problems finds both equally hard (Δ1 ≈ 0); leak_test_into_train makes Δ1 clearly negative.
        splits["ref"] = _fresh_problems(leak_rng, n_leak, seen)
        if self.config.leak_test_into_train:
            for text in splits["test"]:
                _write_stem_problem(stem_file, text, _lang(text))
        stem_file.close()
        for split, texts in splits.items():
            self.write_jsonl(
                out, f"leakage/{split}.jsonl", _records(texts, f"leak-{split}", f"leakage_{split}")
            )
        return {split: len(texts) for split, texts in splits.items()}

    def _validation(self, out, valid_files, seen) -> dict[str, int]:
        """Held-out validation sets per domain, from their own random stream and held-out source files."""
        n = self.config.valid_docs
        valid_rng = rng(self.config.seed, "valid")
        valid = {
            "en": [general_document(valid_rng, "en") for _ in range(n)],
            "zh": [general_document(valid_rng, "zh") for _ in range(n)],
            "code": [c for p in valid_files for c in code_chunks(p.read_text("utf-8", errors="replace"))][:n],
            "stem": _fresh_problems(valid_rng, n, seen),
        }
        for domain, texts in valid.items():
            lang = "code" if domain == "code" else None
            self.write_jsonl(
                out, f"valid/{domain}.jsonl", _records(texts, f"valid-{domain}", f"valid_{domain}", lang)
            )
        return {k: len(v) for k, v in valid.items()}


def _write_stem_problem(writer: JsonlFile, text: str, lang: str) -> None:
    writer.write({"id": f"stem-{writer.rows + 1:07d}", "text": text, "source": f"stem_{lang}", "lang": lang})


def _fresh_problems(rng: random.Random, n: int, seen: set[str]) -> list[str]:
    """``n`` problems never written before (with the full name list, so they read unlike the training ones)."""
    texts = []
    while len(texts) < n:
        problem = make_problem(rng, "en" if rng.random() < 0.5 else "zh", lx.NAMES)
        if problem.text not in seen:
            seen.add(problem.text)
            texts.append(problem.text)
    return texts


def _records(texts: list[str], prefix: str, source: str, lang: str | None = None) -> list[dict]:
    return [
        {"id": f"{prefix}-{i:05d}", "text": text, "source": source, "lang": lang or _lang(text)}
        for i, text in enumerate(texts, start=1)
    ]


def generate_corpus(
    config: DemoCorpusConfig, out_dir: str | Path, progress: ProgressCallback | None = None
) -> dict:
    """Write the demo corpus to ``out_dir``; returns the manifest (also written to ``manifest.json``)."""
    return DemoCorpus(config).generate(out_dir, progress)
