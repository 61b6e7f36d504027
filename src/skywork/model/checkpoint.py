"""HF model directories on disk: strict validation before loading, and the one writer of such a directory.

transformers loads LLaMA-named weights itself; what it does not do is fail loudly: an unknown tensor is a
warning and a missing one is silently re-initialised. :func:`validate_checkpoint` reads only tensor headers
(safetensors metadata, or a memory-mapped ``torch.load(weights_only=True)``) and raises
:class:`CheckpointError` naming the file and the tensor before any weights are materialised.

:func:`save_model_dir` writes every model directory the project produces (training checkpoints, exports, test
fixtures) in the official layout: ``config.json``, weight shards with their index, tokenizer files.

This module knows no model class of its own: the expected tensors come from the class the caller passes
(``SkyworkForCausalLM.from_pretrained`` passes itself), so ``modeling`` stands above ``checkpoint``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedModel

from skywork.utils.io import atomic_path, atomic_write_json

SAFE_INDEX, SAFE_SINGLE = "model.safetensors.index.json", "model.safetensors"
BIN_INDEX, BIN_SINGLE = "pytorch_model.bin.index.json", "pytorch_model.bin"
# Buffers some LLaMA-family exports saved; they are recomputed from the config, so they may be present or not.
IGNORED_TENSORS = re.compile(r"(^|\.)rotary_emb\.inv_freq$")
# Everything a tokenizer directory may hold; copied as is next to the weights when present.
TOKENIZER_FILES = (
    "tokenizer.model",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "added_tokens.json",
)


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded as is; the message names the file and the tensor."""


def weight_files(model_dir: str | Path) -> tuple[dict[str, str] | None, list[Path]]:
    """(weight_map or None, shard files) for a directory, preferring safetensors over ``.bin``."""
    model_dir = Path(model_dir)
    for index_name, single in ((SAFE_INDEX, SAFE_SINGLE), (BIN_INDEX, BIN_SINGLE)):
        index = model_dir / index_name
        if index.exists():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
            except (json.JSONDecodeError, KeyError) as err:
                raise CheckpointError(f"{index}: not a valid weight index ({err})") from None
            return weight_map, sorted({model_dir / f for f in weight_map.values()})
        if (model_dir / single).exists():
            return None, [model_dir / single]
    raise CheckpointError(
        f"{model_dir}: no weights found (expected {SAFE_SINGLE}, {SAFE_INDEX}, {BIN_SINGLE} or {BIN_INDEX})"
    )


def read_shapes(shard: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape for one shard file without loading the data."""
    try:
        if shard.suffix == ".safetensors":
            with safe_open(str(shard), framework="pt") as handle:
                return {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
        state = torch.load(shard, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # truncated or corrupt file: name it
        raise CheckpointError(f"{shard}: cannot read weights (truncated or corrupt file?): {err}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{shard}: expected a state dict, found {type(state).__name__}")
    return {name: tuple(t.shape) for name, t in state.items()}


def expected_shapes(
    config: LlamaConfig, model_class: type[PreTrainedModel] = LlamaForCausalLM
) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of ``model_class(config)``, built on the meta device (no memory, even for 13B)."""
    with torch.device("meta"):
        model = model_class(config)
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def validate_checkpoint(
    model_dir: str | Path, config: LlamaConfig, model_class: type[PreTrainedModel] = LlamaForCausalLM
) -> None:
    """Raise :class:`CheckpointError` for a missing shard, a corrupt file, an unknown, missing or mis-shaped tensor.

    The expected tensors are those of ``model_class``; the default, transformers' LLaMA, has exactly the Skywork
    release's tensor names (spec 3.3).
    """
    model_dir = Path(model_dir)
    weight_map, shards = weight_files(model_dir)
    expected = expected_shapes(config, model_class)
    if config.tie_word_embeddings:
        expected.pop("lm_head.weight", None)
    for shard in shards:
        if not shard.exists():
            example = next((t for t, f in (weight_map or {}).items() if model_dir / f == shard), "?")
            raise CheckpointError(
                f"{shard}: shard file is missing (listed in the index for tensor {example!r})"
            )
    seen: dict[str, Path] = {}
    for shard in shards:
        for name, shape in read_shapes(shard).items():
            if IGNORED_TENSORS.search(name):
                continue
            if name not in expected:
                raise CheckpointError(
                    f"{shard}: unknown tensor {name!r} (shape {list(shape)}) for a "
                    f"{type(config).__name__} with {config.num_hidden_layers} layers"
                )
            if shape != expected[name]:
                raise CheckpointError(
                    f"{shard}: tensor {name!r} has shape {list(shape)}, the config expects "
                    f"{list(expected[name])}"
                )
            seen[name] = shard
    if weight_map:
        for name, file in weight_map.items():
            if name not in seen and not IGNORED_TENSORS.search(name):
                raise CheckpointError(
                    f"{model_dir / file}: tensor {name!r} is listed in the index but not in the file"
                )
    missing = sorted(set(expected) - set(seen))
    if missing:
        raise CheckpointError(
            f"{model_dir}: {len(missing)} tensor(s) missing from the checkpoint, e.g. {missing[0]!r}"
        )


def save_sharded(
    state_dict: dict[str, torch.Tensor],
    out_dir: str | Path,
    fmt: str = "safetensors",
    max_shard_bytes: int = 5 * 2**30,
) -> list[Path]:
    """Write a state dict as HF shards + index (the official release layout), atomically per file.

    ``fmt="bin"`` writes ``pytorch_model-0000x-of-0000y.bin`` like the official Skywork release; safetensors is
    the default everywhere else.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in state_dict.items():
        nbytes = tensor.numel() * tensor.element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensor.detach().contiguous().clone()
        size += nbytes
    ext, index_name, single = (
        ("safetensors", SAFE_INDEX, SAFE_SINGLE) if fmt == "safetensors" else ("bin", BIN_INDEX, BIN_SINGLE)
    )
    prefix = "model" if fmt == "safetensors" else "pytorch_model"
    paths, weight_map = [], {}
    for i, shard in enumerate(shards, start=1):
        name = single if len(shards) == 1 else f"{prefix}-{i:05d}-of-{len(shards):05d}.{ext}"
        with atomic_path(out_dir / name) as tmp:
            if fmt == "safetensors":
                save_file(shard, str(tmp), metadata={"format": "pt"})
            else:
                torch.save(shard, tmp)
        weight_map.update({t: name for t in shard})
        paths.append(out_dir / name)
    if len(shards) > 1:
        total = sum(t.numel() * t.element_size() for t in state_dict.values())
        atomic_write_json(out_dir / index_name, {"metadata": {"total_size": total}, "weight_map": weight_map})
    return paths


def save_model_dir(
    out_dir: str | Path,
    config,
    state_dict: dict[str, torch.Tensor],
    *,
    architecture: str | None = None,
    tokenizer_dir: str | Path | None = None,
    fmt: str = "safetensors",
    max_shard_bytes: int = 5 * 2**30,
    generation_config=None,
) -> Path:
    """The one writer of an HF model directory: config, weight shards (+ index), tokenizer files, generation config.

    Writes into ``out_dir`` (the caller wraps it in ``atomic_dir`` when the whole directory must appear at once).
    Tied heads are not stored twice. Used by training checkpoints, model export and the test builders.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if architecture is not None:
        config.architectures = [architecture]
    # Training turns the KV cache off (config.use_cache = False); a directory is for whoever loads it next, and
    # transformers' generate reads use_cache from config.json: saved off, generate re-ran the whole sequence at
    # every token (3x slower on the demo model). Saved on, the caller's config left as it was.
    configs = [c for c in (config, getattr(config, "text_config", None)) if c is not None]
    saved = [getattr(c, "use_cache", None) for c in configs]
    for c in configs:
        c.use_cache = True
    try:
        config.save_pretrained(out_dir)
    finally:
        for c, value in zip(configs, saved, strict=True):
            if value is None:
                del c.use_cache
            else:
                c.use_cache = value
    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    if getattr(config, "tie_word_embeddings", False):
        tensors.pop("lm_head.weight", None)
    save_sharded(tensors, out_dir, fmt=fmt, max_shard_bytes=max_shard_bytes)
    if generation_config is not None:
        generation_config.save_pretrained(out_dir)
    if tokenizer_dir is not None:
        for name in TOKENIZER_FILES:
            if (Path(tokenizer_dir) / name).exists():
                shutil.copy2(Path(tokenizer_dir) / name, out_dir / name)
    return out_dir
