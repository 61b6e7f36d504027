"""Shared output format for benchmarks: a human table, a JSON file, and one RESULT line per figure."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

RESULTS_DIR = Path(__file__).parent / "results"


def result_line(name: str, ours: float, peer: float, goal: str) -> str:
    """``RESULT <name> ours=<v> peer=<v> ratio=<ours/peer> goal=<target>`` (the line CI logs and notes quote)."""
    ratio = ours / peer if peer else float("inf")
    return f"RESULT {name} ours={ours:.4g} peer={peer:.4g} ratio={ratio:.3f} goal={goal}"


def report(bench: str, results: list[dict]) -> None:
    """Print RESULT lines and write ``bench/results/<bench>.json``.

    Each result: ``{"name", "ours", "peer", "goal", "unit"?, "peer_name"?}``.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {
        "bench": bench,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": platform.platform(),
        "results": results,
    }
    (RESULTS_DIR / f"{bench}.json").write_text(json.dumps(payload, indent=2))
    for r in results:
        print(result_line(r["name"], r["ours"], r["peer"], r["goal"]))


def tiny_model_dir(root: Path, layers: int = 2) -> Path:
    """A random model of skywork-small widths (``layers`` layers) with a 1,000-piece tokenizer, as a model directory."""
    from skywork.testing import build_tiny_model, build_tiny_tokenizer, write_tiny_model_dir
    from skywork.tokenizer import load

    tokenizer_dir = build_tiny_tokenizer(root / "tok", vocab_size=1000)
    model = build_tiny_model(len(load(tokenizer_dir)), preset="skywork-small", num_hidden_layers=layers)
    return write_tiny_model_dir(root / "model", model, tokenizer_dir)
