"""Compression of a trained tokenizer on held-out JSONL files, as the tokenizer stage's summary records it.

The loaded HF tokenizer (what every later stage uses) encodes whole documents without special tokens; the
recipe report shows characters and UTF-8 bytes per token per domain; ``skywork tokenizer report``
(:mod:`skywork.tokenizer.report`) is the deeper comparison against baselines.
"""

from __future__ import annotations

from pathlib import Path

from skywork.utils.io import read_jsonl


def measure_compression(tokenizer_dir: str | Path, files: dict[str, str], max_docs: int = 200) -> dict:
    """Characters and UTF-8 bytes per token of the loaded HF tokenizer on the first ``max_docs`` documents of each
    JSONL file (``text`` field), whole documents without special tokens: the tokenizer stage's summary."""
    from skywork import tokenizer as tok

    try:
        tokenizer = tok.load(tokenizer_dir)
    except Exception as err:  # noqa: BLE001 - the stage still finishes; the summary says why nothing was measured
        return {"error": f"the tokenizer did not load ({err})"}
    domains = {}
    for domain, path in files.items():
        texts = [row["text"] for row in read_jsonl(path, required=("text",))][:max_docs]
        chars = sum(len(t) for t in texts)
        utf8 = sum(len(t.encode("utf-8")) for t in texts)
        tokens = sum(len(tokenizer.encode(t, add_special_tokens=False, verbose=False)) for t in texts)
        domains[domain] = {
            "file": str(path),
            "documents": len(texts),
            "chars": chars,
            "utf8_bytes": utf8,
            "tokens": tokens,
            "chars_per_token": chars / max(tokens, 1),
            "bytes_per_token": utf8 / max(tokens, 1),
        }
    return {"tokenizer_size": len(tokenizer), "max_docs": max_docs, "domains": domains}
