"""SkyworkForCausalLM against a forward pass written here from plain tensor operations.

``test_modeling.py`` compares our class with ``LlamaForCausalLM``, its own base class, which cannot catch a
mistake the two share. This reference follows the spec's description of the released network instead (spec 3.1,
3.3, 4.2): token embedding; per layer a pre-norm residual block of RMSNorm (the config's eps) -> causal
multi-head attention with rotate-half RoPE (the config's theta; GPT-NeoX style, ``rope_gpt_neox``) and grouped
key/value heads -> residual, then RMSNorm -> SwiGLU MLP ``down(silu(gate(x)) * up(x))`` -> residual; a final
RMSNorm and an untied LM head. Weights are read by the release's tensor names.

The comparison is made to fail: ``test_the_comparison_catches_deliberate_bugs`` swaps one piece of the reference
for a plausible wrong one (interleaved RoPE, an eps that is not the config's, tiled instead of repeated key/value
heads, no causal mask, a tied head) and checks that the logits then disagree far beyond the tolerance.
"""

from __future__ import annotations

import math
import sys

import pytest
import torch

from skywork.model import SkyworkForCausalLM, make_config

ATOL = 1e-5


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) over the two halves of the head dimension."""
    first, second = x.chunk(2, dim=-1)
    return torch.cat((-second, first), dim=-1)


def apply_rope(x: torch.Tensor, theta: float) -> torch.Tensor:
    """Rotate-half RoPE on ``x`` of shape (batch, heads, seq, head_dim), positions 0..seq-1."""
    head_dim, seq = x.shape[-1], x.shape[-2]
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(seq, dtype=torch.float32), inv_freq)  # (seq, head_dim / 2)
    angles = torch.cat((angles, angles), dim=-1)  # frequency i drives dims i and i + head_dim / 2
    return x * angles.cos() + rotate_half(x) * angles.sin()


def repeat_kv(x: torch.Tensor, groups: int) -> torch.Tensor:
    """(batch, kv_heads, seq, d) -> (batch, kv_heads * groups, seq, d): query head h reads key/value head h // groups."""
    return x.repeat_interleave(groups, dim=1)


def causal_mask(seq: int) -> torch.Tensor:
    return torch.full((seq, seq), float("-inf")).triu(1)


def attention(x: torch.Tensor, w: dict[str, torch.Tensor], config) -> torch.Tensor:
    batch, seq, _ = x.shape
    heads, kv_heads, head_dim = config.num_attention_heads, config.num_key_value_heads, config.head_dim
    theta = config.rope_parameters["rope_theta"]

    def split(t: torch.Tensor, n: int) -> torch.Tensor:  # (batch, seq, n * d) -> (batch, n, seq, d)
        return t.view(batch, seq, n, head_dim).transpose(1, 2)

    q = apply_rope(split(x @ w["q_proj"].T, heads), theta)
    k = apply_rope(split(x @ w["k_proj"].T, kv_heads), theta)
    v = split(x @ w["v_proj"].T, kv_heads)
    k, v = repeat_kv(k, heads // kv_heads), repeat_kv(v, heads // kv_heads)
    scores = q @ k.transpose(-1, -2) / math.sqrt(head_dim) + causal_mask(seq)
    out = scores.softmax(dim=-1) @ v  # (batch, heads, seq, d)
    return out.transpose(1, 2).reshape(batch, seq, heads * head_dim) @ w["o_proj"].T


def swiglu(x: torch.Tensor, w: dict[str, torch.Tensor]) -> torch.Tensor:
    return (torch.nn.functional.silu(x @ w["gate_proj"].T) * (x @ w["up_proj"].T)) @ w["down_proj"].T


def lm_head(state: dict[str, torch.Tensor]) -> torch.Tensor:
    return state["lm_head.weight"]


def reference_logits(state: dict[str, torch.Tensor], config, ids: torch.Tensor) -> torch.Tensor:
    """Logits of the released network, computed from its state dict with plain tensor operations."""
    eps = config.rms_norm_eps
    x = state["model.embed_tokens.weight"][ids]
    for layer in range(config.num_hidden_layers):
        prefix = f"model.layers.{layer}."
        attn = {n: state[f"{prefix}self_attn.{n}.weight"] for n in ("q_proj", "k_proj", "v_proj", "o_proj")}
        mlp = {n: state[f"{prefix}mlp.{n}.weight"] for n in ("gate_proj", "up_proj", "down_proj")}
        x = x + attention(rms_norm(x, state[f"{prefix}input_layernorm.weight"], eps), attn, config)
        x = x + swiglu(rms_norm(x, state[f"{prefix}post_attention_layernorm.weight"], eps), mlp)
    return rms_norm(x, state["model.norm.weight"], eps) @ lm_head(state).T


# (name, config overrides, batch, seq, embedding scale). Widths, depths, lengths and head groupings differ; one
# case keeps activations near the eps so that the eps matters, one uses a non-default eps and theta.
CASES = [
    ("tiny-mha", dict(), 2, 17, 1.0),
    (
        "gqa-3-per-group",
        dict(
            hidden_size=96,
            intermediate_size=256,
            num_hidden_layers=3,
            num_attention_heads=6,
            num_key_value_heads=2,
        ),
        3,
        33,
        1.0,
    ),
    (
        "mqa-one-kv-head",
        dict(
            hidden_size=128,
            intermediate_size=344,
            num_hidden_layers=1,
            num_attention_heads=8,
            num_key_value_heads=1,
        ),
        1,
        5,
        1.0,
    ),
    (
        "gqa-eps-theta",
        dict(
            hidden_size=48,
            intermediate_size=128,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            rms_norm_eps=1e-2,
            rope_theta=500_000.0,
        ),
        2,
        64,
        1.0,
    ),
    ("activations-near-eps", dict(num_hidden_layers=3), 2, 24, 1e-3),
]


def build(overrides: dict, embed_scale: float, attn_implementation: str = "sdpa", seed: int = 0):
    """A model with weights drawn so that every piece shows in the logits (norm gains not all ones, logits ~1)."""
    config = make_config("skywork-tiny", vocab_size=300, **overrides)
    assert config.rope_parameters.get("rope_type", "default") == "default"  # rope_scaling absent
    assert not config.tie_word_embeddings
    torch.manual_seed(seed)
    model = SkyworkForCausalLM(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.copy_(1 + 0.2 * torch.randn_like(param))
            elif name == "model.embed_tokens.weight":
                param.normal_(0, embed_scale)
            else:
                param.normal_(0, param.shape[1] ** -0.5)
    model.set_attn_implementation(attn_implementation)
    return model.eval(), config


def compare(overrides: dict, batch: int, seq: int, embed_scale: float, attn_implementation: str = "sdpa"):
    """(our logits, reference logits) for random ids."""
    model, config = build(overrides, embed_scale, attn_implementation)
    ids = torch.randint(0, config.vocab_size, (batch, seq), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return model(ids).logits, reference_logits(model.state_dict(), config, ids)


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
@pytest.mark.parametrize(
    ("name", "overrides", "batch", "seq", "embed_scale"), CASES, ids=[c[0] for c in CASES]
)
def test_logits_match_the_reference(name, overrides, batch, seq, embed_scale, attn_implementation):
    ours, reference = compare(overrides, batch, seq, embed_scale, attn_implementation)
    assert ours.dtype == torch.float32 and ours.shape == reference.shape
    assert reference.abs().max() > 0.5, "logits too small for an absolute tolerance to mean anything"
    torch.testing.assert_close(ours, reference, atol=ATOL, rtol=0)


def _interleaved_rope(x: torch.Tensor, theta: float) -> torch.Tensor:
    """GPT-J style RoPE: rotates pairs of adjacent dims (2i, 2i+1) instead of (i, i + d/2)."""
    head_dim, seq = x.shape[-1], x.shape[-2]
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(seq, dtype=torch.float32), inv_freq).repeat_interleave(2, dim=-1)
    pairs = torch.stack((-x[..., 1::2], x[..., ::2]), dim=-1).flatten(-2)
    return x * angles.cos() + pairs * angles.sin()


BUGS = {
    "interleaved-rope": ("apply_rope", _interleaved_rope),
    "eps-not-from-config": ("rms_norm", lambda x, weight, eps, _norm=rms_norm: _norm(x, weight, 1e-5)),
    "tiled-kv-heads": ("repeat_kv", lambda x, groups: x.repeat(1, groups, 1, 1)),
    "no-causal-mask": ("causal_mask", lambda seq: torch.zeros(seq, seq)),
    "tied-head": ("lm_head", lambda state: state["model.embed_tokens.weight"]),
    "theta-not-from-config": (
        "apply_rope",
        lambda x, theta, _rope=apply_rope: _rope(x, 10_000.0),
    ),
}
# The case that exposes each bug (GQA bugs need several query heads per group; eps needs small activations).
BUG_CASES = {
    "interleaved-rope": "tiny-mha",
    "eps-not-from-config": "activations-near-eps",
    "tiled-kv-heads": "gqa-3-per-group",
    "no-causal-mask": "tiny-mha",
    "tied-head": "tiny-mha",
    "theta-not-from-config": "gqa-eps-theta",
}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_the_comparison_catches_deliberate_bugs(bug, monkeypatch):
    function, wrong = BUGS[bug]
    monkeypatch.setattr(sys.modules[__name__], function, wrong)
    _, overrides, batch, seq, embed_scale = next(c for c in CASES if c[0] == BUG_CASES[bug])
    ours, reference = compare(overrides, batch, seq, embed_scale)
    assert (ours - reference).abs().max() > 100 * ATOL, f"{bug} went unnoticed"
