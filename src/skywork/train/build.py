"""What the loop trains with: the model (fresh from a preset or ``init_from``), AdamW, the LR schedule, the loss."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from skywork.train.batches import IGNORE_INDEX, Batch
from skywork.train.config import PretrainConfig


def build_model(config: PretrainConfig, vocab_size: int | None, device: torch.device):
    """A fresh model from a preset (+ overrides), or the weights of ``model.init_from`` (stage 2), with the
    attention kernel chosen for ``device``."""
    from skywork.model import SkyworkForCausalLM, load_model, make_config

    if config.model.init_from:
        model = load_model(config.model.init_from, dtype=torch.float32)
    else:
        overrides = dict(config.model.overrides)
        if config.model.vocab_from_tokenizer and vocab_size and "vocab_size" not in overrides:
            overrides["vocab_size"] = vocab_size
        torch.manual_seed(config.seed)
        model = SkyworkForCausalLM(make_config(config.model.preset, **overrides))
    model.config.use_cache = False
    model.set_attn_implementation(attention_kernel(config, device))
    return model.train()


def attention_kernel(config: PretrainConfig, device: torch.device) -> str:
    """Resolve ``model.attention: auto``: measured on a 2-core AVX-512 CPU (80M model, seq 256, bf16), compiled
    eager attention beat SDPA's CPU flash kernel by ~10% per step; SDPA wins uncompiled, at long context and on GPU.
    """
    if config.model.attention != "auto":
        return config.model.attention
    if device.type == "cpu" and config.compile and config.data.seq_len <= 1024:
        return "eager"
    return "sdpa"


def enable_activation_checkpointing(model) -> None:
    """Recompute each decoder layer in backward (non-reentrant). transformers 5 renamed the method."""
    enable = getattr(model, "activation_checkpointing_enable", None)
    if enable is not None:
        enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:  # transformers 4
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def make_optimizer(model: torch.nn.Module, config: PretrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (norm weights get none), as LLaMA / Megatron do."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    opt = config.optim
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": opt.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=opt.lr,
        betas=(opt.beta1, opt.beta2),
        eps=opt.eps,
        fused=config.distributed
        != "deepspeed",  # one kernel per step (CUDA and CPU); ZeRO flattens params itself
    )


def lr_at(step: int, config: PretrainConfig) -> float:
    """Linear warmup, then cosine ``lr -> min_lr`` over ``decay_steps`` and constant ``min_lr`` after; or constant."""
    opt = config.optim
    if opt.warmup_steps and step < opt.warmup_steps:
        return opt.lr * (step + 1) / opt.warmup_steps
    if opt.schedule == "constant":
        return opt.lr
    decay_steps = opt.decay_steps or config.max_steps
    if step >= decay_steps:
        return opt.min_lr
    progress = (step - opt.warmup_steps) / max(1, decay_steps - opt.warmup_steps)
    return opt.min_lr + 0.5 * (opt.lr - opt.min_lr) * (1 + math.cos(math.pi * progress))


def make_scheduler(optimizer: torch.optim.Optimizer, config: PretrainConfig):
    """:func:`lr_at` as a LambdaLR (its state is saved in every checkpoint)."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_at(step, config) / config.optim.lr)


def shifted_cross_entropy_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Summed fp32 cross-entropy of position t's logits against token t+1 (labels -100 are ignored).
    Under torch.compile the upcast, log-softmax and gather fuse, so no fp32 copy of the logits is kept."""
    return F.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]),
        labels[:, 1:].reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )


def token_loss_sum(
    model, batch: Batch, device: torch.device, loss_fn=shifted_cross_entropy_sum
) -> tuple[torch.Tensor, int]:
    """Sum of next-token cross-entropies over the predicted tokens, and how many there were."""
    logits = model(**batch.model_inputs(device), use_cache=False).logits
    loss = loss_fn(logits, batch.labels.to(device))
    return loss, batch.predicted_tokens()
