"""Processes and wrappers: the torchrun process group, DDP / FSDP2 / DeepSpeed, and the few collectives the loop uses.

``distributed: auto`` means DDP under torchrun (WORLD_SIZE > 1); ``fsdp`` is FSDP2 (``fully_shard`` per decoder
layer, then the root); ``deepspeed`` is ZeRO-1/2 (:mod:`skywork.train.deepspeed_zero`), where the engine owns
backward, clipping and the optimizer step. Gradients are averaged over ranks by every wrapper, which is why the loop
scales its loss by the world size (see :mod:`skywork.train.loop`).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from skywork.train.config import PretrainConfig


@dataclass
class Runtime:
    rank: int
    world: int
    local_rank: int
    device: torch.device
    mode: str  # none | ddp | fsdp | deepspeed

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def own_rows(self, rows_per_rank: int) -> slice:
        """This rank's rows of a global batch (every rank draws the whole global batch)."""
        return slice(self.rank * rows_per_rank, (self.rank + 1) * rows_per_rank)


def init_runtime(config: PretrainConfig) -> Runtime:
    """Join the torchrun process group when WORLD_SIZE > 1 (gloo on CPU, nccl on GPU) and pick the device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    want_cuda = config.device == "cuda" or (config.device == "auto" and torch.cuda.is_available())
    device = torch.device(f"cuda:{local_rank}") if want_cuda else torch.device("cpu")
    if want_cuda:
        torch.cuda.set_device(device)
    mode = config.distributed
    if mode == "deepspeed":  # DeepSpeed needs a process group even for one process
        for key, value in (("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", "29531"), ("RANK", "0")):
            os.environ.setdefault(key, value)
        os.environ.setdefault("WORLD_SIZE", str(world))
        if not dist.is_initialized():
            dist.init_process_group("nccl" if want_cuda else "gloo")
    elif world > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if want_cuda else "gloo")
        mode = "ddp" if mode in ("auto", "none") else mode
    else:
        mode = "none"
    return Runtime(dist.get_rank() if dist.is_initialized() else 0, world, local_rank, device, mode)


def shutdown(runtime: Runtime) -> None:
    """Leave the process group (PLATFORM.md: a run aborted at exit without it)."""
    if runtime.world > 1 and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap_model(model: torch.nn.Module, runtime: Runtime) -> torch.nn.Module:
    """DDP, or FSDP2: ``fully_shard`` each decoder layer, then the root (parameters become DTensors)."""
    if runtime.mode == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        device_ids = [runtime.local_rank] if runtime.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=device_ids)
    if runtime.mode == "fsdp":
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh(runtime.device.type, (runtime.world,))
        inner = model.get_base_model() if hasattr(model, "get_base_model") else model  # a PEFT (LoRA) model
        for layer in inner.model.layers:
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
        return model
    return model


def wrap_deepspeed(model: torch.nn.Module, optimizer, config: PretrainConfig, runtime: Runtime):
    """The DeepSpeed engine around model and optimizer, or None when the run does not use DeepSpeed."""
    if runtime.mode != "deepspeed":
        return None
    from skywork.train import deepspeed_zero

    engine, _ = deepspeed_zero.initialize(model, optimizer, config, runtime.world)
    return engine


def gradient_sync(model, engine, last_micro_batch: bool):
    """DDP's ``no_sync`` on every micro-batch but the last (one all-reduce per step); a no-op elsewhere."""
    no_sync = getattr(model, "no_sync", None) if engine is None else None
    return no_sync() if (no_sync is not None and not last_micro_batch) else contextlib.nullcontext()


def backward(loss: torch.Tensor, engine) -> None:
    """``loss.backward()``; under DeepSpeed the engine's backward and step (it updates at the accumulation boundary)."""
    if engine is None:
        loss.backward()
    else:
        engine.backward(loss, scale_wrt_gas=False)  # already a mean over the global batch
        engine.step()


def clip_gradients(model, engine, max_norm: float) -> float:
    """Clip the global gradient norm (0: off) and return it (DeepSpeed clips itself and reports it)."""
    if engine is not None:
        return float(engine.get_global_grad_norm() or 0.0)
    norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm if max_norm > 0 else float("inf"))
    return float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)


def all_reduce_mean(value: torch.Tensor, runtime: Runtime) -> torch.Tensor:
    if runtime.world > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= runtime.world
    return value


def gather_objects(obj, runtime: Runtime) -> list:
    """``obj`` of every rank, in rank order (a one-element list in a single process)."""
    if runtime.world == 1:
        return [obj]
    gathered: list = [None] * runtime.world
    dist.all_gather_object(gathered, obj)
    return gathered


def barrier(runtime: Runtime) -> None:
    if runtime.world > 1:
        dist.barrier()


def full_state(model, optimizer) -> tuple[dict, dict]:
    """Unsharded model and optimizer state dicts keyed by parameter name (works for plain, DDP and FSDP2)."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    return get_model_state_dict(model, options=options), get_optimizer_state_dict(
        model, optimizer, options=options
    )


def load_full_state(model, optimizer, model_state: dict, optimizer_state: dict) -> None:
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True)
    set_model_state_dict(model, model_state, options=options)
    set_optimizer_state_dict(model, optimizer, optimizer_state, options=options)
