"""RoPE scaling: a model directory's config rewritten so its positions reach ``factor`` times further.

Every method is expressed in transformers' own RoPE machinery (``config.rope_parameters`` in transformers 5,
read back from the legacy ``rope_scaling`` / ``rope_theta`` keys as well), so an extended directory, and its
plain-LLaMA export, runs unchanged in any tool that reads a LLaMA config. The weights are not touched: only the
rotary frequencies change, which is why :func:`extend_model_dir` copies the weight files byte for byte.

Methods (``original`` = the length the model was trained at, ``factor`` = new length / original):

- ``linear``: position interpolation (Chen et al. 2023): every frequency divided by ``factor``.
- ``dynamic``: dynamic NTK: the base grows with the running sequence length once it passes ``original``.
  transformers reads the *original* length from ``max_position_embeddings`` for this type, so the extended
  config keeps ``max_position_embeddings = original`` (the scaling starts there; the new reach is not stored).
- ``ntk``: NTK-aware base change (static; what LongSkywork's continued pretraining used, spec 1.2):
  ``rope_theta * factor ** (d / (d - 2))``, rope type ``default``. The lowest frequency is divided by exactly
  ``factor`` and the highest is kept, so any tool that reads ``rope_theta`` runs it.
- ``yarn``: YaRN (Peng et al. 2023): NTK-by-parts interpolation plus an attention temperature.
- ``llama3``: LLaMA-3.1's frequency-banded scaling (``low_freq_factor`` 1, ``high_freq_factor`` 4 by default).

``max_position_embeddings`` of the extended config is ``original * factor`` (``dynamic`` aside). Note that the
released Skywork-13B config already says 131072 although it was trained at 4096 (spec 3.1): that number is an
upper bound nothing checks, not the trained length, so :func:`extend_config` never infers ``original`` from it
when the caller knows better (``original_length``; the presets' ``train_seq_len``).
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

from transformers import LlamaConfig

from skywork.utils.io import atomic_dir, atomic_write_json

METHODS = ("linear", "dynamic", "ntk", "yarn", "llama3")
# rope_type of each method in transformers' ROPE_INIT_FUNCTIONS ("default" = plain RoPE with a new theta).
ROPE_TYPES = {"linear": "linear", "dynamic": "dynamic", "ntk": "default", "yarn": "yarn", "llama3": "llama3"}
LLAMA3_DEFAULTS = {"low_freq_factor": 1.0, "high_freq_factor": 4.0}


def head_dim_of(config: LlamaConfig) -> int:
    return getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads


def ntk_theta(theta: float, factor: float, head_dim: int) -> float:
    """NTK-aware base: the lowest rotary frequency slows by exactly ``factor``, the highest stays."""
    return float(theta * factor ** (head_dim / (head_dim - 2)))


def current_rope(config: LlamaConfig) -> dict:
    """The config's RoPE parameters in transformers-5 form (``rope_type``, ``rope_theta``, ...)."""
    rope = dict(getattr(config, "rope_parameters", None) or {})
    rope.setdefault("rope_type", "default")
    rope.setdefault("rope_theta", getattr(config, "rope_theta", 10000.0))
    return rope


def scaled_rope(method: str, factor: float, original_length: int, rope_theta: float, head_dim: int, **extra):
    """(rope_parameters, max_position_embeddings) for one method; ``extra`` adds method keys (beta_fast, ...)."""
    if method not in METHODS:
        raise ValueError(f"unknown RoPE scaling method {method!r}; known: {', '.join(METHODS)}")
    if factor < 1.0:
        raise ValueError(f"factor must be >= 1 (got {factor}); it is the new length over the original")
    if original_length < 1:
        raise ValueError(f"original_length must be positive (got {original_length})")
    rope: dict = {"rope_type": ROPE_TYPES[method], "rope_theta": float(rope_theta)}
    if method == "ntk":
        rope["rope_theta"] = ntk_theta(rope_theta, factor, head_dim)
    else:
        rope["factor"] = float(factor)
    if method in ("yarn", "llama3"):
        rope["original_max_position_embeddings"] = int(original_length)
    if method == "llama3":
        rope.update(LLAMA3_DEFAULTS)
    rope.update(extra)
    max_positions = int(original_length) if method == "dynamic" else int(round(original_length * factor))
    return rope, max_positions


def extend_config(
    config: LlamaConfig, factor: float, method: str, original_length: int | None = None, **extra
) -> LlamaConfig:
    """A copy of ``config`` whose RoPE reaches ``factor`` x ``original_length`` positions.

    ``original_length`` defaults to ``max_position_embeddings`` (give the trained length when the config
    overstates it, as the released Skywork-13B's does). A config that is already scaled is refused: extend the
    original, so that ``factor`` always means "times the trained length".
    """
    rope = current_rope(config)
    if rope["rope_type"] != "default" or "longctx_extension" in config.to_dict():
        raise ValueError(
            f"the model is already extended ({rope['rope_type']}, {rope}); extend the original model instead"
        )
    original = int(original_length or config.max_position_embeddings)
    parameters, max_positions = scaled_rope(
        method, factor, original, rope["rope_theta"], head_dim_of(config), **extra
    )
    new = copy.deepcopy(config)
    new.rope_parameters = parameters
    new.max_position_embeddings = max_positions
    new.standardize_rope_params()
    new.validate_rope()
    # Provenance in the config (transformers keeps unknown keys): what was done, from which original length.
    new.longctx_extension = {"method": method, "factor": float(factor), "original_length": original}
    return new


def legacy_rope_keys(config: LlamaConfig) -> dict:
    """The pre-transformers-5 spelling (``rope_theta`` + ``rope_scaling``) of the same RoPE, for older tools."""
    rope = current_rope(config)
    scaling = {k: v for k, v in rope.items() if k != "rope_theta"}
    if scaling["rope_type"] == "default":
        return {"rope_theta": rope["rope_theta"], "rope_scaling": None}
    return {"rope_theta": rope["rope_theta"], "rope_scaling": scaling}


def write_config_with_legacy_keys(config: LlamaConfig, model_dir: Path) -> None:
    """``config.json`` with both spellings: transformers 5 reads ``rope_parameters``, older tools the rest."""
    data = config.to_dict()
    data.update(legacy_rope_keys(config))
    atomic_write_json(model_dir / "config.json", data)


def extend_model_dir(
    src: str | Path,
    out: str | Path,
    factor: float,
    method: str,
    original_length: int | None = None,
    **extra,
) -> Path:
    """Write ``out``: ``src``'s files with an extended ``config.json`` (weights copied as they are)."""
    from skywork.model.config import load_config

    src, out = Path(src), Path(out)
    if src.resolve() == out.resolve():
        raise ValueError("write the extended model to a new directory (OUT must differ from MODEL)")
    config = extend_config(load_config(src), factor, method, original_length, **extra)
    raw = json.loads((src / "config.json").read_text())
    with atomic_dir(out) as tmp:
        for path in src.iterdir():
            if path.is_file() and path.name != "config.json":
                shutil.copy2(path, tmp / path.name)
        config.architectures = raw.get("architectures", config.architectures)
        # auto_map is dropped (load_config does): the release's remote code may not know the new rope types.
        write_config_with_legacy_keys(config, tmp)
    return out
