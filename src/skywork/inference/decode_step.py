"""One decoding step of a LLaMA-layout model, without transformers' per-call machinery.

At one token per row, a small model's forward through ``LlamaForCausalLM.__call__`` spends much of its time in
transformers' Python (kwarg deprecation and output-capture decorators, config lookups, building the 4D mask,
gradient-checkpointing wrappers), not in matmuls: about half on a 2-layer model; on the demo's 8-layer model this
step saves 8-12% per token (docs/serving.md). vLLM and gpt-fast avoid it with their own model code; we do not
rewrite the model. This step calls the model's **own modules** (its linears, so
int8 and LoRA layers work unchanged; its RMSNorms; its rotary embedding, so every RoPE type, dynamic included;
transformers' attention function for the model's ``attn_implementation``; the ``DynamicCache``'s own update) in
the order ``LlamaDecoderLayer.forward`` does, and only skips the wrappers. So its logits are the forward's, bit
for bit (tested in tests/inference/test_decode_step.py against ``model(...)``, padded batches, GQA, RoPE
scaling, eager and SDPA attention, int8).

Used by ``DecodeBatch`` for every step after prefill (prefill, with its images and many tokens, stays on the
model's forward). ``DecodeStep.for_model(model)`` returns None for anything else (another architecture,
``LlavaForConditionalGeneration`` with a non-LLaMA language model, hooks the step would bypass), and the engine
then calls the model as before.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache, LlamaModel
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb, eager_attention_forward

_ATTENTION_KINDS = ("sdpa", "eager")


def _decoder_and_head(model) -> tuple[LlamaModel, torch.nn.Module] | None:
    """The LLaMA decoder and output layer of a causal LM or of a LLaVA model (whose language model is LLaMA)."""
    if hasattr(model, "get_base_model") and callable(model.get_base_model):  # a PEFT wrapper
        model = model.get_base_model()
    inner, head = getattr(model, "model", None), getattr(model, "lm_head", None)
    if isinstance(getattr(inner, "language_model", None), LlamaModel):  # LLaVA: model.model.language_model
        inner = inner.language_model
    if not isinstance(inner, LlamaModel) or not isinstance(head, torch.nn.Module):
        return None
    return inner, head


class DecodeStep:
    """``step(tokens, positions, mask, cache) -> logits``: one new token per row through the model's modules."""

    def __init__(self, decoder: LlamaModel, head: torch.nn.Module):
        self.decoder, self.head = decoder, head
        implementation = decoder.config._attn_implementation
        self.attention = ALL_ATTENTION_FUNCTIONS.get_interface(implementation, eager_attention_forward)
        self.additive_mask = implementation == "eager"  # eager adds a float mask, SDPA takes booleans
        self._forward = self._layers
        self.compiled = False

    def compile(self) -> DecodeStep:
        """Run the step through ``torch.compile`` (inductor, dynamic rows and cache length): the elementwise work
        between the matmuls (norms, RoPE, residuals) fuses into a few C++ kernels and the per-op dispatch goes.
        Logits are no longer bit-identical to the forward (fused kernels round differently); greedy text matched
        on the demo model. The first call per graph compiles (two graphs: one row, several rows; tens of seconds
        on 2 cores), see :meth:`skywork.inference.GenerationEngine.warm_up`; compile and run in one thread.
        """
        self._forward = torch.compile(self._layers, dynamic=True)
        self.compiled = True
        return self

    @classmethod
    def for_model(cls, model) -> DecodeStep | None:
        """A step for ``model``, or None where it would not compute exactly what the model's forward does."""
        found = _decoder_and_head(model)
        if found is None:
            return None
        decoder, head = found
        config = decoder.config
        if config._attn_implementation not in _ATTENTION_KINDS or getattr(config, "pretraining_tp", 1) > 1:
            return None
        modules = [decoder, head, *decoder.modules()]
        if any(
            m._forward_hooks or m._forward_pre_hooks for m in modules if not isinstance(m, torch.nn.Linear)
        ):
            return None  # e.g. accelerate's offload hooks: the step would bypass them
        if decoder.gradient_checkpointing and decoder.training:
            return None
        return cls(decoder, head)

    def _mask(self, mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor | None:
        """(rows, kv) 0/1 -> what the attention function takes: None when nothing is masked (as transformers;
        compiled, only for one row, so that one graph serves every batch of several rows)."""
        if (mask.shape[0] == 1 or not self.compiled) and bool(mask.all()):
            return None
        keep = mask.bool()[:, None, None, :]
        if not self.additive_mask:
            return keep
        return torch.zeros(keep.shape, dtype=dtype, device=mask.device).masked_fill(
            ~keep, torch.finfo(dtype).min
        )

    @torch.no_grad()
    def __call__(
        self, tokens: torch.Tensor, positions: torch.Tensor, mask: torch.Tensor, cache: DynamicCache
    ) -> torch.Tensor:
        """Logits (rows, vocab) of the next token; ``tokens`` / ``positions`` (rows,), ``mask`` (rows, kv) with
        this step's column included; the cache grows by one position per layer."""
        return self._forward(
            tokens, positions, self._mask(mask, self.decoder.embed_tokens.weight.dtype), cache
        )

    def _layers(self, tokens, positions, attention_mask, cache) -> torch.Tensor:
        decoder = self.decoder
        hidden = decoder.embed_tokens(tokens[:, None])
        rows = hidden.shape[0]
        cos, sin = decoder.rotary_emb(hidden, position_ids=positions[:, None])
        for index, layer in enumerate(decoder.layers[: decoder.config.num_hidden_layers]):
            attn = layer.self_attn
            shape = (rows, 1, -1, attn.head_dim)
            x = layer.input_layernorm(hidden)
            q = attn.q_proj(x).view(shape).transpose(1, 2)
            k = attn.k_proj(x).view(shape).transpose(1, 2)
            v = attn.v_proj(x).view(shape).transpose(1, 2)
            q, k = apply_rotary_pos_emb(q, k, cos, sin)
            k, v = cache.update(k, v, index)
            dropout = attn.attention_dropout if attn.training else 0.0
            out, _ = self.attention(attn, q, k, v, attention_mask, dropout=dropout, scaling=attn.scaling)
            hidden = hidden + attn.o_proj(out.reshape(rows, 1, -1).contiguous())
            hidden = hidden + layer.mlp(layer.post_attention_layernorm(hidden))
        return self.head(decoder.norm(hidden))[:, -1]
