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
from pathlib import Path
from typing import Any

from skywork.data.synth.demo_corpus import DemoCorpusConfig, generate_corpus
from skywork.recipe.runner import StageContext, StageUnavailable
from skywork.utils.config import field
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
    """The generator writes its files, manifest.json and summary.json (kind corpus) into the stage directory."""
    from skywork.utils.progress import progress

    total = int(config.size_mb * 1e6)
    with progress("generating demo corpus", total, unit="bytes", console=ctx.console) as bar:
        manifest = generate_corpus(config, ctx.stage_dir, progress=lambda done, _: bar.update(completed=done))
    ctx.log.info("corpus files: %s", json.dumps(manifest["files"]))
    return {
        "training_text": manifest["training_text"],
        "defects": manifest["defects"],
        "valid": manifest["valid"],
    }


# -------------------------------------------------------------------------------------------- collect


def _run_collect(config: Any, ctx: StageContext) -> dict:
    """One JSONL per source and summary.json (kind collect) in the stage directory."""
    from skywork.data.collect import collect

    sources = collect(config, ctx.stage_dir)
    for name, entry in sources.items():
        ctx.console.print(f"{name}: {entry['documents']:,} documents, {entry['chars']:,} characters")
    return {"sources": sources}


def _collect_config() -> type:
    from skywork.data.collect import CollectConfig

    return CollectConfig


# ----------------------------------------------------------------------------------------------- data


def _data_config():
    return capability("skywork.data.pipeline", "PipelineConfig")


def _defect_labels(ctx: StageContext) -> str | None:
    """The planted-defect labels a report stage of this recipe names, when they exist already (the data stage
    measures their catch rate for its summary)."""
    for stage in ctx.recipe.stages:
        labels = stage.raw.get("defect_labels") if stage.kind == "report" else None
        if labels and Path(labels).exists():
            return str(labels)
    return None


def _run_data(config: Any, ctx: StageContext) -> dict:
    """The pipeline writes kept/, excluded/, summary.json (kind data) and its plots into the stage directory."""
    run_pipeline = capability("skywork.data.pipeline", "run_pipeline")
    workers = min(2, os.cpu_count() or 1)
    summary = run_pipeline(config, executor="local", workers=workers, defect_labels=_defect_labels(ctx))
    return {"summary": summary}


# ------------------------------------------------------------------------------------------ tokenizer


def _tokenizer_config():
    return capability("skywork.tokenizer.train", "TokenizerTrainConfig")


def _compression_files(ctx: StageContext) -> dict[str, str]:
    """Held-out files to measure the tokenizer's compression on: the domains of the recipe's first evaluate
    stage, else the demo corpus's validation sets; files that do not exist yet are left out (and logged)."""
    evaluate = next((s for s in ctx.recipe.stages if s.kind == "evaluate"), None)
    files = dict((evaluate.raw.get("domains") if evaluate else None) or {})
    corpus = next((s for s in ctx.recipe.stages if s.kind == "demo_corpus"), None)
    if not files and corpus:
        valid = ctx.stage_dir_of(corpus.name) / "valid"
        files = {p.stem: str(p) for p in sorted(valid.glob("*.jsonl"))}
    missing = [name for name, path in files.items() if not Path(path).is_file()]
    if missing:
        ctx.log.info(
            "compression not measured on %s: not written before the tokenizer stage", ", ".join(missing)
        )
    return {name: str(path) for name, path in files.items() if name not in missing}


def _run_tokenizer(config: Any, ctx: StageContext) -> dict:
    """The trainer writes the tokenizer and summary.json (kind tokenizer, with its compression) into the stage
    directory."""
    train_tokenizer = capability("skywork.tokenizer.train", "train_tokenizer")
    report = train_tokenizer(config, ctx.stage_dir, compression_files=_compression_files(ctx))
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


def _evaluate_config() -> type:
    return capability("skywork.eval.suite", "SuiteConfig")


def _run_evaluate(config: Any, ctx: StageContext) -> dict:
    run_suite = capability("skywork.eval.suite", "run_suite")
    return run_suite(config, ctx.stage_dir, console=ctx.console)
