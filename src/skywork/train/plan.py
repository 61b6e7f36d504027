"""``--dry-run``: what a config will do, before anything is allocated: batch, schedule, mixture, memory, FLOPs,
and the cluster it plans for (world size, data x tensor x pipeline layout, memory and tokens/s per GPU, days).

The world size comes from ``--world-size``, then $WORLD_SIZE, then the config's ``plan.world_size``; the layout
from ``plan:`` and the ``--tp/--pp/--zero/--gpu`` overrides. Memory and speed: ``skywork.train.cluster_plan``.
"""

from __future__ import annotations

from pathlib import Path

from skywork.train.cluster_plan import GPUS, cluster_plan, days, resolve_layout
from skywork.train.config import PretrainConfig

A800_BF16_PEAK = 312e12  # dense bf16 FLOP/s of an A100/A800 (the report's hardware, spec 4.9)
REPORT_MFU = 0.565


def plan(
    config: PretrainConfig,
    world_size: int | None = None,
    *,
    tensor: int | None = None,
    pipeline: int | None = None,
    zero: int | None = None,
    gpu: str | None = None,
) -> dict:
    """The dry-run plan as a dict; world_size None takes the config's ``plan.world_size`` (or 1)."""
    from skywork.model import flops_per_token, load_config, make_config
    from skywork.model.stats import count_parameters
    from skywork.train.build import lr_at

    notes = []
    if config.model.init_from and (Path(config.model.init_from) / "config.json").exists():
        model_config = load_config(config.model.init_from)
    else:
        if config.model.init_from:
            notes.append(f"init_from {config.model.init_from} is not built yet: shape taken from the preset")
        overrides = dict(config.model.overrides)
        vocab = _tokenizer_vocab(config.tokenizer)
        if config.model.vocab_from_tokenizer and vocab and "vocab_size" not in overrides:
            overrides["vocab_size"] = vocab
        model_config = make_config(config.model.preset, **overrides)
    params, embedding = count_parameters(model_config)
    layout = resolve_layout(config, world_size, tensor=tensor, pipeline=pipeline, zero=zero)
    world_size = layout.world
    seq, micro = layout.seq_len, layout.micro_batch
    global_seqs = layout.global_batch
    tokens_per_step = global_seqs * seq
    total_tokens = tokens_per_step * config.max_steps
    train_flops = flops_per_token(model_config, seq, training=True)
    total_flops = train_flops * total_tokens
    gpu_name = gpu or config.plan.gpu
    if gpu_name not in GPUS:
        raise ValueError(f"unknown gpu {gpu_name!r}; known: {', '.join(GPUS)}")
    cluster = cluster_plan(model_config, layout, gpu_name, train_flops)
    speed = cluster["speed"]["tokens_per_gpu_s"]
    cluster["days"] = days(total_tokens, speed, world_size)
    if config.plan.campaign_tokens:
        cluster["campaign_tokens"] = config.plan.campaign_tokens
        cluster["campaign_days"] = days(config.plan.campaign_tokens, speed, world_size)
    if layout.tensor > 1 or layout.pipeline > 1:
        notes.append(
            f"{layout.name} is planned only: the trainer runs data parallel ({config.distributed}); "
            "--tp 1 --pp 1 --zero 3 with plan.param_bytes: torch plans what distributed: fsdp does"
        )
    if not cluster["memory_gb_per_gpu"]["fits"]:
        notes.append(f"OUT OF MEMORY: {layout.name} needs more than {GPUS[gpu_name].memory_gb:g} GB per GPU")

    mode = config.distributed if world_size > 1 else "none"
    mode = "ddp" if mode == "auto" else mode
    h, layers, vocab = model_config.hidden_size, model_config.num_hidden_layers, model_config.vocab_size

    opt = config.optim
    decay_steps = opt.decay_steps or config.max_steps
    schedule = (
        f"warmup {opt.warmup_steps} steps, cosine {opt.lr:g} -> {opt.min_lr:g} until step {decay_steps}"
        + (
            f", then constant {opt.min_lr:g} to step {config.max_steps}"
            if decay_steps < config.max_steps
            else ""
        )
        if opt.schedule == "cosine"
        else f"warmup {opt.warmup_steps} steps, constant {opt.lr:g}"
    )
    sources = []
    for s in config.data.sources:
        available = None
        meta = Path(s.path) / "meta.json"
        if meta.exists():
            import json

            available = json.loads(meta.read_text())["tokens"]
        sources.append(
            {
                "name": s.name,
                "weight": s.weight,
                "weight_end": s.weight_end if s.weight_end is not None else s.weight,
                "max_epochs": s.max_epochs,
                "tokens_available": available,
                "path_exists": meta.exists(),
            }
        )
    gpu_days = total_flops / (A800_BF16_PEAK * REPORT_MFU) / 86400
    return {
        "model": {
            "source": config.model.init_from or config.model.preset,
            "params": params,
            "params_non_embedding": params - embedding,
            "layers": layers,
            "hidden": h,
            "vocab": vocab,
        },
        "batch": {
            "world_size": world_size,
            "distributed": mode,
            "layout": layout.name,
            "seq_len": seq,
            "micro_batch": micro,
            "grad_accum": layout.micro_batches,
            "global_sequences": global_seqs,
            "tokens_per_step": tokens_per_step,
        },
        "schedule": {
            "steps": config.max_steps,
            "total_tokens": total_tokens,
            "lr": schedule,
            "lr_at_end": lr_at(config.max_steps - 1, config),
        },
        "mixture": sources,
        "validation": list(config.data.validation),
        "notes": notes,
        "cluster": cluster,
        "flops": {
            "per_token_train": train_flops,
            "total": total_flops,
            "a800_gpu_days_at_report_mfu": gpu_days,
            "days_on_512_a800": gpu_days / 512,
        },
    }


def _tokenizer_vocab(tokenizer_dir: str) -> int | None:
    """len(tokenizer) when the directory exists (dry runs of the 13B recipe may not have one yet)."""
    if (
        not (Path(tokenizer_dir) / "tokenizer.model").exists()
        and not (Path(tokenizer_dir) / "tokenizer.json").exists()
    ):
        return None
    from skywork.tokenizer import load

    return len(load(tokenizer_dir))


def render_plan(p: dict):
    """A rich table of the plan."""
    from rich.table import Table

    table = Table(title="pretraining plan (dry run)", show_header=False)
    m, b, s, c, f = p["model"], p["batch"], p["schedule"], p["cluster"], p["flops"]
    mem, speed = c["memory_gb_per_gpu"], c["speed"]
    rows = [
        (
            "model",
            f"{m['source']}: {m['params']:,} params ({m['params'] / 1e9:.2f} B), {m['layers']} layers, "
            f"hidden {m['hidden']}, vocab {m['vocab']:,}",
        ),
        (
            "world / layout",
            f"{b['world_size']} x {c['gpu']} ({b['distributed']}): {c['layout']} "
            f"= data {c['data']} x tensor {c['tensor']} x pipeline {c['pipeline']}, ZeRO-{c['zero']}"
            + (", activation checkpointing" if c["checkpointing"] else ""),
        ),
        (
            "batch",
            f"micro {b['micro_batch']} x {b['grad_accum']} micro-batches x {c['data']} replicas = "
            f"{b['global_sequences']:,} sequences of {b['seq_len']} = {b['tokens_per_step']:,} tokens/step",
        ),
        (
            "steps / tokens",
            f"{s['steps']:,} steps, {s['total_tokens']:,} tokens ({s['total_tokens'] / 1e9:.1f} B)",
        ),
        ("learning rate", s["lr"]),
    ]
    for src in p["mixture"]:
        avail = (
            f"{src['tokens_available']:,} tokens" if src["tokens_available"] is not None else "NOT BUILT YET"
        )
        rows.append(
            (
                f"source {src['name']}",
                f"weight {src['weight']:g} -> {src['weight_end']:g}, max_epochs {src['max_epochs']}, {avail}",
            )
        )
    rows.append(("validation sets", ", ".join(p["validation"]) or "(none)"))
    rows += [
        (
            "memory / GPU",
            f"{mem['total']:.1f} GB of {mem['capacity']:g} ({'fits' if mem['fits'] else 'OUT OF MEMORY'}; "
            f"{c['param_bytes']} bytes/param, stage {mem['stage']}) = weights {mem['weights']:.1f} + grads "
            f"{mem['gradients']:.1f} + optimizer {mem['optimizer']:.1f} + activations {mem['activations']:.1f}"
            f" + logits {mem['logits']:.1f} + pipeline buffers {mem['pipeline_buffers']:.2f}",
        ),
        ("FLOPs", f"{f['per_token_train']:.3e} per token, {f['total']:.3e} total"),
        (
            "speed / GPU",
            f"{speed['tokens_per_gpu_s']:,.0f} tokens/s, MFU {c['mfu']:.1%}; step {speed['step_s']:.2f} s = "
            f"compute {speed['compute_s']:.2f} + bubble {speed['bubble_s']:.2f} "
            f"({speed['bubble_fraction']:.1%}) + TP all-reduce {speed['tensor_parallel_comm_s']:.2f} + "
            f"PP send/recv {speed['pipeline_p2p_s']:.2f} + DP gradients {speed['data_parallel_comm_s']:.2f}",
        ),
        ("time", f"{c['days']:,.1f} days for this stage on {b['world_size']} GPUs"),
    ]
    if "campaign_days" in c:
        rows.append(
            (
                "campaign",
                f"{c['campaign_tokens'] / 1e12:g}T tokens (all stages) in {c['campaign_days']:,.1f} days "
                f"on {b['world_size']} GPUs",
            )
        )
    rows += [("note", note) for note in p["notes"]]
    for key, value in rows:
        table.add_row(key, str(value))
    return table
