"""Training checkpoints: an HF model directory plus everything needed to continue the run exactly.

``out_dir/checkpoints/step-0000100/``::

    model/             HF model directory (config.json + model.safetensors), loadable by load_model
    optimizer.pt       full (unsharded) AdamW state, keyed by parameter name
    rng.pt             RNG states of every rank (torch, cuda, numpy, python)
    trainer_state.json step, tokens, scheduler and sampler state, skipped-step counters
    manifest.json      sha256 and size of every file above; written last

A checkpoint is built in a temporary directory and renamed into place (``atomic_dir``), so a kill leaves either
the old set or the new one. On resume each candidate is verified against its manifest, newest first; a corrupt or
incomplete one is reported with a warning and the previous one is used.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

import torch

from skywork.utils.io import atomic_dir, atomic_write_json

log = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "step-"


def checkpoint_name(step: int) -> str:
    return f"{CHECKPOINT_PREFIX}{step:07d}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(directory: Path) -> None:
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != "manifest.json")
    manifest = {
        str(p.relative_to(directory)): {"sha256": _sha256(p), "bytes": p.stat().st_size} for p in files
    }
    atomic_write_json(directory / "manifest.json", manifest)


def verify(directory: Path) -> str | None:
    """None when every file matches the manifest, else the reason the checkpoint cannot be trusted."""
    manifest_file = directory / "manifest.json"
    if not manifest_file.exists():
        return "manifest.json missing (incomplete checkpoint)"
    try:
        manifest = json.loads(manifest_file.read_text())
    except json.JSONDecodeError:
        return "manifest.json is not valid JSON"
    for rel, entry in manifest.items():
        file = directory / rel
        if not file.exists():
            return f"{rel} missing"
        if file.stat().st_size != entry["bytes"] or _sha256(file) != entry["sha256"]:
            return f"{rel} does not match its checksum"
    return None


def list_checkpoints(checkpoints_dir: Path) -> list[Path]:
    """Checkpoint directories, oldest first (temporary and hidden directories excluded)."""
    if not checkpoints_dir.is_dir():
        return []
    found = [p for p in checkpoints_dir.iterdir() if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX)]
    return sorted(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX) :]))


def latest_valid_checkpoint(checkpoints_dir: Path) -> Path | None:
    """The newest checkpoint that passes verification; corrupt ones are skipped with a warning."""
    for candidate in reversed(list_checkpoints(checkpoints_dir)):
        problem = verify(candidate)
        if problem is None:
            return candidate
        log.warning("checkpoint %s is corrupt (%s); falling back to the previous one", candidate, problem)
    return None


def save_checkpoint(
    checkpoints_dir: Path,
    step: int,
    model_config,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict,
    rng_states: list[dict],
    trainer_state: dict,
    keep_last: int,
) -> Path:
    """Write one checkpoint atomically (main process only) and delete all but the newest ``keep_last``."""
    from skywork.model.modeling import SkyworkForCausalLM

    target = checkpoints_dir / checkpoint_name(step)
    with atomic_dir(target) as tmp:
        save_model_dir(tmp / "model", model_config, model_state, SkyworkForCausalLM)
        torch.save(optimizer_state, tmp / "optimizer.pt")
        torch.save(rng_states, tmp / "rng.pt")
        atomic_write_json(tmp / "trainer_state.json", trainer_state)
        write_manifest(tmp)
    for old in list_checkpoints(checkpoints_dir)[:-keep_last] if keep_last > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return target


def save_model_dir(directory: Path, model_config, state_dict: dict[str, torch.Tensor], model_cls) -> None:
    """An HF model directory from a full state dict, without building a second model in memory."""
    from safetensors.torch import save_file

    directory.mkdir(parents=True, exist_ok=True)
    model_config.architectures = [model_cls.__name__]
    model_config.save_pretrained(directory)
    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    if getattr(model_config, "tie_word_embeddings", False):
        tensors.pop("lm_head.weight", None)
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "pt"})


def load_checkpoint(directory: Path) -> dict:
    """Everything a resume needs (tensors on CPU)."""
    from safetensors.torch import load_file

    return {
        "model": load_file(str(directory / "model" / "model.safetensors")),
        "optimizer": torch.load(directory / "optimizer.pt", map_location="cpu", weights_only=True),
        "rng": torch.load(directory / "rng.pt", map_location="cpu", weights_only=True),
        "trainer_state": json.loads((directory / "trainer_state.json").read_text()),
    }
