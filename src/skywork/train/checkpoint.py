"""Training checkpoints: an HF model directory plus everything needed to continue the run exactly.

``out_dir/checkpoints/step-0000100/``::

    model/             HF model directory (config.json + safetensors weights), loadable by load_model
    optimizer.pt       full (unsharded) AdamW state, keyed by parameter name
    rng.pt             RNG states of every rank (torch, cuda, numpy, python)
    trainer_state.json step, tokens, scheduler and batch-source state, skipped-step counters
    manifest.json      sha256 and size of every file above; written last (skywork.utils.digest)

A checkpoint is built in a temporary directory and renamed into place (``atomic_dir``), so a kill leaves either
the old set or the new one. On resume each candidate is verified against its manifest, newest first; a corrupt or
incomplete one is reported with a warning and the previous one is used.

*Milestones* (``milestone_tokens``, as the official release keeps 500B, 1T, ... 3.1T) are model snapshots at
token counts, kept beside the rolling checkpoints and never pruned, for studying how capabilities grow
(``skywork eval trajectory``)::

    out_dir/milestones/tokens-000000081920/
        model/             HF model directory with the tokenizer files (loads like final/)
        milestone.json     {"tokens": the milestone, "tokens_seen", "step"} (tokens_seen >= tokens: steps are whole)
        manifest.json
"""

from __future__ import annotations

import json
import logging
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from skywork.model.checkpoint import save_model_dir, weight_files
from skywork.utils.digest import verify_manifest, write_manifest
from skywork.utils.io import atomic_dir, atomic_write_json

log = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "step-"
ARCHITECTURE = "SkyworkForCausalLM"


def checkpoint_name(step: int) -> str:
    return f"{CHECKPOINT_PREFIX}{step:07d}"


def list_checkpoints(checkpoints_dir: Path) -> list[Path]:
    """Checkpoint directories, oldest first (temporary and hidden directories excluded)."""
    if not checkpoints_dir.is_dir():
        return []
    found = [p for p in checkpoints_dir.iterdir() if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX)]
    return sorted(found, key=lambda p: int(p.name[len(CHECKPOINT_PREFIX) :]))


def latest_valid_checkpoint(checkpoints_dir: Path) -> Path | None:
    """The newest checkpoint that passes verification; corrupt ones are skipped with a warning."""
    for candidate in reversed(list_checkpoints(checkpoints_dir)):
        problem = verify_manifest(candidate)
        if problem is None:
            return candidate
        log.warning("checkpoint %s is corrupt (%s); falling back to the previous one", candidate, problem)
    return None


def resume_checkpoint(resume: str | None, checkpoints_dir: Path) -> Path | None:
    """The checkpoint ``resume`` asks for: "auto" (newest valid), "never"/"no"/None (none) or a path."""
    if resume in (None, "never", "no"):
        return None
    return Path(resume) if resume != "auto" else latest_valid_checkpoint(checkpoints_dir)


def save_checkpoint(
    checkpoints_dir: Path,
    step: int,
    model_config,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict | None,
    rng_states: list[dict],
    trainer_state: dict,
    keep_last: int,
    extra_dirs: dict[str, Path] | None = None,
) -> Path:
    """Write one checkpoint atomically (main process only) and delete all but the newest ``keep_last``."""
    target = checkpoints_dir / checkpoint_name(step)
    with atomic_dir(target) as tmp:
        save_model_dir(tmp / "model", model_config, model_state, architecture=ARCHITECTURE)
        if optimizer_state is not None:  # DeepSpeed keeps its own (sharded) optimizer files in extra_dirs
            torch.save(optimizer_state, tmp / "optimizer.pt")
        for name, source in (extra_dirs or {}).items():
            shutil.move(str(source), str(tmp / name))
        torch.save(rng_states, tmp / "rng.pt")
        atomic_write_json(tmp / "trainer_state.json", trainer_state)
        write_manifest(tmp)
    for old in list_checkpoints(checkpoints_dir)[:-keep_last] if keep_last > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return target


MILESTONE_PREFIX = "tokens-"


def milestone_name(tokens: int) -> str:
    return f"{MILESTONE_PREFIX}{tokens:012d}"


def milestones_due(milestones: list[int], tokens_before: int, tokens_after: int) -> list[int]:
    """The milestones a step from ``tokens_before`` to ``tokens_after`` tokens reaches (the step that crosses one
    is saved for it: steps are whole, so ``tokens_seen`` may pass the milestone by less than one step)."""
    return sorted(m for m in set(milestones) if tokens_before < m <= tokens_after)


def save_milestone(
    milestones_dir: Path,
    milestone: int,
    step: int,
    tokens_seen: int,
    model_config,
    model_state: dict[str, torch.Tensor],
    tokenizer_dir: Path | None = None,
) -> Path:
    """Write the model at a token milestone atomically (main process only); nothing ever prunes these."""
    target = milestones_dir / milestone_name(milestone)
    with atomic_dir(target) as tmp:
        save_model_dir(
            tmp / "model", model_config, model_state, architecture=ARCHITECTURE, tokenizer_dir=tokenizer_dir
        )
        atomic_write_json(
            tmp / "milestone.json", {"tokens": milestone, "tokens_seen": tokens_seen, "step": step}
        )
        write_manifest(tmp)
    return target


def list_milestones(run_dir: Path) -> list[dict]:
    """The valid milestones of a pretraining run, fewest tokens first: dicts of ``milestone.json`` plus ``dir``
    and ``model_dir``. A corrupt one (manifest mismatch) is skipped with a warning."""
    root = Path(run_dir) / "milestones"
    found = []
    for path in sorted(root.glob(f"{MILESTONE_PREFIX}*")) if root.is_dir() else []:
        if not path.is_dir():
            continue
        problem = verify_manifest(path)
        if problem is not None:
            log.warning("milestone %s is corrupt (%s); skipped", path, problem)
            continue
        info = json.loads((path / "milestone.json").read_text())
        found.append({**info, "dir": str(path), "model_dir": str(path / "model")})
    return sorted(found, key=lambda m: m["tokens"])


def load_checkpoint(directory: Path) -> dict:
    """Everything a resume needs (tensors on CPU)."""
    from safetensors.torch import load_file

    model_state: dict[str, torch.Tensor] = {}
    for shard in weight_files(directory / "model")[1]:
        model_state.update(load_file(str(shard)))
    return {
        "model": model_state,
        "optimizer": torch.load(directory / "optimizer.pt", map_location="cpu", weights_only=True)
        if (directory / "optimizer.pt").exists()
        else None,
        "rng": torch.load(directory / "rng.pt", map_location="cpu", weights_only=True),
        "trainer_state": json.loads((directory / "trainer_state.json").read_text()),
    }


def save_final(
    final_dir: Path, model_config, model_state: dict[str, torch.Tensor], tokenizer_dir: Path
) -> Path:
    """``final/``: HF model dir + tokenizer files, so it loads with skywork.model.load_model and skywork.tokenizer.load."""
    with atomic_dir(final_dir) as tmp:
        save_model_dir(tmp, model_config, model_state, architecture=ARCHITECTURE, tokenizer_dir=tokenizer_dir)
    return final_dir


def capture_rng() -> dict:
    """RNG states as plain tensors / lists (loadable with ``weights_only=True``)."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2])},
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy"]["key"].numpy().astype(np.uint32), state["numpy"]["pos"]))
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
