"""The evaluation suite: several models on domain loss, the leakage test, C-Eval / CMMLU / MMLU and GSM8K.

One config (:class:`SuiteConfig`, the keys of a recipe's ``evaluate`` stage and of ``skywork eval run
SUITE.yaml``) names the models and what to run; :func:`run_suite` loads each model once as a
:class:`~skywork.eval.adapter.ModelAdapter`, runs every benchmark on it and writes into the output directory:

- ``summary.json`` (the stage contract, ``skywork.eval/v1``): results keyed by model label, then by domain name,
  benchmark name, ``leakage`` and ``gsm8k`` (documented in docs/evaluation.md), and the plots below;
- ``results.json``: the full result dicts of every evaluator per model (domain losses keyed by file path);
- ``gsm8k-<label>.jsonl``: one line per GSM8K question (completion, prediction, gold);
- ``domain_ppl.png`` (every model's perplexity per domain) and ``leakage-<label>.png`` (Table 8 bars).

This module imports no torch at load time, so reading a recipe or ``--help`` stays fast.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skywork.eval.longtable import LongTableConfig
from skywork.eval.needle import NeedleConfig
from skywork.utils.config import field
from skywork.utils.io import InputError, atomic_write_json

SUMMARY_KIND = "eval"
SUMMARY_VERSION = 1
# the version of summary.json's leakage.paired key set: 2 two-group test, min-k%; 3 groups.tail_df, groups.bimodal
PAIRED_SUMMARY_VERSION = 3


@dataclass
class LeakageFiles:
    """The three STEM splits of the leakage test (report Table 8)."""

    train: str = field(help="Problems the model was trained on (L_train).")
    test: str = field(help="Held-out problems of the same kind (L_test).")
    ref: str = field(help="Reference problems written independently (L_ref).")
    paired: str | None = field(
        None,
        help="The test items rephrased, aligned 1:1 with `test` (JSONL; empty text skips an item): the paired "
        "reference that tells exposure from familiarity.",
    )
    paired_view: str = field(
        "auto",
        help="What both sides share: auto, text, gsm8k (question + final answer) or mcq (question + answer).",
    )
    paired_alpha: float = field(
        0.01,
        help="Significance level of the two-group test: the test split is called exposed when its items' paired "
        "gaps split into an unexposed group and a clearly higher one at this level.",
    )
    item_threshold: float = field(
        3.0,
        help="An item is flagged when its gap is this many sds (of the unexposed group) above the style offset, "
        "or it falls in the exposed group.",
    )
    min_k: float = field(0.2, help="Fraction of least likely tokens behind each item's min-k% prob.")
    top_items: int = field(
        10, help="Items with the largest paired score kept in summary.json and the report."
    )


@dataclass
class MCQBench:
    """One multiple-choice benchmark with the official protocol (report Tables 3-5): C-Eval, CMMLU or MMLU."""

    bench: str = field(help="ceval, cmmlu or mmlu.")
    data_dir: str = field(
        help="Benchmark folder holding the dev/ (few-shot) and val/ (C-Eval) or test/ (CMMLU, MMLU) CSVs."
    )
    shots: int = field(5, help="Few-shot examples from dev/ (the report: 5).")
    subjects: list[str] | None = field(None, help="Only these subjects (None: every CSV of the split).")
    limit: int | None = field(
        None, help="Only the first N questions per subject (quick runs; not the official protocol)."
    )


@dataclass
class GSM8KSection:
    """GSM8K accuracy by greedy generation with the official 8-shot prompt (report Table 3)."""

    data: str = field(help="JSONL with question and answer ('#### N') fields, e.g. GSM8K test.jsonl.")
    shots: int = field(8, help="Few-shot examples taken from the prompt file.")
    prompt_file: str | None = field(None, help="Few-shot prompt (default: the official gsm8k_prompt.txt).")
    max_new_tokens: int = field(256, help="Longest generated solution.")
    limit: int | None = field(None, help="Only the first N questions (quick runs).")


@dataclass
class SuiteConfig:
    """Domain loss / perplexity (report Table 6), the leakage test (Table 8), C-Eval / CMMLU / MMLU and GSM8K."""

    models: dict[str, str] = field(
        help="Label -> model directory (HF layout with tokenizer files), e.g. stage-1, stage-2."
    )
    domains: dict[str, str] = field(
        default_factory=dict, help="Domain name -> JSONL file with a 'text' field (held-out validation sets)."
    )
    leakage: LeakageFiles | None = field(None, help="Train / test / reference splits for the leakage test.")
    mcq: list[MCQBench] = field(
        default_factory=list, help="Multiple-choice benchmarks (C-Eval, CMMLU, MMLU)."
    )
    gsm8k: GSM8KSection | None = field(None, help="GSM8K accuracy by greedy generation.")
    needle: NeedleConfig | None = field(
        None, help="Needle in a haystack (skywork.eval.needle keys): OUT/needle-<label>/ with its heatmap."
    )
    longtable: LongTableConfig | None = field(
        None, help="SynL held-out accuracy (skywork.eval.longtable keys): OUT/longtable-<label>/."
    )
    tokenizer_dir: str | None = field(None, help="Tokenizer directory (default: each model directory).")
    max_chars: int = field(
        1365, help="Each text is cut to its first N characters (the official eval_loss rule)."
    )
    max_docs: int | None = field(None, help="Use at most N documents per file (None: all).")
    batch_size: int = field(8, help="Texts per forward pass.")
    dtype: str = field("fp32", help="Model weights dtype: fp32, bf16 or fp16.")
    device: str = field("auto", help="auto (cuda if available), cpu or cuda.")

    def validate(self) -> None:
        """Fail before any model loads when a benchmark name is wrong (the recipe runner calls this at load)."""
        if not self.mcq:
            return
        from skywork.eval.mcq import BENCHES

        for i, item in enumerate(self.mcq):
            if item.bench not in BENCHES:
                raise InputError(
                    f"unknown benchmark {item.bench!r} (one of: {', '.join(BENCHES)})",
                    field=f"mcq[{i}].bench",
                )

    def input_paths(self) -> list[tuple[str, str]]:
        """(config key, path) of every input the suite reads, for a check before the first model loads."""
        paths = [(f"models.{label}", p) for label, p in self.models.items()]
        paths += [(f"domains.{name}", p) for name, p in self.domains.items()]
        if self.leakage:
            paths += [(f"leakage.{k}", getattr(self.leakage, k)) for k in ("train", "test", "ref")]
            if self.leakage.paired:
                paths.append(("leakage.paired", self.leakage.paired))
        paths += [(f"mcq[{i}].data_dir", b.data_dir) for i, b in enumerate(self.mcq)]
        if self.gsm8k:
            paths.append(("gsm8k.data", self.gsm8k.data))
            if self.gsm8k.prompt_file:
                paths.append(("gsm8k.prompt_file", self.gsm8k.prompt_file))
        if self.longtable:
            paths.append(("longtable.data", self.longtable.data))
        if self.tokenizer_dir:
            paths.append(("tokenizer_dir", self.tokenizer_dir))
        return paths


def check_inputs(config: SuiteConfig, source: str | Path | None = None) -> None:
    """:class:`InputError` naming the first config key whose path does not exist."""
    for key, path in config.input_paths():
        if not Path(path).expanduser().exists():
            raise InputError(f"input not found: {path}", source, field=key)


# ------------------------------------------------------------------------------------------------- running


def _evaluate_model(config: SuiteConfig, adapter, label: str, out_dir: Path, console) -> dict[str, Any]:
    """Every configured evaluator on one loaded model: the ``results.json`` entry of ``label``."""
    from skywork.eval.gsm8k import evaluate_gsm8k
    from skywork.eval.leakage import leakage_test
    from skywork.eval.loss import evaluate_loss
    from skywork.eval.mcq import evaluate_mcq

    model, tokenizer, batch_size = adapter.model, adapter.tokenizer, adapter.batch_size
    entry: dict[str, Any] = {}
    if config.domains:
        entry["domain_loss"] = evaluate_loss(
            model,
            tokenizer,
            list(config.domains.values()),
            max_chars=config.max_chars,
            batch_size=batch_size,
            max_samples=config.max_docs,
        )
    if config.leakage:
        entry["leakage"] = leakage_test(
            model,
            tokenizer,
            config.leakage.train,
            config.leakage.test,
            config.leakage.ref,
            max_chars=config.max_chars,
            batch_size=batch_size,
            max_samples=config.max_docs,
            paired=config.leakage.paired,
            paired_view=config.leakage.paired_view,
            paired_alpha=config.leakage.paired_alpha,
            item_threshold=config.leakage.item_threshold,
            min_k=config.leakage.min_k,
        )
    for bench in config.mcq:
        console.print(f"  {bench.bench} ({bench.shots}-shot)")
        entry.setdefault("mcq", {})[bench.bench] = evaluate_mcq(
            model,
            tokenizer,
            bench.bench,
            bench.data_dir,
            shots=bench.shots,
            subjects=bench.subjects,
            batch_size=batch_size,
            limit=bench.limit,
        )
    if config.gsm8k:
        console.print(f"  gsm8k ({config.gsm8k.shots}-shot, greedy)")
        entry["gsm8k"] = evaluate_gsm8k(
            model,
            tokenizer,
            config.gsm8k.data,
            shots=config.gsm8k.shots,
            prompt_file=config.gsm8k.prompt_file,
            max_new_tokens=config.gsm8k.max_new_tokens,
            batch_size=batch_size,
            limit=config.gsm8k.limit,
            log_path=out_dir / f"gsm8k-{label}.jsonl",
        )
    if config.needle or config.longtable:
        from skywork.longctx.stages import measure_model

        dirs = {name: out_dir / f"{name}-{_file_label(label)}" for name in ("needle", "longtable")}
        entry.update(
            measure_model(model, tokenizer, config.models[label], dirs, config.needle, config.longtable)[0]
        )
    return entry


def run_suite(config: SuiteConfig, out_dir: str | Path, console=None) -> dict:
    """Evaluate every model of ``config``; write results.json, summary.json and the plots into ``out_dir``.

    Returns ``{"results": {label: entry}, "summary": path}`` (``entry`` as in results.json).
    """
    from rich.console import Console

    from skywork.eval.adapter import ModelAdapter
    from skywork.utils.summary import write_summary

    console = console or Console()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for label, model_dir in config.models.items():
        console.print(f"evaluating {label}: {model_dir}")
        adapter = ModelAdapter.load(
            model_dir,
            config.tokenizer_dir,
            dtype=config.dtype,
            device=config.device,
            batch_size=config.batch_size,
        )
        results[label] = {"model_dir": model_dir, **_evaluate_model(config, adapter, label, out_dir, console)}
        del adapter  # free the weights before the next model loads
    atomic_write_json(out_dir / "results.json", results)
    payload = summarize(config, results)
    summary = write_summary(
        out_dir, SUMMARY_KIND, payload, version=SUMMARY_VERSION, plots=draw_plots(payload, out_dir)
    )
    return {"results": results, "summary": str(summary)}


# ------------------------------------------------------------------------------------------------- summary


def _domain_entry(result: dict) -> dict:
    """One domain's loss figures, plus bits per character (summed CE / ln 2 / characters; vocabulary-free)."""
    keys = ("loss", "ppl", "tokens", "documents", "chars", "normalized_loss", "normalized_ppl")
    entry = {k: result[k] for k in keys if k in result}
    tokens, chars = result.get("tokens") or 0, result.get("chars") or 0
    entry["bits_per_char"] = result["loss"] * tokens / math.log(2) / chars if tokens and chars else None
    return entry


def _benchmark_entry(result: dict) -> dict:
    entry = {k: result[k] for k in ("accuracy", "average", "n", "shots", "split") if k in result}
    if "hard" in result:
        entry["hard"] = result["hard"]
    entry["categories"] = {name: c["accuracy"] for name, c in result.get("categories", {}).items()}
    entry["subjects"] = {
        name: {"accuracy": s["accuracy"], "n": s["n"]} for name, s in result["subjects"].items()
    }
    return entry


def _leakage_entry(result: dict, keys: tuple[str, ...], config: SuiteConfig) -> dict:
    """The Table 8 figures, the decision (``decision``, versioned) and, with a paired reference, ``paired``."""
    from skywork.eval.paired import top_items

    entry = {k: result[k] for k in keys}
    if "decision" in result:
        entry["decision"] = result["decision"]
    paired = result.get("paired")
    if paired:
        n = config.leakage.top_items if config.leakage else 10
        entry["paired"] = {
            "version": PAIRED_SUMMARY_VERSION,
            **{k: v for k, v in paired.items() if k != "per_item"},
            "top_items": top_items(paired["per_item"], n),
        }
    return entry


def summarize(config: SuiteConfig, results: dict[str, dict]) -> dict:
    """The ``summary.json`` payload: per model label, results keyed by domain / benchmark name (not by path)."""
    leak_keys = ("L_train", "L_test", "L_ref", "delta1", "delta2", "ci", "verdict", "leak_suspected")
    leak_keys += ("overfit_suspected", "samples", "tokens")
    gsm_keys = ("accuracy", "n", "correct", "no_answer", "shots", "max_new_tokens", "log")
    models: dict[str, dict] = {}
    for label, entry in results.items():
        model: dict[str, Any] = {"model_dir": entry["model_dir"]}
        loss = entry.get("domain_loss")
        if loss:
            files = loss["files"]
            model["domains"] = {
                name: {"file": path, **_domain_entry(files[str(path)])}
                for name, path in config.domains.items()
            }
            model["pooled"] = _domain_entry(loss["pooled"])
        if entry.get("leakage"):
            model["leakage"] = _leakage_entry(entry["leakage"], leak_keys, config)
        if entry.get("mcq"):
            model["benchmarks"] = {name: _benchmark_entry(r) for name, r in entry["mcq"].items()}
        if entry.get("gsm8k"):
            model["gsm8k"] = {k: entry["gsm8k"][k] for k in gsm_keys if k in entry["gsm8k"]}
        model.update({k: entry[k] for k in ("needle", "longtable") if k in entry})
        models[label] = model
    return {"max_chars": config.max_chars, "models": models}


def _file_label(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label)


def draw_plots(payload: dict, out_dir: Path) -> dict[str, Path]:
    """The suite's PNGs from its summary payload: ``{plot name: path}`` for ``write_summary``."""
    from skywork.eval.tables import plot_domain_comparison, plot_leakage

    plots: dict[str, Path] = {}
    models = payload["models"]
    ppl = {
        label: {**{d: r["ppl"] for d, r in m["domains"].items()}, "Avg": m["pooled"]["ppl"]}
        for label, m in models.items()
        if m.get("domains")
    }
    if ppl:
        plots["domain_ppl"] = plot_domain_comparison(ppl, out_dir / "domain_ppl.png")
    for label, m in models.items():
        if m.get("leakage"):
            name = f"leakage-{_file_label(label)}"
            plots[name] = plot_leakage(m["leakage"], out_dir / f"{name}.png")
        if m.get("needle"):  # drawn by the needle evaluator; listed so the report finds it
            name = f"needle-{_file_label(label)}"
            plots[name] = out_dir / name / "needle_heatmap.png"
    return plots
