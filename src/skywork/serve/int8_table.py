"""The int8 table: weight memory, measured peak memory and quality, bf16 against int8, on the same model.

Each variant (bf16, our int8, and torchao's int8 weight-only when it is installed) is loaded and evaluated in its
own child process, so its peak resident memory is its own: the child reads its resident set before loading
(``VmRSS``) and its high-water mark after the evaluation (``VmHWM``), and the difference is what loading the
weights plus evaluating cost. Quality is the official domain loss (:func:`skywork.eval.loss.evaluate_loss`) on
the same documents, and optionally C-Eval / CMMLU / MMLU accuracy on the same questions
(:func:`skywork.eval.mcq.evaluate_mcq`). The 13B rows are computed on the meta device
(:func:`skywork.model.quantize.memory_table`) beside the official README's 25.91 GB / 13.57 GB.

Used by ``bench/int8.py`` and by the recipe's ``quantize`` stage (``skywork.serve.stages``).
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

VARIANTS = ("bf16", "int8", "torchao-int8")


@dataclass
class MCQSpec:
    """Which MCQ questions to score: ``bench`` (ceval, cmmlu, mmlu) in ``data_dir``, a few subjects, ``limit`` each."""

    bench: str
    data_dir: Path
    subjects: list[str]
    limit: int = 20
    shots: int = 5


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakMemory:
    """The peak resident memory added since :meth:`start` (Linux: ``VmHWM`` reset through ``clear_refs``)."""

    def __init__(self) -> None:
        self.before: int | None = None

    def start(self) -> None:
        try:
            Path("/proc/self/clear_refs").write_text("5")  # VmHWM := the current resident set
        except OSError:
            return
        self.before = _status_kib("VmRSS")

    def added_bytes(self) -> int | None:
        peak = _status_kib("VmHWM")
        return (peak - self.before) * 1024 if self.before is not None and peak is not None else None


# What the measuring processes import before any of them starts (their imports are not model memory).
PRELOAD = [
    "skywork.serve.int8_table",
    "skywork.eval.loss",
    "skywork.eval.mcq",
    "skywork.model.loading",
    "skywork.model.quantize",
    "skywork.tokenizer",
    "transformers.models.llama.modeling_llama",
]


def _in_child(work: Callable[..., dict], args: tuple, conn) -> None:
    try:
        conn.send(("ok", work(*args)))
    except BaseException:  # noqa: BLE001 - everything goes back to the parent
        conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def measured(work: Callable[..., dict], *args, preload: list[str] | None = None) -> dict:
    """``work(*args)`` in a fresh child process (its own memory high-water mark); where that is impossible, here.

    The child comes from a fork server (Linux): a clean single-threaded process that imported :data:`PRELOAD`
    once, so a child starts in milliseconds. Plain ``fork`` of the caller is not safe: a parent whose OpenMP or
    tokenizer threads already run (the recipe runner with 2 threads) leaves a child waiting on a lock forever.
    ``work`` must be a module-level function and ``args`` picklable.
    """
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return work(*args)
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD + list(preload or ()))  # only before the fork server's first start
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_in_child, args=(work, args, child))
    process.start()
    child.close()
    try:
        status, payload = parent.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"the measuring process died (exit status {process.exitcode})") from None
    process.join()
    if status != "ok":
        raise RuntimeError(f"the measured variant failed:\n{payload}")
    return payload


def load_variant(model_dir: Path, variant: str, int8_dir: Path | None = None) -> torch.nn.Module:
    """The model of one variant: bf16, our int8 (``int8_dir`` from ``skywork quantize``, else online), torchao."""
    from skywork.model import load_model
    from skywork.model.quantize import load_quantized, quantize_model

    if variant == "int8" and int8_dir is not None:
        return load_quantized(int8_dir)
    model = load_model(model_dir, dtype=torch.bfloat16)
    if variant == "int8":
        return quantize_model(model)
    if variant == "torchao-int8":
        from torchao.quantization import Int8WeightOnlyConfig, quantize_

        quantize_(model, Int8WeightOnlyConfig(), filter_fn=_not_head)
    return model.eval()


def _not_head(module: torch.nn.Module, name: str) -> bool:
    return isinstance(module, torch.nn.Linear) and name.split(".")[-1] != "lm_head"


def torchao_available() -> bool:
    try:
        from torchao.quantization import Int8WeightOnlyConfig, quantize_  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "not here"
        return False
    return True


def evaluate_variant(
    model_dir: Path,
    variant: str,
    files: list[Path],
    max_docs: int | None,
    batch_size: int,
    mcq: MCQSpec | None = None,
    int8_dir: Path | None = None,
) -> dict:
    """Load one variant, then domain loss (and MCQ accuracy) on the given data; in the calling process.

    ``load_peak_rss_bytes`` / ``peak_rss_bytes``: the peak resident memory added from just before loading the
    weights to the end of loading / of the evaluation (imports and the tokenizer come before; run it in a fresh child, :func:`measured`, so memory freed
    by an earlier variant cannot be reused unseen).
    """
    from skywork.eval.loss import evaluate_loss
    from skywork.model.quantize import weight_bytes
    from skywork.tokenizer import load as load_tokenizer

    cpu_start = time.process_time()
    tokenizer = load_tokenizer(model_dir, chat=False)
    peak = PeakMemory()
    peak.start()
    start = time.perf_counter()
    model = load_variant(model_dir, variant, int8_dir)
    load_s = time.perf_counter() - start
    load_peak = peak.added_bytes()
    with torch.inference_mode():
        loss = evaluate_loss(model, tokenizer, files, batch_size=batch_size, max_samples=max_docs)
        row = {
            "variant": variant,
            # torchao's tensor subclasses do not report their int8 storage as numel * element_size
            "weight_bytes": weight_bytes(model) if variant != "torchao-int8" else None,
            "load_s": load_s,
            "loss_s": loss["seconds"],
            "domain_loss": loss["pooled"]["loss"],
            "domain_tokens": loss["pooled"]["tokens"],
            "domains": {Path(p).stem: r["loss"] for p, r in loss["files"].items()},
        }
        if mcq is not None:
            from skywork.eval.mcq import evaluate_mcq

            res = evaluate_mcq(
                model, tokenizer, mcq.bench, mcq.data_dir, mcq.shots, mcq.subjects, limit=mcq.limit
            )
            row |= {"mcq_bench": mcq.bench, "mcq_accuracy": res["accuracy"], "mcq_n": res["n"]}
    row |= {"load_peak_rss_bytes": load_peak, "peak_rss_bytes": peak.added_bytes()}
    row["cpu_s"] = time.process_time() - cpu_start  # all threads of this process: the cost on idle cores
    return row


def compare(
    model_dir: str | Path,
    files: list[str | Path],
    max_docs: int | None = 20,
    batch_size: int = 8,
    variants: tuple[str, ...] = ("bf16", "int8"),
    mcq: MCQSpec | None = None,
    int8_dir: str | Path | None = None,
) -> dict:
    """The int8 table of one model: a row per variant (each measured in its own process) and the 13B rows.

    Returns ``{"rows": [...], "int8_vs_bf16": {"weight_ratio", "peak_ratio", "loss_change"}, "meta_rows":
    [...], "max_docs", "files"}``; ``loss_change`` is (int8 - bf16) / bf16 of the pooled domain loss.
    """
    from skywork.model.quantize import memory_table

    model_dir, paths = Path(model_dir), [Path(f) for f in files]
    int8_path = Path(int8_dir) if int8_dir is not None else None
    rows = []
    for variant in variants:
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}; known: {', '.join(VARIANTS)}")
        rows.append(
            measured(
                evaluate_variant,
                model_dir,
                variant,
                paths,
                max_docs,
                batch_size,
                mcq,
                int8_path,
                preload=["torchao.quantization"] if "torchao-int8" in variants else None,
            )  # fmt: skip
        )
    by_name = {row["variant"]: row for row in rows}
    summary: dict = {}
    if "bf16" in by_name and "int8" in by_name:
        bf16, int8 = by_name["bf16"], by_name["int8"]
        summary = {
            "weight_ratio": int8["weight_bytes"] / bf16["weight_bytes"],
            "load_peak_ratio": _ratio(int8.get("load_peak_rss_bytes"), bf16.get("load_peak_rss_bytes")),
            "peak_ratio": _ratio(int8.get("peak_rss_bytes"), bf16.get("peak_rss_bytes")),
            "loss_change": (int8["domain_loss"] - bf16["domain_loss"]) / bf16["domain_loss"],
        }
        if "mcq_accuracy" in bf16:
            summary["mcq_change"] = int8["mcq_accuracy"] - bf16["mcq_accuracy"]
    return {
        "model": str(model_dir),
        "files": [str(p) for p in paths],
        "max_docs": max_docs,
        "threads": torch.get_num_threads(),
        "process_note": "each row measured in its own process (forkserver child)",
        "rows": rows,
        "int8_vs_bf16": summary,
        "meta_rows": memory_table(),
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _mib(value: int | None) -> str:
    return f"{value / 2**20:.1f}" if value is not None else "–"


def markdown_table(result: dict) -> str:
    """The table of :func:`compare` as Markdown (docs, bench output)."""
    lines = [
        "| variant | weights MiB | peak RSS loading MiB | peak RSS loading + eval MiB | domain loss | vs bf16 "
        "| MCQ accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = {row["variant"]: row for row in result["rows"]}
    base = rows.get("bf16")
    for row in result["rows"]:
        change = (
            f"{100 * (row['domain_loss'] - base['domain_loss']) / base['domain_loss']:+.2f}%" if base else "–"
        )
        weights = f"{row['weight_bytes'] / 2**20:.1f}" if row.get("weight_bytes") else "–"
        load_peak, peak = (_mib(row.get(key)) for key in ("load_peak_rss_bytes", "peak_rss_bytes"))
        acc = f"{100 * row['mcq_accuracy']:.1f}% (n={row['mcq_n']})" if "mcq_accuracy" in row else "–"
        cells = [row["variant"], weights, load_peak, peak, f"{row['domain_loss']:.4f}", change, acc]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "| model (meta device) | bf16 GiB | int8 GiB | ratio |", "|---|---|---|---|"]
    for row in result["meta_rows"]:
        lines.append(
            f"| {row['model']} | {row['bf16_gib']:.2f} | {row['int8_gib']:.2f} | {row['ratio']:.3f} |"
        )
    return "\n".join(lines)
