"""The training loop, readable top to bottom (nanoGPT's train.py, torchtitan's split): :func:`train`.

config -> data (a :class:`~skywork.train.batches.BatchSource`) -> model (fresh or ``init_from``) -> optimizer and
LR schedule -> resume -> one loop: draw the step's micro-batches, forward/backward with gradient accumulation,
clip, step, log; validate every ``eval_every`` and checkpoint every ``save_every`` steps -> ``final/``, plots and
``summary.json``. Pretraining is ``train(config, pretrain_batches)``; a later stage passes its own batch source.

Single process: ``skywork train pretrain CONFIG.yaml``. Several: ``torchrun --nproc_per_node N -m skywork.cli
train pretrain CONFIG.yaml`` with ``distributed: ddp``, ``fsdp`` (FSDP2) or ``deepspeed``. Every rank draws the
whole global batch and keeps its own rows; the loss is a sum over tokens divided by the global number of predicted
tokens (x world size, because the wrappers average gradients), so N processes compute exactly the gradient of one.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from skywork.train import parallel
from skywork.train.batches import Batch, BatchSource, DataExhausted
from skywork.train.build import (
    build_model,
    enable_activation_checkpointing,
    make_optimizer,
    make_scheduler,
    shifted_cross_entropy_sum,
    token_loss_sum,
)
from skywork.train.checkpoint import (
    capture_rng,
    load_checkpoint,
    milestones_due,
    restore_rng,
    resume_checkpoint,
    save_checkpoint,
    save_final,
    save_milestone,
)
from skywork.train.config import PretrainConfig
from skywork.train.data import pretrain_batches
from skywork.train.metrics import MetricsLog, Throughput, history_totals, measure_matmul_peak, read_metrics
from skywork.train.parallel import Runtime
from skywork.train.runtime import autocast, keep_freed_memory, synchronize
from skywork.utils.config import config_hash, to_dict
from skywork.utils.io import atomic_write_text
from skywork.utils.progress import progress

log = logging.getLogger("skywork.train")

BatchSourceFactory = Callable[[PretrainConfig, int, object], BatchSource]  # (config, world size, tokenizer)


@dataclass
class StageHooks:
    """What a later stage (SFT, CPT, LoRA) changes in the loop; every field's default is pretraining's behaviour.

    ``wrap_model(model)`` returns the model to train (e.g. PEFT-wrapped) before it is moved and wrapped for DDP;
    ``on_validation(model, step)`` returns extra metrics-row fields after each validation (sample answers);
    ``save_final(final_dir, model, model_state, model_config, tokenizer_dir)`` writes ``final/`` (adapters
    instead of full weights); ``summary_kind`` and ``summary_extra`` shape ``summary.json``;
    ``loss_sum(model, batch, device, loss_fn)`` replaces the training forward's ``token_loss_sum`` (context
    parallel shards the sequence there, :mod:`skywork.longctx.context_parallel`).
    """

    wrap_model: Callable | None = None
    on_validation: Callable | None = None
    save_final: Callable | None = None
    summary_kind: str = "pretrain"
    summary_extra: dict = field(default_factory=dict)
    loss_sum: Callable | None = None


class TrainingDiverged(RuntimeError):
    """The loss was NaN/Inf for ``max_bad_steps`` optimizer steps in a row."""


@dataclass
class TrainState:
    """The loop's counters (saved in trainer_state.json)."""

    step: int = 0
    tokens: int = 0
    skipped_steps: int = 0
    bad_in_row: int = 0


def run_pretraining(config: PretrainConfig, resume: str | None = "auto") -> dict:
    """Train one pretraining stage. ``resume``: "auto" (latest valid checkpoint if any), "never", or a path.

    Returns the summary (also written to ``out_dir/summary.json``): steps, tokens, losses, tokens/s, MFU, paths.
    """
    return train(config, pretrain_batches, resume)


def train(
    config: PretrainConfig,
    make_batches: BatchSourceFactory,
    resume: str | None = "auto",
    hooks: StageHooks | None = None,
) -> dict:
    """Run the loop on the batches ``make_batches(config, world_size, tokenizer)`` provides (``hooks``: see
    :class:`StageHooks`)."""
    runtime = parallel.init_runtime(config)
    try:
        return _train(config, make_batches, resume, runtime, hooks or StageHooks())
    finally:
        parallel.shutdown(runtime)


def _train(
    config: PretrainConfig, make_batches: BatchSourceFactory, resume, runtime: Runtime, hooks: StageHooks
) -> dict:
    from skywork.model import flops_per_token
    from skywork.tokenizer import load as load_tokenizer

    # --- config: the run directory and the config as run
    device, out_dir = runtime.device, Path(config.output_dir)
    checkpoints_dir = out_dir / "checkpoints"
    if device.type == "cpu" and config.cpu_keep_freed_memory:
        keep_freed_memory()
    if runtime.is_main:
        import yaml

        out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out_dir / "config.yaml", yaml.safe_dump(to_dict(config), sort_keys=False))

    # --- model (fresh from a preset, or init_from), wrapped for DDP / FSDP2
    tokenizer = load_tokenizer(Path(config.tokenizer))
    model = build_model(config, len(tokenizer), device)
    model_config = model.config
    if hooks.wrap_model is not None:
        model = hooks.wrap_model(model)
    model.to(device)
    if config.activation_checkpointing:
        enable_activation_checkpointing(model)
    loss_fn = shifted_cross_entropy_sum
    if config.compile:
        model.compile()
        loss_fn = torch.compile(shifted_cross_entropy_sum)
    model = parallel.wrap_model(model, runtime)

    # --- optimizer and LR schedule (DeepSpeed's engine owns backward, clipping and the step when used)
    optimizer = make_optimizer(model, config)
    engine = parallel.wrap_deepspeed(model, optimizer, config, runtime)
    model = engine or model
    scheduler = make_scheduler(optimizer, config)

    # --- data: the batch source and its held-out sets
    batches = make_batches(config, runtime.world, tokenizer)
    validation = batches.validation_sets()

    # --- resume (model, optimizer, scheduler, data position, RNG) or start fresh
    state = TrainState()
    ckpt_path = resume_checkpoint(resume, checkpoints_dir)
    if ckpt_path is not None:
        state = resume_from(ckpt_path, model, optimizer, scheduler, batches, engine, runtime, config)
    else:
        torch.manual_seed(config.seed + runtime.rank)

    metrics = MetricsLog(out_dir, runtime.is_main, config, state.step)
    global_rows = config.micro_batch_size * runtime.world
    tokens_per_step = global_rows * config.grad_accum_steps * config.data.seq_len
    peak = measure_matmul_peak(device)
    throughput = Throughput(
        tokens_per_step,
        flops_per_token(model_config, config.data.seq_len, training=True),
        peak * runtime.world,
    )
    last_loss, last_val, stopped_early = float("nan"), {}, None
    description = "pretraining" if hooks.summary_kind == "pretrain" else hooks.summary_kind
    with progress(description, total=config.max_steps, enabled=config.progress and runtime.is_main) as bar:
        bar.update(completed=state.step)
        while state.step < config.max_steps:
            t0 = time.perf_counter()
            # --- the step's global micro-batches (every rank draws all rows, then keeps its own)
            try:
                micro_batches = [batches.next_batch(global_rows) for _ in range(config.grad_accum_steps)]
            except DataExhausted as err:  # the data ran out: finish cleanly with what we have
                stopped_early = f"{err} at step {state.step}"
                break
            predicted = sum(b.predicted_tokens() for b in micro_batches)

            # --- forward / backward with gradient accumulation (one all-reduce per step under DDP)
            loss_total = torch.zeros((), device=device)
            for i, global_batch in enumerate(micro_batches):
                batch = global_batch.rows(runtime.own_rows(config.micro_batch_size))
                with parallel.gradient_sync(model, engine, last_micro_batch=i == config.grad_accum_steps - 1):
                    with autocast(config.precision, device):
                        loss_sum, _ = (hooks.loss_sum or token_loss_sum)(model, batch, device, loss_fn)
                    # the wrappers average gradients over ranks: scale by world for the global token mean
                    loss = loss_sum * (runtime.world / max(1, predicted))
                    if state.step in config.fault_injection_nan_steps:
                        loss = loss * float("nan")
                    parallel.backward(loss, engine)
                loss_total += loss.detach() / runtime.world
            loss_value = float(parallel.all_reduce_mean(loss_total, runtime)) * runtime.world

            # --- clip and step; a non-finite loss or gradient skips the update
            grad_norm = parallel.clip_gradients(model, engine, config.optim.grad_clip)
            if math.isfinite(loss_value) and math.isfinite(grad_norm):
                if engine is None:
                    optimizer.step()
                state.bad_in_row = 0
            else:
                skip_step(state, loss_value, optimizer, metrics, config, runtime, checkpoints_dir)
            optimizer.zero_grad(set_to_none=True)
            lr = optimizer.param_groups[0]["lr"]
            scheduler.step()
            state.step += 1
            state.tokens += tokens_per_step
            synchronize(device)
            tokens_per_s, mfu = throughput.record(time.perf_counter() - t0)
            if math.isfinite(loss_value):
                last_loss = loss_value

            # --- log, validate, checkpoint
            row = None
            if state.step % config.log_every == 0 or state.step == config.max_steps:
                row = {
                    "step": state.step,
                    "tokens": state.tokens,
                    "loss": loss_value,
                    "lr": lr,
                    "grad_norm": grad_norm,
                    "tokens_per_s": tokens_per_s,
                    "mfu": mfu,
                    "skipped_steps": state.skipped_steps,
                    **batches.log_fields(),
                }
            if validation and (state.step % config.eval_every == 0 or state.step == config.max_steps):
                last_val = evaluate(model, validation, config, device, loss_fn)
                row = row or {"step": state.step, "tokens": state.tokens}
                row["val_loss"] = last_val
                if hooks.on_validation is not None:
                    row.update(hooks.on_validation(model, state.step))
            if row is not None:
                metrics.write(row)
            if state.step % config.save_every == 0 or state.step == config.max_steps:
                save(state, model, optimizer, scheduler, batches, engine, model_config, runtime, config)
            if config.milestone_tokens and hooks.save_final is None:  # plain models only (not LoRA stages)
                save_milestones(state, tokens_per_step, model, engine, model_config, runtime, config)
            bar.update(
                completed=state.step, loss=f"{loss_value:.4f}", tok_s=f"{tokens_per_s:,.0f}", mfu=f"{mfu:.1%}"
            )

    if stopped_early is not None:
        log.warning("stopping early: %s", stopped_early)
        if validation:
            last_val = evaluate(model, validation, config, device, loss_fn)
            metrics.write({"step": state.step, "tokens": state.tokens, "val_loss": last_val})
        if state.step % config.save_every != 0:
            save(state, model, optimizer, scheduler, batches, engine, model_config, runtime, config)
    metrics.close()

    # --- final/ (HF model dir + tokenizer files), plots and summary.json
    final_dir = out_dir / "final"
    model_state = (
        engine.module.state_dict() if engine is not None else parallel.full_state(model, optimizer)[0]
    )
    summary = {
        "steps": state.step,
        "tokens": state.tokens,
        "final_loss": last_loss,
        "val_loss": last_val,
        "skipped_steps": state.skipped_steps,
        "stopped_early": stopped_early,
        "tokens_per_s": throughput.median_tokens_per_s(),
        "mfu": throughput.median_mfu(),
        "matmul_peak_flops": peak,
        "world_size": runtime.world,
        "distributed": runtime.mode,
        "out_dir": str(out_dir),
        "final_dir": str(final_dir),
        "metrics": str(out_dir / "metrics.jsonl"),
    }
    if runtime.is_main:
        if hooks.save_final is not None:
            hooks.save_final(final_dir, model, model_state, model_config, Path(config.tokenizer))
        else:
            save_final(final_dir, model_config, model_state, Path(config.tokenizer))
        summary.update(hooks.summary_extra)
        summary.update(write_stage_summary(out_dir, summary, config, hooks.summary_kind))
    return summary


def evaluate(
    model, validation: dict[str, Batch], config: PretrainConfig, device, loss_fn
) -> dict[str, float]:
    """Mean next-token loss of every held-out set (the same rows each time), in micro-batches."""
    model.eval()
    losses = {}
    with torch.no_grad():
        for name, batch in validation.items():
            total, count = 0.0, 0
            for start in range(0, batch.input_ids.shape[0], config.micro_batch_size):
                part = batch.rows(slice(start, start + config.micro_batch_size))
                with autocast(config.precision, device):
                    loss_sum, n = token_loss_sum(model, part, device, loss_fn)
                total, count = total + float(loss_sum), count + n
            losses[name] = total / max(1, count)
    model.train()
    return losses


def skip_step(
    state: TrainState, loss_value: float, optimizer, metrics, config, runtime, checkpoints_dir
) -> None:
    """Count a non-finite step (no update); after ``max_bad_steps`` in a row raise :class:`TrainingDiverged`."""
    state.skipped_steps += 1
    state.bad_in_row += 1
    if runtime.is_main:
        log.warning("step %d: non-finite loss (%s) or grad norm; step skipped", state.step, loss_value)
    if state.bad_in_row >= config.max_bad_steps:
        optimizer.zero_grad(set_to_none=True)
        metrics.close()
        raise TrainingDiverged(
            f"loss was NaN/Inf for {state.bad_in_row} steps in a row (step {state.step}, {state.skipped_steps} "
            f"skipped in total); stopping. Resume from the last checkpoint in {checkpoints_dir} with a lower "
            "optim.lr or check the data; max_bad_steps sets the tolerance."
        )


def save(
    state: TrainState,
    model,
    optimizer,
    scheduler,
    batches: BatchSource,
    engine,
    model_config,
    runtime: Runtime,
    config: PretrainConfig,
) -> None:
    """One checkpoint at ``state.step`` (every rank takes part; the main process writes)."""
    checkpoints_dir = Path(config.output_dir) / "checkpoints"
    extra_dirs = {}
    if engine is not None:  # every rank writes its ZeRO shard; the main process moves it into the checkpoint
        staging = checkpoints_dir / f".deepspeed-{state.step}.tmp"
        engine.save_checkpoint(str(staging), tag="state")
        parallel.barrier(runtime)
        model_state, optimizer_state, extra_dirs = engine.module.state_dict(), None, {"deepspeed": staging}
    else:
        model_state, optimizer_state = parallel.full_state(model, optimizer)
    rng_states = parallel.gather_objects(capture_rng(), runtime)
    if runtime.is_main:
        trainer_state = {
            **asdict(state),
            "scheduler": scheduler.state_dict(),
            "sampler": batches.state_dict(),
            "config_hash": config_hash(config),
            "world_size": runtime.world,
        }
        save_checkpoint(
            checkpoints_dir,
            state.step,
            model_config,
            model_state,
            optimizer_state,
            rng_states,
            trainer_state,
            config.keep_last,
            extra_dirs,
        )
    parallel.barrier(runtime)


def save_milestones(
    state: TrainState,
    tokens_per_step: int,
    model,
    engine,
    model_config,
    runtime: Runtime,
    config: PretrainConfig,
) -> None:
    """Keep the model under ``milestones/`` when this step reached a ``milestone_tokens`` entry (never pruned).

    Reads the weights only: no RNG, optimizer or data state is touched, so the run's numbers do not change.
    """
    due = milestones_due(config.milestone_tokens, state.tokens - tokens_per_step, state.tokens)
    if not due:
        return
    if engine is not None:
        model_state = engine.module.state_dict()
    else:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        model_state = get_model_state_dict(model, options=options)
    if runtime.is_main:
        for milestone in due:
            save_milestone(
                Path(config.output_dir) / "milestones",
                milestone,
                state.step,
                state.tokens,
                model_config,
                model_state,
                Path(config.tokenizer),
            )
    parallel.barrier(runtime)


def resume_from(
    ckpt_path: Path,
    model,
    optimizer,
    scheduler,
    batches: BatchSource,
    engine,
    runtime: Runtime,
    config: PretrainConfig,
) -> TrainState:
    """Load a checkpoint into model, optimizer, scheduler, batch source and RNG; returns the loop's counters."""
    ckpt = load_checkpoint(ckpt_path)
    if engine is not None:
        engine.load_checkpoint(str(ckpt_path / "deepspeed"), tag="state", load_lr_scheduler_states=False)
    else:
        parallel.load_full_state(model, optimizer, ckpt["model"], ckpt["optimizer"])
    saved = ckpt["trainer_state"]
    scheduler.load_state_dict(saved["scheduler"])
    batches.load_state_dict(saved["sampler"])
    rng = ckpt["rng"]
    restore_rng(rng[runtime.rank] if runtime.rank < len(rng) else rng[0])
    if saved.get("config_hash") != config_hash(config) and runtime.is_main:
        log.warning("resuming %s with a changed config", ckpt_path)
    if runtime.is_main:
        log.info("resumed from %s at step %d", ckpt_path, saved["step"])
    return TrainState(saved["step"], saved["tokens"], saved["skipped_steps"], saved["bad_in_row"])


def write_stage_summary(out_dir: Path, summary: dict, config: PretrainConfig, kind: str = "pretrain") -> dict:
    """Plots and ``summary.json`` (the stage contract, docs/pretraining.md); returns the keys added to the summary."""
    from skywork.train.plots import earlier_stages, plot_run
    from skywork.utils.summary import write_summary

    previous = earlier_stages(config.model.init_from)
    added = {
        "continues": [str(p) for p in previous],
        **history_totals(read_metrics(out_dir / "metrics.jsonl")),
    }
    plots = plot_run(out_dir, previous) if config.plots else {}
    write_summary(out_dir, kind, {**summary, **added}, plots=plots)
    return added
