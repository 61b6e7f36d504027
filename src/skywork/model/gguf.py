"""Export a model directory as a llama-architecture GGUF file for llama.cpp (and the tools built on it).

What llama.cpp's own ``convert_hf_to_gguf.py`` does for LLaMA, for our directories: hyper-parameters as
``llama.*`` keys, the SentencePiece vocabulary (pieces, scores, types) plus the chat markers at their ids, the
official chat template, and the tensors under GGUF names. Two details matter for identical outputs: q and k
projections are permuted from HF's rotate-half RoPE layout to GGML's interleaved one, and the vocabulary has
exactly as many entries as the embedding has rows (unused rows are padded as ``UNUSED`` tokens).

Weights are f16 (norms f32), or ``q8_0`` (int8 blocks of 32 with one scale each: llama.cpp's 8-bit format).
Needs the ``gguf`` package (``pip install 'skywork[gguf]'``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from skywork.tokenizer.chat import CHAT_TEMPLATE
from skywork.utils.io import atomic_path
from skywork.utils.optional import require

OUT_TYPES = ("f16", "q8_0")
# HF tensor name (per layer) -> GGUF tensor name.
_LAYER_TENSORS = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def rotate_half_to_interleaved(weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Reorder q/k projection rows per head from HF's (first half, second half) to GGML's (pairs) RoPE layout."""
    out, *rest = weight.shape
    return weight.reshape(n_heads, 2, out // n_heads // 2, *rest).swapaxes(1, 2).reshape(weight.shape)


def gguf_tensors(state_dict: dict[str, torch.Tensor], config) -> dict[str, torch.Tensor]:
    """GGUF name -> tensor (fp32, q/k permuted) for a LLaMA state dict."""
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    tensors = {
        "token_embd.weight": state_dict["model.embed_tokens.weight"],
        "output_norm.weight": state_dict["model.norm.weight"],
        "output.weight": state_dict.get("lm_head.weight", state_dict["model.embed_tokens.weight"]),
    }
    for i in range(config.num_hidden_layers):
        for hf_name, gguf_name in _LAYER_TENSORS.items():
            tensor = state_dict[f"model.layers.{i}.{hf_name}"]
            if hf_name == "self_attn.q_proj.weight":
                tensor = rotate_half_to_interleaved(tensor, heads)
            elif hf_name == "self_attn.k_proj.weight":
                tensor = rotate_half_to_interleaved(tensor, kv_heads)
            tensors[f"blk.{i}.{gguf_name}"] = tensor
    return {name: t.detach().float().cpu() for name, t in tensors.items()}


def vocabulary(tokenizer, vocab_size: int) -> tuple[list[str], list[float], list[int]]:
    """(pieces, scores, token types) for every embedding row: SentencePiece pieces, added tokens, padding."""
    gguf = require("gguf", "gguf", "GGUF export")
    from sentencepiece import SentencePieceProcessor

    sp = SentencePieceProcessor(model_file=str(tokenizer.vocab_file))
    pieces, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        pieces.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        if sp.is_unknown(i):
            types.append(gguf.TokenType.UNKNOWN)
        elif sp.is_control(i):
            types.append(gguf.TokenType.CONTROL)
        elif sp.is_byte(i):
            types.append(gguf.TokenType.BYTE)
        elif sp.is_unused(i):
            types.append(gguf.TokenType.UNUSED)
        else:
            types.append(gguf.TokenType.NORMAL)
    for token, token_id in sorted(tokenizer.get_added_vocab().items(), key=lambda kv: kv[1]):
        if token_id < len(pieces):
            continue
        if token_id != len(pieces):
            raise ValueError(
                f"added token {token!r} at id {token_id} leaves a gap after id {len(pieces) - 1}"
            )
        pieces.append(token)
        scores.append(-1000.0)
        types.append(gguf.TokenType.CONTROL)
    if len(pieces) > vocab_size:
        raise ValueError(f"the tokenizer has {len(pieces)} tokens, the embedding only {vocab_size} rows")
    for i in range(len(pieces), vocab_size):
        pieces.append(f"[PAD{i}]")
        scores.append(-1000.0)
        types.append(gguf.TokenType.UNUSED)
    return pieces, scores, [int(t) for t in types]


def export_gguf(model_dir: str | Path, out_file: str | Path, outtype: str = "f16") -> Path:
    """Write ``out_file`` (llama architecture) from any model directory we load; returns its path."""
    gguf = require("gguf", "gguf", "GGUF export")
    from skywork.model.loading import load_model
    from skywork.tokenizer import load as load_tokenizer

    if outtype not in OUT_TYPES:
        raise ValueError(f"unknown GGUF type {outtype!r}; known: {', '.join(OUT_TYPES)}")
    model_dir, out_file = Path(model_dir), Path(out_file)
    model = load_model(model_dir, dtype=torch.float32)
    config = model.config
    tokenizer = load_tokenizer(model_dir)
    if not hasattr(tokenizer, "vocab_file"):
        raise ValueError(f"{model_dir}: GGUF export needs the SentencePiece tokenizer.model")
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    rope = getattr(config, "rope_parameters", None) or {}
    with atomic_path(out_file) as tmp:
        writer = gguf.GGUFWriter(str(tmp), "llama")
        writer.add_name(model_dir.resolve().name)
        writer.add_context_length(config.max_position_embeddings)
        writer.add_embedding_length(config.hidden_size)
        writer.add_block_count(config.num_hidden_layers)
        writer.add_feed_forward_length(config.intermediate_size)
        writer.add_rope_dimension_count(head_dim)
        writer.add_head_count(config.num_attention_heads)
        writer.add_head_count_kv(config.num_key_value_heads)
        writer.add_layer_norm_rms_eps(config.rms_norm_eps)
        writer.add_rope_freq_base(float(rope.get("rope_theta", getattr(config, "rope_theta", 10000.0))))
        writer.add_vocab_size(config.vocab_size)
        file_type = gguf.LlamaFileType.MOSTLY_Q8_0 if outtype == "q8_0" else gguf.LlamaFileType.MOSTLY_F16
        writer.add_file_type(file_type)
        pieces, scores, types = vocabulary(tokenizer, config.vocab_size)
        writer.add_tokenizer_model("llama")
        writer.add_token_list(pieces)
        writer.add_token_scores(scores)
        writer.add_token_types(types)
        writer.add_bos_token_id(tokenizer.bos_token_id)
        writer.add_eos_token_id(tokenizer.eos_token_id)
        writer.add_unk_token_id(tokenizer.unk_token_id)
        writer.add_add_bos_token(True)
        writer.add_add_eos_token(False)
        writer.add_chat_template(CHAT_TEMPLATE)
        for name, tensor in gguf_tensors(model.state_dict(), config).items():
            _add_tensor(writer, gguf, name, tensor.numpy(), outtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return out_file


def _add_tensor(writer, gguf, name: str, data: np.ndarray, outtype: str) -> None:
    if data.ndim == 1:  # norms stay f32, as llama.cpp's converter keeps them
        writer.add_tensor(name, data.astype(np.float32))
    elif outtype == "q8_0" and data.shape[-1] % 32 == 0:
        quantized = gguf.quants.quantize(data.astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
        writer.add_tensor(
            name, quantized, raw_shape=quantized.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0
        )
    else:
        writer.add_tensor(name, data.astype(np.float16))
