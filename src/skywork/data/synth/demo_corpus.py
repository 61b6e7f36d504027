"""The embedded demo corpus: a small, deterministic, SkyPile-shaped bilingual corpus with planted defects.

Nothing is downloaded. General text comes from bilingual sentence templates over real vocabulary
(:mod:`skywork.recipe.lexicon`) and from the docstrings of Python's own standard library; code comes from the
standard library's source; the STEM part is GSM8K-style word problems (:mod:`skywork.recipe.stem`).

Layout written under ``out_dir``::

    train/web_en.jsonl train/web_zh.jsonl train/parallel.jsonl train/code.jsonl   raw input of the data stage
    stem/train.jsonl                                  STEM problems for stage-2 pretraining (curated, not cleaned)
    valid/{en,zh,code,stem}.jsonl                     held-out validation sets per domain
    leakage/{train,test,ref}.jsonl                    STEM splits for the leakage test (L_train, L_test, L_ref)
    labels.jsonl                                      the planted defects: {"id", "defect", "source", "of"}
    manifest.json                                     counts and bytes per file, and the config

Records are ``{"id", "text", "source", "lang"}``. The same seed gives the same bytes on the same Python version
(the code part reads that Python's standard library).
"""

from __future__ import annotations

import ast
import hashlib
import json
import random
import sysconfig
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from skywork.recipe import lexicon as lx
from skywork.recipe.stem import make_problem
from skywork.utils.config import field, to_dict
from skywork.utils.io import atomic_path, atomic_write_json

DEFECTS = ("exact_dup", "near_dup", "boilerplate", "spam", "other_lang", "garbled")


@dataclass
class DemoCorpusConfig:
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


# --------------------------------------------------------------------------------------------- general text


def _binding(rng: random.Random) -> dict[str, lx.Pair]:
    """One consistent set of entities for a document (the same person, city, ... throughout)."""
    bind: dict[str, lx.Pair] = {slot: rng.choice(pool) for slot, pool in lx.SLOT_POOLS.items()}
    numbers = {
        "n": rng.randint(2, 12),
        "m": rng.randint(10, 999),
        "year": rng.randint(2024, 2032),
        "pct": rng.randint(2, 60),
        "lo": rng.randint(-5, 18),
        "s1": rng.randint(1, 5),
        "s2": rng.randint(0, 4),
    }
    numbers["hi"] = numbers["lo"] + rng.randint(3, 12)
    numbers["s1"] = numbers["s2"] + rng.randint(1, 3) if numbers["s1"] <= numbers["s2"] else numbers["s1"]
    for key, value in numbers.items():
        bind[key] = (str(value), str(value))
    return bind


def _fill(template: lx.Pair, bind: dict[str, lx.Pair], lang: int) -> str:
    return template[lang].format(**{k: v[lang] for k, v in bind.items()})


def _section(rng: random.Random, kind: str) -> list[tuple[lx.Pair, dict]]:
    """Sentences of one topic: the same entities throughout, fresh numbers per sentence, no template twice."""
    entities = _binding(rng)
    templates = rng.sample(
        lx.TEMPLATES[kind], rng.randint(min(4, len(lx.TEMPLATES[kind])), len(lx.TEMPLATES[kind]))
    )
    picked = []
    for template in templates:
        numbers = {k: v for k, v in _binding(rng).items() if k in _NUMBER_SLOTS}
        picked.append((template, {**entities, **numbers}))
    return picked


_NUMBER_SLOTS = ("n", "m", "pct", "year", "lo", "hi", "s1", "s2")


def general_document(rng: random.Random, lang: str) -> str:
    """A titled document of 1-3 topical paragraphs in ``lang`` ("en", "zh") or ``"parallel"`` (line pairs)."""
    kinds = [rng.choice(sorted(lx.TEMPLATES)) for _ in range(rng.randint(1, 3))]
    sections = [_section(rng, kind) for kind in kinds]
    if lang == "parallel":
        return "\n".join(f"{_fill(t, b, 0)}\n{_fill(t, b, 1)}" for section in sections for t, b in section)
    side = 0 if lang == "en" else 1
    joiner = " " if side == 0 else ""
    title = _fill(lx.TITLES[kinds[0]], sections[0][0][1], side)
    body = "\n\n".join(joiner.join(_fill(t, b, side) for t, b in section) for section in sections)
    return f"{title}\n\n{body}"


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


# ------------------------------------------------------------------------------------------------ defects


def _near_duplicate(rng: random.Random, text: str, lang: str) -> str:
    """The same page republished: one number changed and a source line added (Jaccard stays high)."""
    digits = [k for k, ch in enumerate(text) if ch.isdigit()]
    if digits:
        k = rng.choice(digits)
        text = text[:k] + str((int(text[k]) + 1) % 10) + text[k + 1 :]
    city = rng.choice(lx.CITIES)
    footer = f"Reposted from {city[0]} Daily." if lang == "en" else f"转载自{city[1]}日报。"
    return f"{text}\n{footer}"


def _boilerplate(rng: random.Random, lang: str) -> str:
    lines = lx.NAV_LINES_EN if lang == "en" else lx.NAV_LINES_ZH
    return "\n".join(rng.choice(lines) for _ in range(rng.randint(8, 20)))


def _spam(rng: random.Random, lang: str) -> str:
    lines = lx.SPAM_EN if lang == "en" else lx.SPAM_ZH
    side = 0 if lang == "en" else 1
    out = []
    for _ in range(rng.randint(10, 30)):
        product = rng.choice(lx.PRODUCTS)[side]
        out.append(rng.choice(lines).format(product=product, n=rng.randint(1, 99), m=rng.randint(100, 999)))
    return "\n".join(out)


def _other_language(rng: random.Random) -> str:
    code = rng.choice(sorted(lx.OTHER_LANGUAGE_SENTENCES))
    sentences = lx.OTHER_LANGUAGE_SENTENCES[code]
    joiner = "" if code == "ja" else " "
    return "\n\n".join(joiner.join(rng.sample(sentences, 4)) for _ in range(rng.randint(2, 4)))


def _garbled(rng: random.Random) -> str:
    """UTF-8 Chinese read back as Windows-1252: the classic mojibake of a mis-declared page encoding."""
    text = general_document(rng, "zh").encode("utf-8").decode("cp1252", errors="replace")
    return text


# ---------------------------------------------------------------------------------------------- generator


class _Writer:
    """A JSONL file written atomically, counting records and bytes."""

    def __init__(self, path: Path):
        self.path, self.records, self.bytes = path, 0, 0
        self._ctx = atomic_path(path)
        self._handle = self._ctx.__enter__().open("w", encoding="utf-8")

    def write(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        self._handle.write(line)
        self.records += 1
        self.bytes += len(record["text"].encode("utf-8"))

    def close(self) -> None:
        self._handle.close()
        self._ctx.__exit__(None, None, None)


def generate_corpus(
    config: DemoCorpusConfig, out_dir: str | Path, progress: Callable[[int, int], None] | None = None
) -> dict:
    """Write the demo corpus to ``out_dir``; returns the manifest (also written to ``manifest.json``)."""
    out = Path(out_dir)
    total_bytes = int(config.size_mb * 1_000_000)
    share_sum = sum(config.shares.values()) or 1.0
    unknown = set(config.shares) - {"web_en", "web_zh", "parallel", "code", "stem"}
    if unknown:
        raise ValueError(f"shares: unknown parts {sorted(unknown)}")
    budget = {k: int(total_bytes * v / share_sum) for k, v in config.shares.items()}
    done_bytes = 0

    def tick(n: int) -> None:
        nonlocal done_bytes
        done_bytes += n
        if progress:
            progress(min(done_bytes, total_bytes), total_bytes)

    stdlib = Path(config.stdlib_dir or sysconfig.get_paths()["stdlib"])
    files = _python_files(stdlib)
    file_rng = random.Random(config.seed)
    file_rng.shuffle(files)
    train_files = [p for p in files if not _held_out(str(p.relative_to(stdlib)))]
    valid_files = [p for p in files if _held_out(str(p.relative_to(stdlib)))]

    labels: list[dict] = []
    writers = {
        name: _Writer(out / "train" / f"{name}.jsonl") for name in ("web_en", "web_zh", "parallel", "code")
    }

    # General text with planted defects, English and Chinese.
    for part, lang in (("web_en", "en"), ("web_zh", "zh")):
        rng = random.Random(f"{config.seed}-{part}")
        writer = writers[part]
        counter = 0
        recent: list[str] = []
        doc_budget = budget.get(part, 0)
        if part == "web_en":
            doc_iter = (d for p in train_files for d in docstrings(p.read_text("utf-8", errors="replace")))
            doc_budget_docs = int(doc_budget * config.docstring_share)
        else:
            doc_iter, doc_budget_docs = iter(()), 0
        used_docs = 0
        while writer.bytes < doc_budget:
            counter += 1
            if used_docs < doc_budget_docs and rng.random() < config.docstring_share:
                text = next(doc_iter, None)
                if text is None:
                    doc_budget_docs = 0
                    continue
                used_docs += len(text.encode())
                source = "docs_en"
            else:
                text, source = general_document(rng, lang), part
            record = {"id": f"{part}-{counter:07d}", "text": text, "source": source, "lang": lang}
            writer.write(record)
            tick(len(text.encode()))
            recent.append(record["id"] + "\t" + text)
            recent = recent[-200:]
            for defect, rate in config.defect_rates.items():
                if rng.random() >= rate:
                    continue
                counter += 1
                of = None
                if defect == "exact_dup":
                    of, bad = recent[rng.randrange(len(recent))].split("\t", 1)
                elif defect == "near_dup":
                    of, original = recent[rng.randrange(len(recent))].split("\t", 1)
                    bad = _near_duplicate(rng, original, lang)
                elif defect == "boilerplate":
                    bad = _boilerplate(rng, lang)
                elif defect == "spam":
                    bad = _spam(rng, lang)
                elif defect == "other_lang":
                    bad = _other_language(rng)
                elif defect == "garbled":
                    bad = _garbled(rng)
                else:
                    raise ValueError(f"defect_rates: unknown defect {defect!r} (known: {', '.join(DEFECTS)})")
                defect_id = f"{part}-{counter:07d}"
                writer.write({"id": defect_id, "text": bad, "source": part, "lang": lang})
                labels.append({"id": defect_id, "defect": defect, "source": part, "of": of})

    rng = random.Random(f"{config.seed}-parallel")
    counter = 0
    while writers["parallel"].bytes < budget.get("parallel", 0):
        counter += 1
        text = general_document(rng, "parallel")
        writers["parallel"].write(
            {"id": f"parallel-{counter:07d}", "text": text, "source": "parallel", "lang": "zh"}
        )
        tick(len(text.encode()))

    counter = 0
    for path in train_files:
        if writers["code"].bytes >= budget.get("code", 0):
            break
        for chunk in code_chunks(path.read_text("utf-8", errors="replace")):
            counter += 1
            writers["code"].write(
                {"id": f"code-{counter:07d}", "text": chunk, "source": "code", "lang": "code"}
            )
            tick(len(chunk.encode()))
    for writer in writers.values():
        writer.close()

    # STEM problems: training set, leakage splits, validation.
    rng = random.Random(f"{config.seed}-stem")
    stem_writer = _Writer(out / "stem" / "train.jsonl")
    train_problems: list[str] = []
    seen: set[str] = set()
    counter = 0
    while stem_writer.bytes < budget.get("stem", 0):
        lang = "en" if rng.random() < 0.5 else "zh"
        problem = make_problem(rng, lang)
        if problem.text in seen:
            continue
        seen.add(problem.text)
        counter += 1
        stem_writer.write(
            {"id": f"stem-{counter:07d}", "text": problem.text, "source": f"stem_{lang}", "lang": lang}
        )
        train_problems.append(problem.text)
        tick(len(problem.text.encode()))

    def fresh(rng: random.Random, n: int) -> list[str]:
        texts = []
        while len(texts) < n:
            problem = make_problem(rng, "en" if rng.random() < 0.5 else "zh", lx.NAMES)
            if problem.text not in seen:
                seen.add(problem.text)
                texts.append(problem.text)
        return texts

    n_leak = config.leakage_problems
    leak_rng = random.Random(f"{config.seed}-leakage")
    leak_train = leak_rng.sample(train_problems, min(n_leak, len(train_problems)))
    leak_test = fresh(leak_rng, n_leak)
    # The reference split is drawn exactly like the test split, independently: a model that never saw the test
    # problems finds both equally hard (Δ1 ≈ 0); leak_test_into_train makes Δ1 clearly negative.
    leak_ref = fresh(leak_rng, n_leak)
    if config.leak_test_into_train:
        for text in leak_test:
            counter += 1
            lang = _lang(text)
            stem_writer.write(
                {"id": f"stem-{counter:07d}", "text": text, "source": f"stem_{lang}", "lang": lang}
            )
    stem_writer.close()
    split_files = {}
    for split, texts in (("train", leak_train), ("test", leak_test), ("ref", leak_ref)):
        path = out / "leakage" / f"{split}.jsonl"
        _write_texts(path, texts, f"leak-{split}", f"leakage_{split}")
        split_files[split] = len(texts)

    # Held-out validation sets per domain, from their own random streams and held-out source files.
    valid_rng = random.Random(f"{config.seed}-valid")
    valid = {
        "en": [general_document(valid_rng, "en") for _ in range(config.valid_docs)],
        "zh": [general_document(valid_rng, "zh") for _ in range(config.valid_docs)],
        "code": [c for p in valid_files for c in code_chunks(p.read_text("utf-8", errors="replace"))][
            : config.valid_docs
        ],
        "stem": fresh(valid_rng, config.valid_docs),
    }
    for domain, texts in valid.items():
        lang = "code" if domain == "code" else None
        _write_texts(out / "valid" / f"{domain}.jsonl", texts, f"valid-{domain}", f"valid_{domain}", lang)

    with atomic_path(out / "labels.jsonl") as tmp, tmp.open("w", encoding="utf-8") as handle:
        for row in labels:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    manifest = {
        "config": to_dict(config),
        "files": {
            **{f"train/{k}.jsonl": {"records": w.records, "bytes": w.bytes} for k, w in writers.items()},
            "stem/train.jsonl": {"records": stem_writer.records, "bytes": stem_writer.bytes},
        },
        "valid": {k: len(v) for k, v in valid.items()},
        "leakage": split_files,
        "defects": {d: sum(1 for row in labels if row["defect"] == d) for d in DEFECTS},
    }
    atomic_write_json(out / "manifest.json", manifest)
    return manifest


def _lang(text: str) -> str:
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text[:300]) else "en"


def _write_texts(path: Path, texts: list[str], prefix: str, source: str, lang: str | None = None) -> None:
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        for i, text in enumerate(texts, start=1):
            record = {"id": f"{prefix}-{i:05d}", "text": text, "source": source, "lang": lang or _lang(text)}
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
