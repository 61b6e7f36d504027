"""int8 against bf16 on the same model: weight memory, measured peak memory, domain loss, MCQ accuracy.

Each variant runs in its own forked process (``skywork.serve.int8_table``): bf16, our int8 weight-only
(``skywork quantize``'s checkpoint, reloaded), and torchao's ``Int8WeightOnlyConfig`` when torchao imports. Domain
loss is the official protocol on the same documents; MCQ accuracy is C-Eval (val) on a few subjects when the
shared data is present. The 13B preset is computed on the meta device beside the official README's numbers.

The model: ``--model DIR`` (the demo's ``runs/demo/pretrain_stage2/final``: trained weights make the loss
comparison meaningful), else skywork-small widths with random weights (says so). Goals (issue 16): int8 weight
memory at most 0.55x bf16; domain loss within 1% of bf16.

    python bench/int8.py [--model DIR] [--data en.jsonl,zh.jsonl,...] [--max-docs 40] [--mcq-subjects 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).parent))
from _common import report, tiny_model_dir  # noqa: E402
from skywork.model.quantize import quantize_checkpoint  # noqa: E402
from skywork.serve.int8_table import MCQSpec, compare, markdown_table, torchao_available  # noqa: E402
from skywork.utils.paths import shared_data_dir  # noqa: E402


def default_texts(root: Path) -> list[Path]:
    """The demo's validation sets when a demo run is next to the repo, else a few stdlib-derived texts."""
    found = sorted(Path("runs/demo/corpus/valid").glob("*.jsonl"))
    if found:
        return found
    import json

    from skywork.testing import stdlib_text

    path = root / "stdlib.jsonl"
    chunks = stdlib_text(max_files=10).split("\n\n")
    path.write_text("".join(json.dumps({"text": c}) + "\n" for c in chunks if len(c) > 200))
    return [path]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="model directory (default: random skywork-small widths)")
    parser.add_argument("--data", help="comma-separated JSONL files (default: the demo's validation sets)")
    parser.add_argument("--max-docs", type=int, default=40, help="documents per file")
    parser.add_argument("--mcq-subjects", type=int, default=3, help="C-Eval subjects (0: no MCQ)")
    parser.add_argument("--mcq-limit", type=int, default=20, help="questions per subject")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-int8-"))
    model = args.model or tiny_model_dir(work, layers=2)
    if args.model is None:
        print("model: skywork-small widths, 2 layers, RANDOM weights (pass --model for a trained one)")
    files = [Path(f) for f in args.data.split(",")] if args.data else default_texts(work)
    mcq = None
    shared = shared_data_dir()
    ceval = shared / "hiyouga+LLaMA-Factory" / "evaluation" / "ceval" if shared else None
    if args.mcq_subjects and ceval is not None and (ceval / "val").is_dir():
        subjects = sorted(p.name.removesuffix("_val.csv") for p in (ceval / "val").glob("*_val.csv"))
        mcq = MCQSpec("ceval", ceval, subjects[: args.mcq_subjects], limit=args.mcq_limit)
    variants = ("bf16", "int8") + (("torchao-int8",) if torchao_available() else ())
    print(f"model {model}; {len(files)} files x {args.max_docs} docs; variants {', '.join(variants)}")
    int8_dir = quantize_checkpoint(model, work / "int8")
    result = compare(model, files, args.max_docs, variants=variants, mcq=mcq, int8_dir=int8_dir)
    print(markdown_table(result))
    rows = {row["variant"]: row for row in result["rows"]}
    bf16, int8 = rows["bf16"], rows["int8"]
    meta = result["meta_rows"][0]
    results = [
        {"name": "int8_weight_memory", "ours": meta["int8_gib"], "peer": meta["bf16_gib"], "goal": "<=0.55x",
         "unit": "GiB", "model": meta["model"]},
        {"name": "int8_weight_memory_measured", "ours": int8["weight_bytes"] / 2**20,
         "peer": bf16["weight_bytes"] / 2**20, "goal": "info", "unit": "MiB", "model": str(model)},
        {"name": "int8_peak_memory_loading", "ours": int8["load_peak_rss_bytes"] / 2**20,
         "peer": bf16["load_peak_rss_bytes"] / 2**20, "goal": "info", "unit": "MiB"},
        {"name": "int8_peak_memory", "ours": int8["peak_rss_bytes"] / 2**20,
         "peer": bf16["peak_rss_bytes"] / 2**20, "goal": "info", "unit": "MiB"},
        {"name": "int8_domain_loss", "ours": int8["domain_loss"], "peer": bf16["domain_loss"],
         "goal": "<=1.01x", "unit": "nats/token"},
    ]  # fmt: skip
    if "torchao-int8" in rows:
        results.append(
            {"name": "int8_domain_loss_torchao", "ours": rows["torchao-int8"]["domain_loss"],
             "peer": bf16["domain_loss"], "goal": "<=1.01x", "unit": "nats/token"}
        )  # fmt: skip
    if mcq is not None:
        results.append(
            {"name": "int8_mcq_accuracy", "ours": int8["mcq_accuracy"], "peer": bf16["mcq_accuracy"],
             "goal": "info", "n": int8["mcq_n"], "bench": "ceval"}
        )  # fmt: skip
    report("int8", results)


if __name__ == "__main__":
    main()
