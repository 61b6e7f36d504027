"""Stage adapters: each stage kind of a recipe calls one capability's public function.

The runner owns ordering, validation, resume and logs; the capabilities own the work (data cleaning in
``skywork.data``, tokenizer training in ``skywork.tokenizer.train``, pretraining in ``skywork.train``, evaluators
in ``skywork.eval``). An adapter only maps the recipe's directories onto the capability's arguments and returns a
small JSON-able result for the report. A capability that is not installed makes its stage kind *unavailable*:
the recipe still validates the other stages and runs everything before it.
"""

from __future__ import annotations

import importlib
import json
import os
from dataclasses import dataclass
from typing import Any

from skywork.recipe.corpus import DemoCorpusConfig, generate_corpus
from skywork.recipe.runner import StageContext, StageUnavailable
from skywork.utils.config import field
from skywork.utils.io import InputError, atomic_write_json
from skywork.utils.optional import MissingExtra, require

_EXTRAS = {"skywork.data": "data"}  # capability package -> the pip extra its dependencies come with


def capability(module: str, name: str) -> Any:
    """``module.name``, or :class:`StageUnavailable` naming the missing module and the extra that brings it.

    A stage kind whose capability cannot be imported is *unavailable*: the recipe still validates and runs the
    stages before it (see :mod:`skywork.recipe.runner`).
    """
    extra = next((e for prefix, e in _EXTRAS.items() if module.startswith(prefix + ".")), None)
    try:  # a core module that fails to import is a broken installation: its ImportError says so as it is
        mod = require(module, extra, f"{module}.{name}") if extra else importlib.import_module(module)
    except MissingExtra as err:
        raise StageUnavailable(str(err)) from None
    if not hasattr(mod, name):
        raise StageUnavailable(f"{module} has no {name} (this installation is older than the recipe)")
    return getattr(mod, name)


# --------------------------------------------------------------------------------------------- corpus


def _run_corpus(config: DemoCorpusConfig, ctx: StageContext) -> dict:
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=ctx.console,
        transient=True,
    ) as bar:
        task = bar.add_task("generating demo corpus", total=int(config.size_mb * 1e6))
        manifest = generate_corpus(
            config, ctx.stage_dir, progress=lambda done, total: bar.update(task, completed=done)
        )
    ctx.log.info("corpus files: %s", json.dumps(manifest["files"]))
    return {"files": manifest["files"], "defects": manifest["defects"], "valid": manifest["valid"]}


# -------------------------------------------------------------------------------------------- collect


def _run_collect(config: Any, ctx: StageContext) -> dict:
    from skywork.recipe.collect import collect

    summary = collect(config, ctx.stage_dir)
    for name, entry in summary.items():
        ctx.console.print(f"{name}: {entry['documents']:,} documents, {entry['chars']:,} characters")
    return {"sources": summary}


def _collect_config() -> type:
    from skywork.recipe.collect import CollectConfig

    return CollectConfig


# ----------------------------------------------------------------------------------------------- data


def _data_config():
    return capability("skywork.data.pipeline", "PipelineConfig")


def _run_data(config: Any, ctx: StageContext) -> dict:
    run_pipeline = capability("skywork.data.pipeline", "run_pipeline")
    workers = min(2, os.cpu_count() or 1)
    summary = run_pipeline(config, executor="local", workers=workers)
    return {"summary": summary}


# ------------------------------------------------------------------------------------------ tokenizer


def _tokenizer_config():
    return capability("skywork.tokenizer.train", "TokenizerTrainConfig")


def _run_tokenizer(config: Any, ctx: StageContext) -> dict:
    train_tokenizer = capability("skywork.tokenizer.train", "train_tokenizer")
    report = train_tokenizer(config, ctx.stage_dir)
    return {"report": report}


# ------------------------------------------------------------------------------------------- tokenize


@dataclass
class TokenizeConfig:
    """Token streams for pretraining: one packed stream per source (``skywork data tokenize``)."""

    tokenizer: str = field(help="Tokenizer directory (the tokenizer stage: ${tokenizer}).")
    sources: dict[str, list[str]] = field(
        help="Stream name -> JSONL files, directories (a data stage's kept/) or globs; each becomes RUN_DIR/<stage>/<name>/."
    )
    text_field: str = field("text", help="JSON field holding the document text.")
    min_tokens: int = field(1, help="Drop (and count) documents with fewer tokens than this.")


def _tokenize_config() -> type:
    capability("skywork.train.shards", "tokenize_to_shards")  # unavailable until the pretraining engine lands
    return TokenizeConfig


def _run_tokenize(config: TokenizeConfig, ctx: StageContext) -> dict:
    tokenize_to_shards = capability("skywork.train.shards", "tokenize_to_shards")
    summary = tokenize_to_shards(
        dict(config.sources),
        config.tokenizer,
        ctx.stage_dir,
        text_field=config.text_field,
        min_tokens=config.min_tokens,
        progress=True,
    )
    return {"summary": summary}


# ------------------------------------------------------------------------------------------- pretrain


def _pretrain_config():
    return capability("skywork.train.config", "PretrainConfig")


def _run_pretrain(config: Any, ctx: StageContext) -> dict:
    run_pretraining = capability("skywork.train.pretrain", "run_pretraining")
    summary = run_pretraining(config, resume="auto")
    return {"summary": summary}


# ------------------------------------------------------------------------------------------- evaluate


@dataclass
class LeakageFiles:
    """The three STEM splits of the leakage test (report Table 8)."""

    train: str = field(help="Problems the model was trained on (L_train).")
    test: str = field(help="Held-out problems of the same kind (L_test).")
    ref: str = field(help="Reference problems written independently (L_ref).")


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
class EvaluateConfig:
    """Domain loss / perplexity (report Table 6) and the leakage test (Table 8) for one or more models."""

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
    tokenizer_dir: str | None = field(None, help="Tokenizer directory (default: each model directory).")
    max_chars: int = field(
        1365, help="Each text is cut to its first N characters (the official eval_loss rule)."
    )
    max_docs: int | None = field(None, help="Use at most N documents per file (None: all).")
    batch_size: int = field(8, help="Texts per forward pass.")
    dtype: str = field("fp32", help="Model weights dtype: fp32, bf16 or fp16.")
    device: str = field("auto", help="auto (cuda if available), cpu or cuda.")

    def validate(self) -> None:
        """Fail before any model loads when a benchmark name is wrong (the runner calls this at load)."""
        benches = capability("skywork.eval.mcq", "BENCHES") if self.mcq else ()
        for i, item in enumerate(self.mcq):
            if item.bench not in benches:
                raise InputError(
                    f"unknown benchmark {item.bench!r} (one of: {', '.join(benches)})",
                    field=f"mcq[{i}].bench",
                )


def _evaluate_config() -> type:
    capability("skywork.eval.loss", "evaluate_loss")  # unavailable until the evaluation suite is installed
    return EvaluateConfig


def _run_evaluate(config: EvaluateConfig, ctx: StageContext) -> dict:
    from skywork import tokenizer as tok
    from skywork.model import load_model

    evaluate_loss = capability("skywork.eval.loss", "evaluate_loss")
    leakage_test = capability("skywork.eval.leakage", "leakage_test") if config.leakage else None
    evaluate_mcq = capability("skywork.eval.mcq", "evaluate_mcq") if config.mcq else None
    evaluate_gsm8k = capability("skywork.eval.gsm8k", "evaluate_gsm8k") if config.gsm8k else None

    import torch

    device = config.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    results: dict[str, Any] = {}
    for label, model_dir in config.models.items():
        ctx.console.print(f"evaluating {label}: {model_dir}")
        model = load_model(model_dir, dtype=config.dtype, device=device)
        tokenizer = tok.load(config.tokenizer_dir or model_dir)
        entry: dict[str, Any] = {"model_dir": model_dir}
        if config.domains:
            entry["domain_loss"] = evaluate_loss(
                model,
                tokenizer,
                list(config.domains.values()),
                max_chars=config.max_chars,
                batch_size=config.batch_size,
                max_samples=config.max_docs,
            )
        if config.leakage and leakage_test:
            entry["leakage"] = leakage_test(
                model,
                tokenizer,
                config.leakage.train,
                config.leakage.test,
                config.leakage.ref,
                max_chars=config.max_chars,
                batch_size=config.batch_size,
                max_samples=config.max_docs,
            )
        for bench in config.mcq:
            ctx.console.print(f"  {bench.bench} ({bench.shots}-shot)")
            entry.setdefault("mcq", {})[bench.bench] = evaluate_mcq(
                model,
                tokenizer,
                bench.bench,
                bench.data_dir,
                shots=bench.shots,
                subjects=bench.subjects,
                batch_size=config.batch_size,
                limit=bench.limit,
            )
        if config.gsm8k:
            ctx.console.print(f"  gsm8k ({config.gsm8k.shots}-shot, greedy)")
            entry["gsm8k"] = evaluate_gsm8k(
                model,
                tokenizer,
                config.gsm8k.data,
                shots=config.gsm8k.shots,
                prompt_file=config.gsm8k.prompt_file,
                max_new_tokens=config.gsm8k.max_new_tokens,
                batch_size=config.batch_size,
                limit=config.gsm8k.limit,
                log_path=ctx.stage_dir / f"gsm8k-{label}.jsonl",
            )
        results[label] = entry
        del model
    atomic_write_json(ctx.stage_dir / "results.json", results)
    return {"results": results}
