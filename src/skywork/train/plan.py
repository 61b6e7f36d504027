"""``--dry-run``: what a config will do, before anything is allocated: batch, schedule, mixture, memory, FLOPs.

Memory per process (bytes per parameter): fp32 weights 4 + fp32 gradients 4 + AdamW moments 8 = 16, sharded by
FSDP (all of it) or ZeRO-1 (the moments) / ZeRO-2 (moments + gradients). Activations under bf16 autocast with
a fused attention kernel follow Korthikanti et al. (2022): about 34*s*b*h bytes per layer (the 5*a*s^2*b
attention-score term vanishes with SDPA / FlashAttention), or 2*s*b*h per layer (the layer inputs) with
activation checkpointing plus one layer being recomputed; the logits add s*b*vocab*(2+4+4) bytes.
"""

from __future__ import annotations

from pathlib import Path

from skywork.train.config import PretrainConfig

A800_BF16_PEAK = 312e12  # dense bf16 FLOP/s of an A100/A800 (the report's hardware, spec 4.9)
REPORT_MFU = 0.565


def plan(config: PretrainConfig, world_size: int = 1) -> dict:
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
    seq, micro, accum = config.data.seq_len, config.micro_batch_size, config.grad_accum_steps
    global_seqs = micro * accum * world_size
    tokens_per_step = global_seqs * seq
    total_tokens = tokens_per_step * config.max_steps
    train_flops = flops_per_token(model_config, seq, training=True)
    total_flops = train_flops * total_tokens

    mode = config.distributed if world_size > 1 else "none"
    mode = "ddp" if mode == "auto" else mode
    shard = world_size if mode == "fsdp" else 1
    weights = 4 * params / shard
    grads = 4 * params / (world_size if mode == "fsdp" else 1)
    adam = 8 * params / (world_size if mode == "fsdp" else 1)
    h, layers, vocab = model_config.hidden_size, model_config.num_hidden_layers, model_config.vocab_size
    if config.activation_checkpointing:
        activations = 2 * seq * micro * h * layers + 34 * seq * micro * h
    else:
        activations = 34 * seq * micro * h * layers
    logits = seq * micro * vocab * (2 + 4 + 4)
    gib = 2**30

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
            "seq_len": seq,
            "micro_batch": micro,
            "grad_accum": accum,
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
        "memory_gib_per_process": {
            "weights_fp32": weights / gib,
            "gradients_fp32": grads / gib,
            "adamw_moments": adam / gib,
            "activations_bf16": activations / gib,
            "logits": logits / gib,
            "total": (weights + grads + adam + activations + logits) / gib,
        },
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
    m, b, s, mem, f = p["model"], p["batch"], p["schedule"], p["memory_gib_per_process"], p["flops"]
    rows = [
        (
            "model",
            f"{m['source']}: {m['params']:,} params ({m['params'] / 1e9:.2f} B), {m['layers']} layers, "
            f"hidden {m['hidden']}, vocab {m['vocab']:,}",
        ),
        ("processes", f"{b['world_size']} ({b['distributed']})"),
        (
            "batch",
            f"{b['micro_batch']} x {b['grad_accum']} accum x {b['world_size']} = {b['global_sequences']:,} "
            f"sequences of {b['seq_len']} = {b['tokens_per_step']:,} tokens/step",
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
            "memory / process",
            f"{mem['total']:.1f} GiB = weights {mem['weights_fp32']:.1f} + grads "
            f"{mem['gradients_fp32']:.1f} + AdamW {mem['adamw_moments']:.1f} + activations "
            f"{mem['activations_bf16']:.1f} + logits {mem['logits']:.1f}",
        ),
        ("FLOPs", f"{f['per_token_train']:.3e} per token, {f['total']:.3e} total"),
        (
            "time",
            f"{f['a800_gpu_days_at_report_mfu']:,.0f} A800-days at the report's 56.5% MFU "
            f"= {f['days_on_512_a800']:.1f} days on 512 A800s",
        ),
    ]
    rows += [("note", note) for note in p["notes"]]
    for key, value in rows:
        table.add_row(key, str(value))
    return table
