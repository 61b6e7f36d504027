"""The ``long_cpt`` stage: LongSkywork's long-context continued pretraining on the one loop.

It is pretraining (:class:`~skywork.train.config.PretrainConfig`, the token-stream mixture batch source) from the
RoPE-extended model (``model.init_from`` = a ``longctx_extend`` stage's ``model/``), on the CIP stream mixed with
natural long documents (``data.sources`` weights are the shares), at the long ``data.seq_len``, with activation
checkpointing on by default, plus one key: ``context_parallel`` (PyTorch ring attention over C ranks per
sequence under torchrun, :mod:`skywork.longctx.context_parallel`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from skywork.train.config import PretrainConfig
from skywork.utils.config import field


@dataclass
class LongCPTConfig(PretrainConfig):
    """``long_cpt``: every pretraining key, plus ``context_parallel``; checkpointing on by default."""

    activation_checkpointing: bool = field(
        True, help="Recompute layer activations in backward (long sequences: activations dominate memory)."
    )
    context_parallel: int = field(
        1,
        help="Ranks sharing one sequence (PyTorch ring attention, CUDA only; torchrun WORLD_SIZE must be a "
        "multiple). Needs data.cross_document_attention: true. 1: off. The dry run plans it per GPU.",
    )


def run_long_cpt(config: LongCPTConfig, resume: str | None = "auto") -> dict:
    """Train the stage; ``summary.json`` of kind ``long_cpt``."""
    from skywork.longctx import context_parallel as cp
    from skywork.train.data import pretrain_batches
    from skywork.train.loop import StageHooks, train
    from skywork.utils.device import resolve_device

    degree = config.context_parallel
    world = int(os.environ.get("WORLD_SIZE", "1"))
    cp.check_supported(degree, world, config.data.seq_len, torch.device(resolve_device(config.device)))
    extra = {"context_parallel": degree, "activation_checkpointing": config.activation_checkpointing}
    hooks = StageHooks(summary_kind="long_cpt", summary_extra=extra)
    make_batches = pretrain_batches
    if degree > 1:
        if not config.data.cross_document_attention:
            from skywork.utils.io import InputError

            raise InputError(
                "context_parallel needs data.cross_document_attention: true (one causal sequence per row)",
                field="data.cross_document_attention",
            )
        loss_sum = None

        def sharded_loss_sum(model, batch, device, loss_fn=None):
            nonlocal loss_sum
            if loss_sum is None:  # the process group exists once the loop started
                loss_sum = cp.make_loss_sum(cp.context_mesh(world, degree, "cuda"), degree)
            return loss_sum(model, batch, device, loss_fn)

        hooks.loss_sum = sharded_loss_sum

        def make_batches(cfg, world_size, tokenizer):
            return cp.ContextParallelRows(
                pretrain_batches(cfg, world_size, tokenizer), degree, cfg.micro_batch_size
            )

    return train(config, make_batches, resume, hooks)


def run_long_cpt_stage(config: LongCPTConfig, ctx) -> dict:
    """The recipe's ``long_cpt`` stage: run_long_cpt, resuming a killed recipe."""
    return {"summary": run_long_cpt(config, resume="auto")}
