"""Parameter counts, FLOPs and memory, computed on the meta device so a 13B model costs nothing to inspect."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from transformers import LlamaConfig


@dataclass
class ModelStats:
    layers: int
    hidden: int
    ffn: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    params: int
    params_embedding: int
    params_non_embedding: int
    flops_per_token_forward: float
    flops_per_token_train: float
    seq_len: int
    weights_gib_bf16: float
    weights_gib_int8: float

    def as_dict(self) -> dict:
        return asdict(self)


def count_parameters(config: LlamaConfig) -> tuple[int, int]:
    """(total, embedding) parameter counts from a meta-device instance of the real model class."""
    from skywork.model.modeling import SkyworkForCausalLM

    with torch.device("meta"):
        model = SkyworkForCausalLM(config)
    total = sum(p.numel() for p in model.parameters())
    embedding = model.model.embed_tokens.weight.numel()
    return total, embedding


def flops_per_token(config: LlamaConfig, seq_len: int, training: bool = True) -> float:
    """Model FLOPs per token (matmuls only, PaLM-style): 2 per weight MAC plus causal attention; x3 for training.

    Embedding lookups cost no FLOPs; the LM head does. Attention: QK^T and AV are 2*2*L*s*d per token over a full
    sequence, halved for the causal mask as Megatron and the Skywork report count it.
    """
    total, embedding = count_parameters(config)
    matmul_params = total - embedding  # includes lm_head (untied) and norms (negligible)
    layers, hidden = config.num_hidden_layers, config.num_attention_heads * _head_dim(config)
    attention = 2 * 2 * layers * seq_len * hidden / 2
    forward = 2 * matmul_params + attention
    return 3 * forward if training else forward


def _head_dim(config: LlamaConfig) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def model_stats(config: LlamaConfig, seq_len: int | None = None) -> ModelStats:
    seq_len = seq_len or min(config.max_position_embeddings, 4096)
    total, embedding = count_parameters(config)
    return ModelStats(
        layers=config.num_hidden_layers,
        hidden=config.hidden_size,
        ffn=config.intermediate_size,
        heads=config.num_attention_heads,
        kv_heads=config.num_key_value_heads,
        head_dim=_head_dim(config),
        vocab=config.vocab_size,
        params=total,
        params_embedding=embedding,
        params_non_embedding=total - embedding,
        flops_per_token_forward=flops_per_token(config, seq_len, training=False),
        flops_per_token_train=flops_per_token(config, seq_len, training=True),
        seq_len=seq_len,
        weights_gib_bf16=total * 2 / 2**30,
        weights_gib_int8=total / 2**30,
    )
