"""DeepSpeed ZeRO-1/2 for the pretraining loop (optional: ``pip install -e .[distributed]``).

The official repo trains through DeepSpeed (spec 3.5); its configs are reproduced in ``configs/deepspeed/``. Here
the engine wraps our model and AdamW; ``"auto"`` values of the JSON are filled from the :class:`PretrainConfig`
(as HF Trainer does for the official files). DeepSpeed owns the accumulation boundary, gradient clipping and the
optimizer step; its (sharded) optimizer state is saved with ``engine.save_checkpoint`` inside our checkpoint
directory, next to the HF model directory. ZeRO-3 is refused: our HF export needs whole parameters on every rank
(use ``distributed: fsdp`` for fully sharded training).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from skywork.train.config import PretrainConfig
from skywork.utils.io import InputError

# ZeRO-1: the report's setting (Megatron DP256 + PP2 + ZeRO-1, spec 4.9); used when no JSON is given.
DEFAULT_ZERO1 = {
    "train_batch_size": "auto",
    "train_micro_batch_size_per_gpu": "auto",
    "gradient_accumulation_steps": "auto",
    "gradient_clipping": "auto",
    "steps_per_print": 10**9,
    "zero_optimization": {"stage": 1},
    "bf16": {"enabled": "auto"},
}


def deepspeed_config(config: PretrainConfig, world: int) -> dict:
    """The JSON of ``config.deepspeed_config`` (or ZeRO-1) with every "auto" filled from the training config."""
    if config.deepspeed_config:
        path = Path(config.deepspeed_config)
        if not path.exists():
            raise InputError("DeepSpeed config not found", path, field="deepspeed_config")
        ds = json.loads(path.read_text())
    else:
        ds = json.loads(json.dumps(DEFAULT_ZERO1))
    filled = {
        "train_micro_batch_size_per_gpu": config.micro_batch_size,
        "gradient_accumulation_steps": config.grad_accum_steps,
        "train_batch_size": config.micro_batch_size * config.grad_accum_steps * world,
        "gradient_clipping": config.optim.grad_clip,
    }
    for key, value in filled.items():
        if ds.get(key, "auto") == "auto":
            ds[key] = value
    ds.setdefault("bf16", {})
    if ds["bf16"].get("enabled", "auto") == "auto":
        ds["bf16"]["enabled"] = config.precision == "bf16"
    stage = ds.get("zero_optimization", {}).get("stage", 0)
    if stage > 2:
        raise InputError(
            f"ZeRO stage {stage} is not supported by this loop (use distributed: fsdp for full sharding)",
            config.deepspeed_config,
            field="zero_optimization.stage",
        )
    return ds


def initialize(model: torch.nn.Module, optimizer: torch.optim.Optimizer, config: PretrainConfig, world: int):
    """(engine, engine optimizer). The engine is called like the model; our LR scheduler drives the base optimizer."""
    try:
        import deepspeed
    except ImportError:
        raise InputError(
            "distributed: deepspeed needs DeepSpeed installed (pip install -e .[distributed])",
            field="distributed",
        ) from None
    engine, ds_optimizer, _, _ = deepspeed.initialize(
        model=model, optimizer=optimizer, config=deepspeed_config(config, world)
    )
    return engine, ds_optimizer
