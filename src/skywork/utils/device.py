"""Where a model runs: the one resolution of ``device: auto`` for commands and configs alike."""

from __future__ import annotations


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; any other name (cpu, cuda, cuda:1) as given."""
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
