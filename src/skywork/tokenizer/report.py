"""Compression report of a trained tokenizer against two baselines on held-out text.

For each held-out file (labelled Chinese, English or code): characters per token (higher is better), the share of
tokens that are byte-fallback pieces, and for Chinese the share of CJK characters that have their own piece.
Baselines, built from the tokenizer directory and cached under ``DIR/baselines/``:

- ``plain_bpe``: one SentencePiece BPE of the same total size trained on the same corpus (``train_config.json``)
  with the same settings (byte fallback, split digits, identity normalisation, same reserved tokens);
- ``no_words``: our model without its Chinese-word part (what the words buy);
- ``latin_only``: our Latin/code part alone, the analogue of LLaMA's vocabulary that Skywork extended.

Line ends are not in a LLaMA-style vocabulary (training sentences are lines): ``\n`` and ``\r`` are encoded as
byte pieces by design, so ``byte_fallback_rate`` counts all byte pieces and ``unknown_char_rate`` only those of
other characters (what the vocabulary really misses).
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as sp_pb2

from skywork.tokenizer.corpus import iter_documents, split_long_line
from skywork.utils.io import InputError, atomic_write_bytes, atomic_write_json
from skywork.utils.text import is_cjk_ideograph

CODE_SUFFIXES = (".py", ".js", ".ts", ".c", ".h", ".cc", ".cpp", ".java", ".go", ".rs", ".sh", ".rb")
LABELS = ("chinese", "english", "code")


@dataclass
class HeldOut:
    label: str
    path: Path
    documents: list[str]

    @property
    def chars(self) -> int:
        return sum(len(d) for d in self.documents)


def parse_text_arg(arg: str) -> tuple[str | None, Path]:
    """``chinese=PATH`` / ``english=PATH`` / ``code=PATH``, or a bare PATH labelled from its content."""
    label, sep, rest = arg.partition("=")
    if sep and label in LABELS:
        return label, Path(rest)
    return None, Path(arg)


def load_held_out(args: list[str], text_field: str = "text") -> list[HeldOut]:
    out = []
    for arg in args:
        label, path = parse_text_arg(arg)
        if not path.is_file():
            raise InputError("held-out text file not found", path, field="--text")
        docs = [d for d in iter_documents(path, text_field) if d.strip()]
        if not docs:
            raise InputError("held-out text file is empty", path, field="--text")
        if label is None:
            sample = "".join(docs)[:200_000]
            cjk = sum(is_cjk_ideograph(ch) for ch in sample)
            label = (
                "chinese"
                if cjk > 0.3 * max(1, len(sample.replace(" ", "")))
                else ("code" if path.suffix in CODE_SUFFIXES else "english")
            )
        out.append(HeldOut(label, path, docs))
    return out


def measure(sp: spm.SentencePieceProcessor, held: HeldOut) -> dict:
    """Characters per token, byte-fallback share, and (Chinese) the share of ideographs with their own piece."""
    encoded = sp.encode(held.documents)
    tokens = sum(len(ids) for ids in encoded)
    byte_tokens = sum(sp.is_byte(i) for ids in encoded for i in ids)
    line_end_ids = {sp.piece_to_id("<0x0A>"), sp.piece_to_id("<0x0D>")}
    line_end_tokens = sum(i in line_end_ids for ids in encoded for i in ids)
    result = {
        "chars": held.chars,
        "tokens": tokens,
        "chars_per_token": held.chars / tokens if tokens else 0.0,
        "byte_fallback_rate": byte_tokens / tokens if tokens else 0.0,
        "unknown_char_rate": (byte_tokens - line_end_tokens) / tokens if tokens else 0.0,
    }
    if held.label == "chinese":
        ideographs = [ch for doc in held.documents for ch in doc if is_cjk_ideograph(ch)]
        covered = sum(sp.piece_to_id(ch) != sp.unk_id() for ch in ideographs)
        result["chinese_char_coverage"] = covered / len(ideographs) if ideographs else 0.0
    return result


# ------------------------------------------------------------------------------------------------ baselines
def truncated_model(tokenizer_dir: Path, drop: int) -> bytes:
    """Our model minus its last ``drop`` pieces (the words are last, the characters just before them)."""
    proto = sp_pb2.ModelProto()
    proto.ParseFromString((tokenizer_dir / "tokenizer.model").read_bytes())
    if drop:
        del proto.pieces[len(proto.pieces) - drop :]
    proto.trainer_spec.vocab_size = len(proto.pieces)
    return proto.SerializeToString()


def plain_bpe_model(tokenizer_dir: Path, progress=print) -> tuple[bytes, float]:
    """A plain SentencePiece BPE of the same total size on the same corpus; returns (model, seconds)."""
    from skywork.tokenizer.corpus import expand_inputs, iter_lines
    from skywork.tokenizer.train import TokenizerTrainConfig, train_sentencepiece_bpe
    from skywork.utils.config import from_dict

    config_file = tokenizer_dir / "train_config.json"
    if not config_file.exists():
        raise InputError(
            "no train_config.json: the plain-BPE baseline needs the training corpus", tokenizer_dir
        )
    config = from_dict(TokenizerTrainConfig, json.loads(config_file.read_text()), source=str(config_file))
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "all.txt"
        with corpus.open("w", encoding="utf-8") as out:
            for line in iter_lines(expand_inputs(config.inputs), config.text_field):
                for piece in split_long_line(line, config.max_sentence_length):
                    out.write(piece + "\n")
        progress(f"training the plain BPE baseline ({config.vocab_size:,} pieces)")
        proto = train_sentencepiece_bpe(corpus, config, config.vocab_size)
    return proto.SerializeToString(), time.perf_counter() - start


def _cached(path: Path, build) -> bytes:
    if path.exists():
        return path.read_bytes()
    data = build()
    atomic_write_bytes(path, data)
    return data


# -------------------------------------------------------------------------------------------------- report
def tokenizer_report(
    tokenizer_dir: str | Path, texts: list[str], baselines: bool = True, progress=print
) -> dict:
    """Compare ours with the baselines on the held-out ``texts`` (see :func:`parse_text_arg`)."""
    tokenizer_dir = Path(tokenizer_dir)
    model_file = tokenizer_dir / "tokenizer.model"
    if not model_file.exists():
        raise InputError("no tokenizer.model", tokenizer_dir)
    report_file = tokenizer_dir / "train_report.json"
    train_report = json.loads(report_file.read_text()) if report_file.exists() else {}
    held = load_held_out(texts)

    models = {"ours": model_file.read_bytes()}
    if baselines and train_report:
        cache = tokenizer_dir / "baselines"
        models["plain_bpe"] = _cached(
            cache / "plain_bpe.model", lambda: plain_bpe_model(tokenizer_dir, progress)[0]
        )
        comp = train_report["composition"]
        models["no_words"] = truncated_model(tokenizer_dir, comp["chinese_words"])
        models["latin_only"] = truncated_model(tokenizer_dir, comp["chinese_words"] + comp["chinese_chars"])
    results: dict = {}
    for name, model in models.items():
        sp = spm.SentencePieceProcessor(model_proto=model)
        per_file = {str(h.path): {"label": h.label, **measure(sp, h)} for h in held}
        by_label = {}
        for label in LABELS:
            rows = [r for r in per_file.values() if r["label"] == label]
            if rows:
                chars, tokens = sum(r["chars"] for r in rows), sum(r["tokens"] for r in rows)
                by_label[label] = {"chars_per_token": chars / tokens if tokens else 0.0}
                for rate in ("byte_fallback_rate", "unknown_char_rate"):
                    by_label[label][rate] = (
                        sum(r[rate] * r["tokens"] for r in rows) / tokens if tokens else 0.0
                    )
        results[name] = {"vocab_size": sp.get_piece_size(), "by_label": by_label, "files": per_file}
    ratios = {}
    for baseline in ("plain_bpe", "no_words", "latin_only"):
        if baseline in results:
            ratios[f"ours_vs_{baseline}"] = {
                label: results["ours"]["by_label"][label]["chars_per_token"] / stats["chars_per_token"]
                for label, stats in results[baseline]["by_label"].items()
                if stats["chars_per_token"]
            }
    return {
        "tokenizer": str(tokenizer_dir),
        "composition": train_report.get("composition", {}),
        "sources": {k: train_report[k] for k in ("chinese_chars", "chinese_words") if k in train_report},
        "results": results,
        "chars_per_token_ratios": ratios,
    }


def print_report(report: dict, console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    if report["composition"]:
        comp = Table(title="composition")
        for col in ("part", "entries", "from corpus", "from jieba dictionary"):
            comp.add_column(col, justify="left" if col == "part" else "right")
        for part, size in report["composition"].items():
            src = report["sources"].get(part, {})
            comp.add_row(
                part, f"{size:,}", str(src.get("from_corpus", "")), str(src.get("from_dictionary", ""))
            )
        console.print(comp)
    table = Table(title="characters per token (byte pieces / of them not line ends) on held-out text")
    table.add_column("tokenizer")
    table.add_column("vocab", justify="right")
    labels = [lab for lab in LABELS if lab in report["results"]["ours"]["by_label"]]
    for label in labels:
        table.add_column(label, justify="right")
    for name, res in report["results"].items():
        cells = []
        for label in labels:
            stats = res["by_label"].get(label)
            cells.append(
                f"{stats['chars_per_token']:.3f} ({stats['byte_fallback_rate']:.1%} / {stats['unknown_char_rate']:.2%})"
                if stats
                else ""
            )
        table.add_row(name, f"{res['vocab_size']:,}", *cells)
    console.print(table)
    for path, stats in report["results"]["ours"]["files"].items():
        if "chinese_char_coverage" in stats:
            console.print(
                f"{path}: {stats['chinese_char_coverage']:.2%} of CJK ideographs have their own piece"
            )
    for key, ratios in report["chars_per_token_ratios"].items():
        console.print(f"{key}: " + ", ".join(f"{label} x{ratio:.3f}" for label, ratio in ratios.items()))


def write_report(report: dict, path: str | Path) -> None:
    atomic_write_json(path, report)
