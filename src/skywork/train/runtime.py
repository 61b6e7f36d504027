"""Per-process settings of a training run that are not parallelism: the CPU allocator, bf16 autocast, syncing."""

from __future__ import annotations

import contextlib
import sys

import torch


def keep_freed_memory() -> bool:
    """Stop glibc from handing freed memory back to the kernel (no mmap for big blocks, no trimming).

    PyTorch on CPU frees activations and gradients every step; by default glibc returns those blocks to the kernel
    and every following step page-faults them back in (about 100k faults per step for an 80M model, ~8% of the step
    time on 2 cores). The usual fix is jemalloc/tcmalloc via LD_PRELOAD; ``mallopt`` gets the same effect in-process.
    The price: the process keeps its peak memory until it exits. Returns whether the settings took (glibc only).
    """
    import ctypes
    import ctypes.util

    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4
        return bool(libc.mallopt(m_trim_threshold, 2**30)) and bool(libc.mallopt(m_mmap_max, 0))
    except (OSError, AttributeError):  # musl or no libc: keep the defaults
        return False


def autocast(precision: str, device: torch.device):
    """bf16 autocast for the forward pass (weights and optimizer stay fp32), or nothing for fp32."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so wall-clock timings measure it (a no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
