"""The long-context recipe stages (registered in ``skywork.recipe.kinds``): extend, cip, synl, longctx_eval.

LongSkywork's four stages map onto the recipe as (docs/longctx.md, "Stages"):

1. pretraining: the ``pretrain`` kind at the short length L;
2. long-context continued pretraining: ``longctx_extend`` (RoPE scaling of ``final/``), ``cip`` (interleaved
   samples + natural long documents as a token stream), then the ``pretrain`` kind with ``model.init_from`` =
   the extended model, ``data.sources`` = the CIP stream and a long-document stream (their weights are the
   share), ``data.seq_len`` = the long length and ``activation_checkpointing: true`` (the one loop, its mixture
   batch source);
3. standard SFT: the ``sft`` kind;
4. long-context SFT: ``synl`` writes the tables, then the ``sft`` kind with ``data.files`` = SynL train.jsonl and
   some standard SFT data, ``data.seq_len`` / ``max_seq_len`` = the long length, ~200 steps at full scale.

``longctx_eval`` measures one or more models with the needle grid, SynL held-out accuracy and loss by position,
each written by its own evaluator into ``OUT/<label>/{needle,longtable,position_loss}/``; its ``summary.json``
(kind ``longctx_eval``) gathers them for the report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from skywork.data.synth.long_tables import LongTables, LongTablesConfig
from skywork.eval.longtable import LongTableConfig
from skywork.eval.needle import NeedleConfig
from skywork.eval.position_loss import PositionLossConfig
from skywork.longctx.cip import CIPConfig
from skywork.utils.config import field
from skywork.utils.summary import write_summary


@dataclass
class ExtendStageConfig:
    """``longctx_extend``: RoPE scaling of a model directory (``skywork longctx extend``) into STAGE/model."""

    model: str = field(help="Model directory trained at the short length (e.g. ${pretrain_stage2}/final).")
    original_length: int = field(help="The length the model was trained at (its data.seq_len).")
    factor: float = field(4.0, help="New context length / trained length.")
    method: str = field(
        "ntk", help="linear, dynamic, ntk (NTK-aware base change; LongSkywork), yarn or llama3."
    )


@dataclass
class CIPStageConfig:
    """``cip``: chunk-interleaved samples of a token stream, written as the stream STAGE/<source>."""

    stream: str = field(help="Input token stream of short documents (a `tokenize` stage's source dir).")
    tokenizer: str | None = field(None, help="Tokenizer directory (default: the stream's own).")
    source: str = field("cip", help="Name of the output stream (STAGE/<source>).")
    cip: CIPConfig = field(default_factory=CIPConfig, help="Interleaving keys (docs/longctx.md, CIPConfig).")


@dataclass
class SynLStageConfig(LongTablesConfig):
    """``synl``: the SynL tables (train.jsonl, heldout.jsonl), plus bundled standard SFT rows to mix in."""

    standard_rows: int = field(
        0,
        help="Also write this many rows of the bundled instruction set (skywork.data.synth.instructions) to "
        "STAGE/standard/train.jsonl: standard SFT data for the long-SFT mix when the recipe has none; list "
        "your own standard SFT files in the sft stage's data.files instead.",
    )


@dataclass
class LongEvalConfig:
    """``longctx_eval``: needle grid, SynL accuracy and loss by position for each model."""

    models: dict[str, str] = field(help="Label -> model directory, e.g. {before: ..., after: ...}.")
    needle: NeedleConfig | None = field(None, help="Needle-in-a-haystack grid (null: skip).")
    longtable: LongTableConfig | None = field(None, help="SynL held-out accuracy (null: skip).")
    position_loss: PositionLossConfig | None = field(None, help="Loss by position over long documents.")
    tokenizer: str | None = field(None, help="Tokenizer directory (default: each model directory).")
    dtype: str = field("fp32", help="Model weights dtype: fp32, bf16 or fp16.")
    device: str = field("auto", help="auto (cuda if available), cpu or cuda.")


def run_extend_stage(config: ExtendStageConfig, ctx) -> dict:
    from skywork.longctx.rope import extend_model_dir
    from skywork.model.config import load_config

    out = extend_model_dir(
        config.model, ctx.stage_dir / "model", config.factor, config.method, config.original_length
    )
    model_config = load_config(out)
    payload = {
        "model": str(out),
        "base_model": config.model,
        "method": config.method,
        "factor": config.factor,
        "original_length": config.original_length,
        "max_position_embeddings": model_config.max_position_embeddings,
        "rope_parameters": model_config.rope_parameters,
    }
    write_summary(ctx.stage_dir, "longctx_extend", payload)
    return payload


def run_cip_stage(config: CIPStageConfig, ctx) -> dict:
    from skywork.longctx.cip import build_cip_stream

    meta = build_cip_stream(
        config.stream, ctx.stage_dir, config.cip, tokenizer_dir=config.tokenizer, source=config.source
    )
    payload = {**meta["cip"], "stream": str(ctx.stage_dir / config.source), "total_tokens": meta["tokens"]}
    write_summary(ctx.stage_dir, "cip", payload)
    return payload


def run_synl_stage(config: SynLStageConfig, ctx) -> dict:
    from dataclasses import asdict

    from skywork.data.synth.instructions import InstructionConfig, InstructionGenerator

    tables = LongTablesConfig(**{k: v for k, v in asdict(config).items() if k != "standard_rows"})
    manifest = LongTables(tables).generate(ctx.stage_dir)
    payload = {"questions": manifest["questions"], "token_count": manifest["token_count"]}
    if config.standard_rows:
        standard = InstructionConfig(seed=config.seed, train_rows=config.standard_rows, heldout_rows=0)
        InstructionGenerator(standard).generate(ctx.stage_dir / "standard")
        payload["standard_rows"] = config.standard_rows
    write_summary(ctx.stage_dir, "synl", payload | {"lengths": list(config.lengths)})
    return payload


def _label_dir(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label)


def measure_model(
    model,
    tokenizer,
    model_dir: str,
    out_dirs: dict[str, Path],
    needle: NeedleConfig | None = None,
    longtable: LongTableConfig | None = None,
    position_loss: PositionLossConfig | None = None,
) -> tuple[dict, dict | None]:
    """Run the configured evaluators on one loaded model, each writing into ``out_dirs[name]``.

    Returns the summary entry (headline figures and paths) and the position-loss results (for a joint plot).
    """
    from skywork.eval.longtable import run_longtable, write_longtable_results
    from skywork.eval.needle import run_needle, write_needle_results
    from skywork.eval.position_loss import run_position_loss, write_position_loss_results

    entry: dict = {}
    curve = None
    if needle is not None:
        res = run_needle(model, tokenizer, needle)
        write_needle_results(out_dirs["needle"], res, model=str(model_dir))
        entry["needle"] = {
            "accuracy": res["accuracy"],
            "accuracy_by_length": res["accuracy_by_length"],
            "summary": str(Path(out_dirs["needle"]) / "summary.json"),
            "heatmap": str(Path(out_dirs["needle"]) / "needle_heatmap.png"),
        }
    if longtable is not None:
        res = run_longtable(model, tokenizer, longtable)
        write_longtable_results(out_dirs["longtable"], res, model=str(model_dir))
        keys = ("accuracy", "questions", "skipped_too_long", "by_kind", "by_length")
        entry["longtable"] = {k: res[k] for k in keys} | {
            "summary": str(Path(out_dirs["longtable"]) / "summary.json")
        }
    if position_loss is not None:
        curve = run_position_loss(model, tokenizer, position_loss)
        write_position_loss_results(out_dirs["position_loss"], curve, model=str(model_dir))
        keys = ("trained_length", "mean_loss_within_trained", "mean_loss_beyond_trained")
        entry["position_loss"] = {k: curve[k] for k in keys}
    return entry, curve


def evaluate_long_context(config: LongEvalConfig, out_dir: str | Path, console=None) -> dict:
    """Every configured evaluator on every model; ``summary.json`` (kind ``longctx_eval``) in ``out_dir``."""
    from skywork.eval.adapter import ModelAdapter
    from skywork.eval.position_loss import plot_position_loss

    out_dir = Path(out_dir).resolve()  # plot paths in summary.json are stored relative to it
    models: dict[str, dict] = {}
    curves: dict[str, dict] = {}
    plots: dict[str, Path] = {}
    for label, model_dir in config.models.items():
        if console is not None:
            console.print(f"long-context evaluation of {label}: {model_dir}")
        adapter = ModelAdapter.load(
            model_dir, config.tokenizer, dtype=config.dtype, device=config.device, chat=False
        )
        base = out_dir / _label_dir(label)
        dirs = {name: base / name for name in ("needle", "longtable", "position_loss")}
        entry, curve = measure_model(
            adapter.model,
            adapter.tokenizer,
            model_dir,
            dirs,
            config.needle,
            config.longtable,
            config.position_loss,
        )
        models[label] = {
            "model_dir": model_dir,
            "max_position_embeddings": adapter.model.config.max_position_embeddings,
        }
        models[label].update(entry)
        if curve is not None:
            curves[label] = curve
        if config.needle is not None:
            plots[f"needle-{_label_dir(label)}"] = dirs["needle"] / "needle_heatmap.png"
        del adapter
    if curves:
        plots["position_loss"] = plot_position_loss(curves, out_dir / "position_loss.png")
    write_summary(out_dir, "longctx_eval", {"models": models}, plots=plots)
    return {"models": models}


def run_long_eval_stage(config: LongEvalConfig, ctx) -> dict:
    return evaluate_long_context(config, ctx.stage_dir, ctx.console)
