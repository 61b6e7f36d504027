"""A model directory that vLLM serves as is, prepared from any of ours (Skywork, official release, plain LLaMA).

vLLM runs in its own environment without our package, so everything it needs is written out as plain files:

- weights as ``LlamaForCausalLM`` (:func:`skywork.model.export.export_llama`, bf16, safetensors);
- a ``tokenizers`` ``tokenizer.json`` giving exactly our tokenizer's ids (the chat markers ``[USER]``, ``[BOT]``,
  ``[SEP]`` as single special tokens), named ``PreTrainedTokenizerFast``: transformers' own LLaMA conversion of
  ``tokenizer.model`` does not reproduce SentencePiece's ids, so vLLM must not rebuild it;
- the official chat template (``chat_template.jinja`` and in ``tokenizer_config.json``), with special tokens
  recognised in the rendered prompt, so a chat request's prompt is token-identical to ``encode_chat``;
- ``generation_config.json`` with the official demo's sampling defaults and both stop ids (``</s>``, ``[SEP]``),
  which vLLM applies to any request that leaves them unset.

With ``quantize="int8"`` the linear layers (all but ``lm_head``) are written as a compressed-tensors **W8A8
int8** checkpoint (``format: int-quantized``; int8 weights with one symmetric scale per output channel, the
same rounding as ``skywork quantize``; activations quantized per token at run time), the int8 format vLLM
serves on x86 CPUs and on NVIDIA GPUs from Turing on (llm-compressor's layout, written here without it).

The result is cached under ``cache_root/<digest of the source directory>``: a second ``serve`` starts at once.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from skywork.inference import SamplingParams
from skywork.model.export import export_llama
from skywork.tokenizer.chat import CHAT_MARKERS, CHAT_TEMPLATE, SEP, encode_chat
from skywork.utils.digest import directory_digest, json_digest
from skywork.utils.io import atomic_dir, atomic_write_json, atomic_write_text

# Bump when the prepared layout changes, so old cache entries are not reused.
PREPARE_VERSION = 1
CACHE_ENV = "SKYWORK_CACHE"
# Texts whose ids must agree between our tokenizer and the written tokenizer.json (plus a rendered chat).
_CHECK_TEXTS = [
    "Hello world",
    " leading and trailing ",
    "digits 1234567890 and 3.14159",
    "def f(x):\n    return x ** 2  # comment\n",
    "今天天气很好，我们一起去公园散步。",
    "中文English混合2023年12月31日",
    "emoji 😀🎉 and control \x01 chars",
]
_CHECK_CHAT = [
    {"role": "system", "content": "You are helpful."},
    {"role": "user", "content": "hi there"},
    {"role": "assistant", "content": "hello, how can I help?"},
    {"role": "user", "content": "1+1等于几？"},
]


class PrepareError(ValueError):
    """The source directory cannot be served by vLLM as is; the message says why."""


def default_cache_root() -> Path:
    """``$SKYWORK_CACHE/vllm`` or ``~/.cache/skywork/vllm``."""
    base = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "skywork"
    return Path(base) / "vllm"


def prepared_dir_for(
    model_dir: str | Path, cache_root: str | Path | None = None, quantize: str | None = None
) -> Path:
    """Where :func:`prepare_vllm_dir` puts (or finds) the prepared copy of ``model_dir``."""
    source = directory_digest(model_dir)
    fields = {"source": source, "version": PREPARE_VERSION} | ({"quantize": quantize} if quantize else {})
    suffix = f"-{quantize}" if quantize else ""
    return (
        Path(cache_root or default_cache_root())
        / f"{Path(model_dir).resolve().name}{suffix}-{json_digest(fields)}"
    )


def prepare_vllm_dir(
    model_dir: str | Path, cache_root: str | Path | None = None, quantize: str | None = None
) -> Path:
    """The vLLM-ready copy of ``model_dir``, written once per source content (atomically) and then reused."""
    from skywork.model.quantize import is_quantized_dir

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").exists():
        raise PrepareError(f"{model_dir}: not a model directory (no config.json)")
    if quantize not in (None, "int8"):
        raise PrepareError(f"unknown quantization {quantize!r} for vLLM; choose int8")
    if is_quantized_dir(model_dir):
        raise PrepareError(
            f"{model_dir}: a `skywork quantize` int8 directory is served by the builtin engine only; for vLLM "
            "serve the bf16 source with --quantize int8 (a compressed-tensors W8A8 copy vLLM runs on CPU and GPU)"
        )
    out = prepared_dir_for(model_dir, cache_root, quantize)
    if (out / "config.json").exists():
        return out
    from skywork.tokenizer import load as load_tokenizer

    tokenizer = load_tokenizer(model_dir)  # ensures the chat markers, as the official client does
    with atomic_dir(out) as tmp:
        export_llama(model_dir, tmp, dtype=torch.bfloat16)
        vocab_size = json.loads((tmp / "config.json").read_text())["vocab_size"]
        marker_ids = tokenizer.convert_tokens_to_ids(list(CHAT_MARKERS))
        if max(marker_ids) >= vocab_size:
            raise PrepareError(
                f"{model_dir}: the chat markers need ids up to {max(marker_ids)} but the model's embedding has "
                f"{vocab_size} rows (train with a tokenizer that reserves [USER], [BOT], [SEP])"
            )
        write_vllm_tokenizer(tokenizer, tmp)
        atomic_write_json(tmp / "generation_config.json", official_generation_config(tokenizer))
        if quantize == "int8":
            write_w8a8(tmp)
    return out


W8A8_IGNORE = ("lm_head",)


def w8a8_config(ignore: tuple[str, ...] = W8A8_IGNORE) -> dict:
    """compressed-tensors' ``quantization_config`` for int8 weights per channel, int8 activations per token."""
    return {
        "quant_method": "compressed-tensors",
        "format": "int-quantized",
        "quantization_status": "compressed",
        "config_groups": {
            "group_0": {
                "targets": ["Linear"],
                "weights": {"num_bits": 8, "type": "int", "symmetric": True, "strategy": "channel",
                            "dynamic": False, "group_size": None, "observer": "minmax"},
                "input_activations": {"num_bits": 8, "type": "int", "symmetric": True, "strategy": "token",
                                      "dynamic": True, "group_size": None, "observer": None},
                "output_activations": None,
            }
        },
        "ignore": list(ignore),
        "kv_cache_scheme": None,
    }  # fmt: skip


def write_w8a8(model_dir: Path, ignore: tuple[str, ...] = W8A8_IGNORE) -> None:
    """Rewrite an exported LLaMA directory in place: every 2-D ``*_proj.weight`` as int8 + ``weight_scale``."""
    from safetensors.torch import load_file, save_file

    from skywork.model.checkpoint import weight_files

    for shard in weight_files(model_dir)[1]:
        tensors = load_file(str(shard))
        out: dict[str, torch.Tensor] = {}
        for name, tensor in tensors.items():
            module = name.removesuffix(".weight")
            if name.endswith("_proj.weight") and tensor.ndim == 2 and module.split(".")[-1] not in ignore:
                weight = tensor.float()
                scale = weight.abs().amax(dim=1, keepdim=True).clamp(min=1e-8) / 127.0
                out[name] = torch.round(weight / scale).clamp(-127, 127).to(torch.int8)
                out[f"{module}.weight_scale"] = scale.to(tensor.dtype)
            else:
                out[name] = tensor
        save_file(out, str(shard), metadata={"format": "pt"})
    index = model_dir / "model.safetensors.index.json"
    if index.exists():
        data = json.loads(index.read_text())
        weight_map = data["weight_map"]
        for name in list(weight_map):
            if name.endswith("_proj.weight") and name.removesuffix(".weight").split(".")[-1] not in ignore:
                weight_map[name.removesuffix(".weight") + ".weight_scale"] = weight_map[name]
        atomic_write_json(index, data)
    config_file = model_dir / "config.json"
    config = json.loads(config_file.read_text())
    config["quantization_config"] = w8a8_config(ignore)
    atomic_write_json(config_file, config)


def official_generation_config(tokenizer) -> dict:
    """The official demo's sampling defaults and stop ids as a ``generation_config.json``."""
    defaults = SamplingParams.official_demo()
    return {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(SEP)],
        "pad_token_id": tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
        "do_sample": not defaults.greedy,
        "temperature": defaults.temperature,
        "top_p": defaults.top_p,
        "top_k": defaults.top_k,
        "repetition_penalty": defaults.repetition_penalty,
        "max_new_tokens": defaults.max_new_tokens,
    }


def write_vllm_tokenizer(tokenizer, out_dir: Path) -> None:
    """Write tokenizer.json / tokenizer_config.json / chat template for ``tokenizer``; fail unless ids agree."""
    fast = _fast_tokenizer(tokenizer)
    fast.save(str(out_dir / "tokenizer.json"))
    for stale in ("added_tokens.json", "special_tokens_map.json"):
        (out_dir / stale).unlink(missing_ok=True)
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": tokenizer.bos_token,
        "eos_token": tokenizer.eos_token,
        "unk_token": tokenizer.unk_token,
        "pad_token": tokenizer.pad_token,
        "add_bos_token": True,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        # The rendered chat prompt holds the markers on purpose; they must encode as the special tokens.
        "split_special_tokens": False,
        "chat_template": CHAT_TEMPLATE,
    }
    atomic_write_json(out_dir / "tokenizer_config.json", config)
    atomic_write_text(out_dir / "chat_template.jinja", CHAT_TEMPLATE)
    _check_same_ids(tokenizer, out_dir)


def _fast_tokenizer(tokenizer):
    """Our verified ``tokenizer.json`` when the source has one, else the exact one built from tokenizer.model."""
    from sentencepiece import sentencepiece_model_pb2 as sp_pb2
    from tokenizers import AddedToken, Tokenizer

    from skywork.tokenizer.fast import NORMAL, build_fast_tokenizer

    if getattr(tokenizer, "is_fast", False):
        fast = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    else:
        proto = sp_pb2.ModelProto()
        proto.ParseFromString(Path(tokenizer.vocab_file).read_bytes())
        specials = [p.piece for p in proto.pieces if p.type != NORMAL and not p.piece.startswith("<0x")]
        fast = build_fast_tokenizer(proto, specials)
    # Markers (and any other added token) at the ids our tokenizer gives them, in id order.
    added = sorted(tokenizer.get_added_vocab().items(), key=lambda kv: kv[1])
    for token, token_id in added:
        if fast.token_to_id(token) is None:
            if fast.get_vocab_size(with_added_tokens=True) != token_id:
                raise PrepareError(
                    f"added token {token!r} has id {token_id}, cannot place it in tokenizer.json"
                )
            fast.add_special_tokens([AddedToken(token, special=True, normalized=False)])
    for token, token_id in added:
        if fast.token_to_id(token) != token_id:
            raise PrepareError(
                f"token {token!r}: id {token_id} in our tokenizer, {fast.token_to_id(token)} written"
            )
    return fast


def _check_same_ids(tokenizer, out_dir: Path) -> None:
    """Load the written files as vLLM will (generic fast class) and compare ids with our tokenizer."""
    from transformers import PreTrainedTokenizerFast

    written = PreTrainedTokenizerFast.from_pretrained(str(out_dir))
    for text in _CHECK_TEXTS:
        ours, theirs = tokenizer.encode(text), written.encode(text)
        if ours != theirs:
            raise PrepareError(f"tokenizer.json disagrees with the tokenizer on {text!r}: {theirs} vs {ours}")
    expected = encode_chat(tokenizer, _CHECK_CHAT)
    rendered = written.apply_chat_template(_CHECK_CHAT, tokenize=False, add_generation_prompt=True)
    if written.encode(rendered, add_special_tokens=False) != expected:
        raise PrepareError("the written chat template does not reproduce encode_chat's ids")
