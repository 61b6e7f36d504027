"""The pretraining loop, readable top to bottom (nanoGPT-style): one function, :func:`run_pretraining`.

Single process: ``skywork train pretrain CONFIG.yaml``. Several: ``torchrun --nproc_per_node N -m skywork.cli
train pretrain CONFIG.yaml`` with ``distributed: ddp`` or ``fsdp`` (FSDP2 ``fully_shard``). Every rank builds the
same mixture sampler and draws the whole global batch, then keeps its own rows; the loss is a sum over tokens
divided by the global number of predicted tokens, so N processes compute exactly the gradient one process would.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from skywork.train.checkpoint import (
    latest_valid_checkpoint,
    load_checkpoint,
    save_checkpoint,
    save_model_dir,
)
from skywork.train.config import PretrainConfig
from skywork.train.data import Batch, DataExhausted, MixtureSampler, TokenStream, eval_sequences, pack_rows
from skywork.train.shards import TokenShards
from skywork.utils.config import config_hash, to_dict
from skywork.utils.io import InputError, atomic_dir, atomic_write_text

log = logging.getLogger("skywork.train")


class TrainingDiverged(RuntimeError):
    """The loss was NaN/Inf for ``max_bad_steps`` optimizer steps in a row."""


# ----------------------------------------------------------------------------------------------- set-up helpers
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


def build_model(config: PretrainConfig, vocab_size: int | None, device: torch.device):
    """A fresh model from a preset (+ overrides), or the weights of ``model.init_from`` (stage 2), with the
    attention kernel chosen for ``device``."""
    from skywork.model import SkyworkForCausalLM, load_model, make_config

    if config.model.init_from:
        model = load_model(config.model.init_from, dtype=torch.float32)
    else:
        overrides = dict(config.model.overrides)
        if config.model.vocab_from_tokenizer and vocab_size and "vocab_size" not in overrides:
            overrides["vocab_size"] = vocab_size
        torch.manual_seed(config.seed)
        model = SkyworkForCausalLM(make_config(config.model.preset, **overrides))
    model.config.use_cache = False
    model.set_attn_implementation(attention_kernel(config, device))
    return model.train()


def attention_kernel(config: PretrainConfig, device: torch.device) -> str:
    """Resolve ``model.attention: auto``: measured on a 2-core AVX-512 CPU (80M model, seq 256, bf16), compiled
    eager attention beat SDPA's CPU flash kernel by ~10% per step; SDPA wins uncompiled, at long context and on GPU.
    """
    if config.model.attention != "auto":
        return config.model.attention
    if device.type == "cpu" and config.compile and config.data.seq_len <= 1024:
        return "eager"
    return "sdpa"


def enable_activation_checkpointing(model) -> None:
    """Recompute each decoder layer in backward (non-reentrant). transformers 5 renamed the method."""
    enable = getattr(model, "activation_checkpointing_enable", None)
    if enable is not None:
        enable(activation_checkpointing_kwargs={"use_reentrant": False})
    else:  # transformers 4
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})


def lr_at(step: int, config: PretrainConfig) -> float:
    """Linear warmup, then cosine ``lr -> min_lr`` over ``decay_steps`` and constant ``min_lr`` after; or constant."""
    opt = config.optim
    if opt.warmup_steps and step < opt.warmup_steps:
        return opt.lr * (step + 1) / opt.warmup_steps
    if opt.schedule == "constant":
        return opt.lr
    decay_steps = opt.decay_steps or config.max_steps
    if step >= decay_steps:
        return opt.min_lr
    progress = (step - opt.warmup_steps) / max(1, decay_steps - opt.warmup_steps)
    return opt.min_lr + 0.5 * (opt.lr - opt.min_lr) * (1 + math.cos(math.pi * progress))


def make_optimizer(model: torch.nn.Module, config: PretrainConfig, device: torch.device):
    """AdamW with weight decay on matrices only (norm weights get none), as LLaMA / Megatron do."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    opt = config.optim
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": opt.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=opt.lr,
        betas=(opt.beta1, opt.beta2),
        eps=opt.eps,
        fused=config.distributed
        != "deepspeed",  # one kernel per step (CUDA and CPU); ZeRO flattens params itself
    )


def build_sampler(config: PretrainConfig, world: int) -> MixtureSampler:
    if not config.data.sources:
        raise InputError("data.sources is empty: give at least one token stream", field="data.sources")
    streams, weights, ends = [], [], []
    for i, source in enumerate(config.data.sources):
        try:
            shards = TokenShards(source.path)
        except InputError as err:
            raise InputError(str(err), field=f"data.sources[{i}].path") from None
        streams.append(TokenStream(source.name, shards, config.seed, source.max_epochs))
        weights.append(source.weight)
        ends.append(source.weight_end)
    total = config.max_steps * config.grad_accum_steps * config.micro_batch_size * world
    return MixtureSampler(
        streams, weights, ends, config.data.seq_len, total, config.seed, config.data.cross_document_attention
    )


def load_validation(config: PretrainConfig, tokenizer) -> dict[str, Batch]:
    """Held-out sets as fixed packed batches: token stream dirs as they are, .jsonl files tokenized now."""
    sets = {}
    for name, path in config.data.validation.items():
        path = Path(path)
        if path.is_dir():
            rows = eval_sequences(TokenShards(path), config.data.seq_len, config.data.eval_sequences)
        else:
            rows = _rows_from_jsonl(path, tokenizer, config.data.seq_len, config.data.eval_sequences)
        sets[name] = pack_rows(rows, [name] * len(rows), config.data.cross_document_attention)
    return sets


def _rows_from_jsonl(path: Path, tokenizer, seq_len: int, max_rows: int) -> list[list[np.ndarray]]:
    from skywork.train.shards import iter_texts

    docs, total, skipped = [], 0, {}
    for text in iter_texts(path, "text", skipped):
        # A whole document, cut into seq_len rows below (verbose=False: no model-length warning).
        ids = [tokenizer.bos_token_id] + tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
        docs.append(np.asarray(ids + [tokenizer.eos_token_id], dtype=np.int64))
        total += len(docs[-1])
        if total >= seq_len * max_rows:
            break
    if not docs:
        raise InputError("validation file holds no text", path)
    rows, current, need = [], [], seq_len
    stream = iter(docs * (1 + seq_len // max(1, total)))
    for doc in stream:
        while len(doc) and len(rows) < max_rows:
            piece, doc = doc[:need], doc[need:]
            current.append(piece)
            need -= len(piece)
            if need == 0:
                rows.append(current)
                current, need = [], seq_len
        if len(rows) >= max_rows:
            break
    return rows or [current]


def model_inputs(batch: Batch, device: torch.device) -> dict:
    """Forward kwargs. Without cross-document attention we pass per-document position ids and no mask:
    transformers 5 (masking_utils.find_packed_sequence_indices) then builds a block-diagonal causal mask for SDPA
    (and uses varlen kernels under flash-attention), so no document sees another."""
    inputs = {"input_ids": batch.input_ids.to(device, non_blocking=True)}
    if batch.position_ids is not None:
        inputs["position_ids"] = batch.position_ids.to(device, non_blocking=True)
    return inputs


def shifted_cross_entropy_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Summed fp32 cross-entropy of position t's logits against token t+1 (labels -100 are ignored).
    Under torch.compile the upcast, log-softmax and gather fuse, so no fp32 copy of the logits is kept."""
    return F.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]),
        labels[:, 1:].reshape(-1),
        ignore_index=-100,
        reduction="sum",
    )


def token_loss_sum(
    model, batch: Batch, device: torch.device, loss_fn=shifted_cross_entropy_sum
) -> tuple[torch.Tensor, int]:
    """Sum of next-token cross-entropies over the predicted tokens, and how many there were."""
    logits = model(**model_inputs(batch, device), use_cache=False).logits
    loss = loss_fn(logits, batch.labels.to(device))
    return loss, int((batch.labels[:, 1:] != -100).sum())


_PEAK_CACHE: dict[str, float] = {}


def measure_matmul_peak(device: torch.device, size: int = 2048, seconds: float = 0.3) -> float:
    """bf16 matmul FLOP/s on this device, measured now (MFU's denominator, as the bench and report use).

    The best of several short windows, so a moment of contention on a shared machine does not lower the peak.
    """
    key = str(device)
    if key in _PEAK_CACHE:
        return _PEAK_CACHE[key]
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    for _ in range(2):
        a @ b
    _sync(device)
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline or best == 0.0:
        start = time.perf_counter()
        for _ in range(3):
            a @ b
        _sync(device)
        best = max(best, 3 * 2 * size**3 / (time.perf_counter() - start))
    _PEAK_CACHE[key] = best
    return best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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
        for layer in model.model.layers:
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
        return model
    return model


def _all_reduce_mean(value: torch.Tensor, runtime: Runtime) -> torch.Tensor:
    if runtime.world > 1:
        value = value.clone()
        dist.all_reduce(value)
        value /= runtime.world
    return value


class MetricsLog:
    """metrics.jsonl (append, flushed per row) + optional TensorBoard / wandb, main process only."""

    def __init__(self, out_dir: Path, enabled: bool, config: PretrainConfig, resume_step: int):
        self.enabled = enabled
        self.path = out_dir / "metrics.jsonl"
        self.tb = self.wandb = None
        if not enabled:
            return
        # A killed run may have logged steps past its last checkpoint: drop them, they will be redone.
        if self.path.exists():
            kept = [
                line
                for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line)["step"] <= resume_step
            ]
            atomic_write_text(self.path, "".join(line + "\n" for line in kept))
        self.handle = self.path.open("a", encoding="utf-8")
        if config.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out_dir / "tensorboard"), purge_step=resume_step + 1)
            except ImportError:
                log.warning(
                    "tensorboard is not installed; skipping TensorBoard logs (pip install tensorboard)"
                )
        if config.wandb:
            try:
                import wandb

                self.wandb = wandb.init(
                    project="skywork",
                    dir=str(out_dir),
                    config=to_dict(config),
                    mode="offline",
                    resume="allow",
                )
            except ImportError:
                log.warning("wandb is not installed; skipping wandb logging")

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        # NaN/Inf (a skipped step) are written as null so the file stays strict JSON
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()}
        self.handle.write(json.dumps(clean) + "\n")
        self.handle.flush()
        scalars = {k: v for k, v in clean.items() if isinstance(v, (int, float)) and k != "step"}
        for name, value in row.get("val_loss", {}).items():
            scalars[f"val_loss/{name}"] = value
        for name, value in row.get("shares", {}).items():
            scalars[f"share/{name}"] = value
        if self.tb is not None:
            for key, value in scalars.items():
                self.tb.add_scalar(key, value, row["step"])
        if self.wandb is not None:
            self.wandb.log(scalars, step=row["step"])

    def close(self) -> None:
        if not self.enabled:
            return
        self.handle.close()
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()


def copy_tokenizer_files(tokenizer_dir: Path, out: Path) -> None:
    """Tokenizer files next to the weights, so final/ loads with skywork.tokenizer.load and AutoTokenizer."""
    skip = {"config.json", "generation_config.json", "model.safetensors", "model.safetensors.index.json"}
    for file in tokenizer_dir.iterdir():
        if (
            file.is_file()
            and file.name not in skip
            and not file.name.endswith((".safetensors", ".bin", ".pt"))
        ):
            shutil.copy2(file, out / file.name)


# --------------------------------------------------------------------------------------------------- the loop
def run_pretraining(config: PretrainConfig, resume: str | None = "auto") -> dict:
    """Train one stage. ``resume``: "auto" (latest valid checkpoint if any), "never", or a checkpoint path.

    Returns a summary: steps, tokens, final train / val losses, skipped steps, tokens/s, MFU, paths.
    """
    from skywork.model import flops_per_token
    from skywork.tokenizer import load as load_tokenizer

    runtime = init_runtime(config)
    out_dir = Path(config.output_dir)
    try:
        return _train(config, resume, runtime, out_dir, load_tokenizer, flops_per_token)
    finally:
        if runtime.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def _train(config, resume, runtime: Runtime, out_dir: Path, load_tokenizer, flops_per_token) -> dict:
    device = runtime.device
    if device.type == "cpu" and config.cpu_keep_freed_memory:
        keep_freed_memory()
    if runtime.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        import yaml

        atomic_write_text(out_dir / "config.yaml", yaml.safe_dump(to_dict(config), sort_keys=False))

    # --- model, tokenizer, optimizer, data
    tokenizer_dir = Path(config.tokenizer)
    tokenizer = load_tokenizer(tokenizer_dir)
    model = build_model(config, len(tokenizer), device)
    model_config = model.config
    model.to(device)
    if config.activation_checkpointing:
        enable_activation_checkpointing(model)
    loss_fn = shifted_cross_entropy_sum
    if config.compile:
        model.compile()
        loss_fn = torch.compile(shifted_cross_entropy_sum)
    model = wrap_model(model, runtime)
    optimizer = make_optimizer(model, config, device)
    engine = None  # DeepSpeed owns backward, clipping and the optimizer step when set
    if runtime.mode == "deepspeed":
        from skywork.train import deepspeed_zero

        engine, _ = deepspeed_zero.initialize(model, optimizer, config, runtime.world)
        model = engine
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_at(step, config) / config.optim.lr
    )
    sampler = build_sampler(config, runtime.world)
    validation = load_validation(config, tokenizer)

    # --- resume
    step, tokens_seen, skipped_steps, bad_in_row = 0, 0, 0, 0
    checkpoints_dir = out_dir / "checkpoints"
    ckpt_path = None
    if resume not in (None, "never", "no"):
        ckpt_path = Path(resume) if resume != "auto" else latest_valid_checkpoint(checkpoints_dir)
    if ckpt_path is not None:
        ckpt = load_checkpoint(ckpt_path)
        if engine is not None:
            engine.load_checkpoint(str(ckpt_path / "deepspeed"), tag="state", load_lr_scheduler_states=False)
        else:
            load_full_state(model, optimizer, ckpt["model"], ckpt["optimizer"])
        state = ckpt["trainer_state"]
        scheduler.load_state_dict(state["scheduler"])
        sampler.load_state_dict(state["sampler"])
        step, tokens_seen = state["step"], state["tokens"]
        skipped_steps, bad_in_row = state["skipped_steps"], state["bad_in_row"]
        rng = ckpt["rng"]
        restore_rng(rng[runtime.rank] if runtime.rank < len(rng) else rng[0])
        if state.get("config_hash") != config_hash(config) and runtime.is_main:
            log.warning("resuming %s with a changed config", ckpt_path)
        if runtime.is_main:
            log.info("resumed from %s at step %d", ckpt_path, step)
    else:
        torch.manual_seed(config.seed + runtime.rank)

    metrics = MetricsLog(out_dir, runtime.is_main, config, step)
    train_flops_per_token = flops_per_token(model_config, config.data.seq_len, training=True)
    peak = measure_matmul_peak(device)
    global_rows = config.micro_batch_size * runtime.world
    tokens_per_step = global_rows * config.grad_accum_steps * config.data.seq_len
    autocast = (
        torch.autocast(device.type, dtype=torch.bfloat16)
        if config.precision == "bf16"
        else contextlib.nullcontext()
    )

    def evaluate() -> dict[str, float]:
        model.eval()
        losses = {}
        with torch.no_grad():
            for name, batch in validation.items():
                total, count = 0.0, 0
                for start in range(0, batch.input_ids.shape[0], config.micro_batch_size):
                    rows = slice(start, start + config.micro_batch_size)
                    part = Batch(
                        batch.input_ids[rows],
                        batch.labels[rows],
                        None if batch.position_ids is None else batch.position_ids[rows],
                        batch.sources[rows],
                    )
                    with autocast:
                        loss_sum, n = token_loss_sum(model, part, device, loss_fn)
                    total, count = total + float(loss_sum), count + n
                losses[name] = total / max(1, count)
        model.train()
        return losses

    def checkpoint(at_step: int) -> None:
        extra_dirs = {}
        if (
            engine is not None
        ):  # every rank writes its ZeRO shard; the main process moves it into the checkpoint
            staging = checkpoints_dir / f".deepspeed-{at_step}.tmp"
            engine.save_checkpoint(str(staging), tag="state")
            dist.barrier()
            model_state, optimizer_state, extra_dirs = (
                engine.module.state_dict(),
                None,
                {"deepspeed": staging},
            )
        else:
            model_state, optimizer_state = full_state(model, optimizer)
        rng_states = [capture_rng()]
        if runtime.world > 1:
            gathered: list = [None] * runtime.world
            dist.all_gather_object(gathered, rng_states[0])
            rng_states = gathered
        if runtime.is_main:
            trainer_state = {
                "step": at_step,
                "tokens": tokens_seen,
                "skipped_steps": skipped_steps,
                "bad_in_row": bad_in_row,
                "scheduler": scheduler.state_dict(),
                "sampler": sampler.state_dict(),
                "config_hash": config_hash(config),
                "world_size": runtime.world,
            }
            save_checkpoint(
                checkpoints_dir,
                at_step,
                model_config,
                model_state,
                optimizer_state,
                rng_states,
                trainer_state,
                config.keep_last,
                extra_dirs,
            )
        if runtime.world > 1:
            dist.barrier()

    progress = _progress_bar(config, runtime, step)
    last_loss, last_val, rates, mfus, stopped_early = float("nan"), {}, [], [], None
    no_sync = getattr(model, "no_sync", None) if engine is None else None
    while step < config.max_steps:
        t0 = time.perf_counter()
        # Every rank draws the whole global batch (cheap: memory-mapped tokens) and keeps its own rows.
        try:
            micro_batches = [sampler.next_batch(global_rows) for _ in range(config.grad_accum_steps)]
        except DataExhausted as err:  # every source hit its repetition cap: finish cleanly with what we have
            stopped_early = f"{err} at step {step}"
            log.warning("stopping early: %s", stopped_early)
            if validation:
                last_val = evaluate()
                metrics.write({"step": step, "tokens": tokens_seen, "val_loss": last_val})
            break
        predicted = sum(int((b.labels[:, 1:] != -100).sum()) for b in micro_batches)
        loss_total = torch.zeros((), device=device)
        for i, global_batch in enumerate(micro_batches):
            mine = slice(runtime.rank * config.micro_batch_size, (runtime.rank + 1) * config.micro_batch_size)
            batch = Batch(
                global_batch.input_ids[mine],
                global_batch.labels[mine],
                None if global_batch.position_ids is None else global_batch.position_ids[mine],
                global_batch.sources[mine],
            )
            last_micro = i == config.grad_accum_steps - 1
            sync = no_sync() if (no_sync is not None and not last_micro) else contextlib.nullcontext()
            with sync:
                with autocast:
                    loss_sum, _ = token_loss_sum(model, batch, device, loss_fn)
                # DDP/FSDP average gradients over ranks; scale by world so the result is the global token mean.
                loss = loss_sum * (runtime.world / max(1, predicted))
                if step in config.fault_injection_nan_steps:
                    loss = loss * float("nan")
                if engine is not None:
                    engine.backward(loss, scale_wrt_gas=False)  # already a mean over the global batch
                    engine.step()  # DeepSpeed steps (and clips) at the accumulation boundary
                else:
                    loss.backward()
            loss_total += loss.detach() / runtime.world
        loss_value = float(_all_reduce_mean(loss_total, runtime)) * runtime.world
        if engine is not None:
            grad_norm = float(engine.get_global_grad_norm() or 0.0)
        else:
            grad_norm = torch.nn.utils.clip_grad_norm_(
                model.parameters(), config.optim.grad_clip if config.optim.grad_clip > 0 else float("inf")
            )
            grad_norm = float(grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm)
        if math.isfinite(loss_value) and math.isfinite(grad_norm):
            if engine is None:
                optimizer.step()
            bad_in_row = 0
        else:
            skipped_steps += 1
            bad_in_row += 1
            if runtime.is_main:
                log.warning("step %d: non-finite loss (%s) or grad norm; step skipped", step, loss_value)
            if bad_in_row >= config.max_bad_steps:
                optimizer.zero_grad(set_to_none=True)
                metrics.close()
                raise TrainingDiverged(
                    f"loss was NaN/Inf for {bad_in_row} steps in a row (step {step}, {skipped_steps} skipped "
                    f"in total); stopping. Resume from the last checkpoint in {checkpoints_dir} with a lower "
                    "optim.lr or check the data; max_bad_steps sets the tolerance."
                )
        optimizer.zero_grad(set_to_none=True)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        step += 1
        tokens_seen += tokens_per_step
        _sync(device)
        elapsed = time.perf_counter() - t0
        tokens_per_s = tokens_per_step / elapsed
        mfu = train_flops_per_token * tokens_per_s / (peak * runtime.world)
        rates.append(tokens_per_s)
        mfus.append(mfu)
        if math.isfinite(loss_value):
            last_loss = loss_value

        row = None
        if step % config.log_every == 0 or step == config.max_steps:
            row = {
                "step": step,
                "tokens": tokens_seen,
                "loss": loss_value,
                "lr": lr,
                "grad_norm": grad_norm,
                "tokens_per_s": tokens_per_s,
                "mfu": mfu,
                "skipped_steps": skipped_steps,
                "shares": sampler.shares(),
            }
        if validation and (step % config.eval_every == 0 or step == config.max_steps):
            last_val = evaluate()
            row = row or {"step": step, "tokens": tokens_seen}
            row["val_loss"] = last_val
        if row is not None:
            metrics.write(row)
        if step % config.save_every == 0 or step == config.max_steps:
            checkpoint(step)
        if progress is not None:
            progress.update(
                progress.task_ids[0],
                completed=step,
                description=f"step {step} loss {loss_value:.4f} {tokens_per_s:,.0f} tok/s mfu {mfu:.1%}",
            )

    if progress is not None:
        progress.stop()
    if stopped_early is not None and step % config.save_every != 0:
        checkpoint(step)
    metrics.close()

    # --- final/: HF model dir + tokenizer files
    final_dir = out_dir / "final"
    model_state = engine.module.state_dict() if engine is not None else full_state(model, optimizer)[0]
    if runtime.is_main:
        from skywork.model import SkyworkForCausalLM

        with atomic_dir(final_dir) as tmp:
            save_model_dir(tmp, model_config, model_state, SkyworkForCausalLM)
            copy_tokenizer_files(tokenizer_dir, tmp)
        if config.plots:
            from skywork.train.plots import plot_metrics

            plot_metrics(out_dir / "metrics.jsonl", out_dir / "plots")
    window = rates[len(rates) // 2 :] or [0.0]
    summary = {
        "steps": step,
        "tokens": tokens_seen,
        "final_loss": last_loss,
        "val_loss": last_val,
        "skipped_steps": skipped_steps,
        "stopped_early": stopped_early,
        "tokens_per_s": float(np.median(window)),
        "mfu": float(np.median(mfus[len(mfus) // 2 :] or [0.0])),
        "matmul_peak_flops": peak,
        "world_size": runtime.world,
        "distributed": runtime.mode,
        "out_dir": str(out_dir),
        "final_dir": str(final_dir),
        "metrics": str(out_dir / "metrics.jsonl"),
    }
    if runtime.is_main:
        from skywork.utils.io import atomic_write_json

        atomic_write_json(out_dir / "summary.json", summary)
    return summary


def _progress_bar(config: PretrainConfig, runtime: Runtime, start: int):
    if not (config.progress and runtime.is_main):
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    )
    progress.add_task("starting", total=config.max_steps, completed=start)
    progress.start()
    return progress
