"""int8 weight-only quantization: checkpoints that reload, and the weight-memory table bf16 vs int8.

The scheme is torchao's ``Int8WeightOnlyConfig`` (and bitsandbytes' 8-bit storage): every ``nn.Linear`` but the
LM head keeps its weight as int8 with one symmetric scale per output channel; activations stay bf16. On CPU the
matmul is ``torch._weight_int8pack_mm`` (the kernel torchao dispatches to) for a few rows (decoding); for many
rows (prefill, scoring) and off the CPU, a dequantize-and-matmul (see :data:`INT8_KERNEL_MAX_ROWS`).
Embeddings, norms and the LM head stay in the model dtype, as the official 8-bit mode (bitsandbytes) keeps them.

Checkpoints are plain safetensors (``<linear>.weight`` int8, ``<linear>.weight_scale``) with a
``quantization_config`` naming :data:`QUANT_METHOD`, so transformers refuses them loudly instead of loading int8
numbers as weights; :func:`load_quantized` reads them back.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from skywork.model.checkpoint import save_model_dir, weight_files
from skywork.model.config import load_config, make_config
from skywork.utils.io import atomic_dir

QUANT_METHOD = "skywork-int8-weight-only"
# bitsandbytes LLM.int8(): the official repo's 8-bit mode (online and offline), CUDA only
BNB_INT8 = "bnb-int8"
METHODS = ("int8", BNB_INT8)
SKIP_MODULES = ("lm_head",)
# The official README's Skywork-13B inference memory, bf16 and 8-bit (bitsandbytes); printed "GB", they are GiB
# (our meta-device weights: 25.81 and 13.47 GiB, the rest is the runtime).
OFFICIAL_13B_GIB = {"bf16": 25.91, "int8": 13.57}
# The int8 CPU kernel wins while few rows go through a layer (decoding: 0.04 vs 0.08 ms for 1 x 512 x 1365 on
# one core) and loses on many (prefill, scoring: 35 vs 14 ms for 1600 rows, where bf16 uses AMX): from this many
# rows on, the layer dequantizes its weight (transient, one layer at a time) and runs the bf16 matmul. Those are
# micro-benchmarks with the weight in cache; decoding a whole model (the demo's) was slower in int8 than in bf16
# (docs/serving.md): int8 is for memory.
INT8_KERNEL_MAX_ROWS = 64


class Int8Linear(nn.Module):
    """A linear layer with int8 weights and a per-output-channel scale (symmetric, zero point 0)."""

    def __init__(self, in_features: int, out_features: int, bias: bool, dtype: torch.dtype = torch.bfloat16):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.register_buffer("weight", torch.zeros(out_features, in_features, dtype=torch.int8))
        self.register_buffer("weight_scale", torch.ones(out_features, dtype=dtype))
        self.bias = (
            nn.Parameter(torch.zeros(out_features, dtype=dtype), requires_grad=False) if bias else None
        )

    @classmethod
    def from_linear(cls, linear: nn.Linear, dtype: torch.dtype = torch.bfloat16) -> Int8Linear:
        weight = linear.weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp(min=1e-8) / 127.0
        layer = cls(linear.in_features, linear.out_features, linear.bias is not None, dtype=dtype)
        layer.weight = torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8)
        layer.weight_scale = scale.to(dtype)
        if linear.bias is not None:
            layer.bias = nn.Parameter(linear.bias.detach().to(dtype), requires_grad=False)
        return layer

    def dequantized(self, dtype: torch.dtype) -> torch.Tensor:
        return self.weight.to(dtype) * self.weight_scale.to(dtype)[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // self.in_features
        if (
            x.device.type == "cpu"
            and rows < INT8_KERNEL_MAX_ROWS
            and x.dtype in (torch.bfloat16, torch.float16, torch.float32)
        ):
            flat = x.reshape(-1, self.in_features).contiguous()
            out = torch._weight_int8pack_mm(flat, self.weight, self.weight_scale.to(x.dtype))
            out = out.reshape(*x.shape[:-1], self.out_features)
        else:
            out = F.linear(x, self.dequantized(x.dtype))
        return out + self.bias.to(out.dtype) if self.bias is not None else out

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 per-channel"


def quantize_model(
    model: nn.Module, method: str = "int8", skip: tuple[str, ...] = SKIP_MODULES, dtype=torch.bfloat16
) -> nn.Module:
    """Replace every ``nn.Linear`` not named in ``skip`` by an :class:`Int8Linear`, in place; the rest to ``dtype``."""
    if method not in METHODS:
        raise ValueError(f"unknown quantization method {method!r}; known: {', '.join(METHODS)}")
    targets = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and name.split(".")[-1] not in skip
    ]
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        linear = getattr(parent, child)
        if linear.weight.device.type == "meta":  # structure only (memory tables)
            with torch.device("meta"):
                replacement = Int8Linear(
                    linear.in_features, linear.out_features, linear.bias is not None, dtype
                )
        else:
            replacement = Int8Linear.from_linear(linear, dtype=dtype)
        setattr(parent, child, replacement)
    for param in model.parameters():
        param.data = param.data.to(dtype)
    config = getattr(model, "config", None)
    if config is not None:
        config.quantization_config = {
            "quant_method": QUANT_METHOD,
            "bits": 8,
            "granularity": "per_output_channel",
            "symmetric": True,
            "modules_not_converted": list(skip),
        }
    return model


def save_quantized(model: nn.Module, out_dir: str | Path, tokenizer_dir: str | Path | None = None) -> Path:
    """Write a quantized model as a model directory (safetensors with int8 weights and their scales)."""
    out_dir = Path(out_dir)
    architecture = (getattr(model.config, "architectures", None) or [type(model).__name__])[0]
    with atomic_dir(out_dir) as tmp:
        save_model_dir(
            tmp, model.config, model.state_dict(), architecture=architecture, tokenizer_dir=tokenizer_dir
        )
    return out_dir


def check_bnb(device: torch.device | str) -> None:
    """Refuse bitsandbytes LLM.int8() where it cannot run (its kernels are CUDA only), before loading anything."""
    device = torch.device(device)
    if device.type != "cuda":
        raise RuntimeError(
            f"{BNB_INT8} (bitsandbytes LLM.int8) needs a CUDA GPU; this device is {device.type}. "
            "Use --quantize int8 (weight-only int8, any device) instead."
        )
    from skywork.utils.optional import require

    require("bitsandbytes", "gpu", f"--quantize {BNB_INT8}")


def is_bnb_dir(model_dir: str | Path) -> bool:
    """True for a directory saved from a bitsandbytes 8-bit model (``skywork quantize --method bnb-int8``)."""
    config_file = Path(model_dir) / "config.json"
    if not config_file.exists():
        return False
    quant = json.loads(config_file.read_text()).get("quantization_config") or {}
    return quant.get("quant_method") == "bitsandbytes"


def _load_bnb(model_dir: str | Path, device: torch.device | str) -> nn.Module:
    """LLM.int8() as the official repo's 8-bit mode: transformers' ``BitsAndBytesConfig(load_in_8bit=True)``."""
    from transformers import BitsAndBytesConfig

    from skywork.model.loading import load_model

    check_bnb(device)
    device = torch.device(device)
    kwargs = {} if is_bnb_dir(model_dir) else {"quantization_config": BitsAndBytesConfig(load_in_8bit=True)}
    return load_model(model_dir, dtype=torch.bfloat16, device_map={"": device.index or 0}, **kwargs)


def quantize_checkpoint(src: str | Path, out: str | Path, method: str = "int8") -> Path:
    """Offline quantization: ``src`` (any model directory we load) to an int8 directory at ``out``.

    ``bnb-int8`` (CUDA) writes the bitsandbytes 8-bit weights (int8 + ``SCB`` scales) with their
    ``quantization_config``, which transformers (and :func:`load_for_inference`) reload 8-bit on a GPU."""
    from skywork.model.loading import load_model
    from skywork.utils.device import resolve_device

    if method == BNB_INT8:
        model = _load_bnb(src, resolve_device("auto"))
        return save_quantized(model, out, tokenizer_dir=src)
    model = load_model(src, dtype=torch.bfloat16)
    quantize_model(model, method)
    return save_quantized(model, out, tokenizer_dir=src)


def load_quantized(path: str | Path, dtype: torch.dtype = torch.bfloat16) -> nn.Module:
    """Reload a :func:`save_quantized` directory (weights stay int8 in memory)."""
    path = Path(path)
    raw = json.loads((path / "config.json").read_text())
    quant = raw.get("quantization_config") or {}
    if quant.get("quant_method") != QUANT_METHOD:
        raise ValueError(f"{path}: not a {QUANT_METHOD} checkpoint (quantization_config: {quant or 'none'})")
    config = load_config(path)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model_class = _model_class(raw)
    with torch.device("meta"):
        model = model_class(config)
    quantize_model(model, skip=tuple(quant.get("modules_not_converted", SKIP_MODULES)), dtype=dtype)
    state: dict[str, torch.Tensor] = {}
    for shard in weight_files(path)[1]:
        # Fresh allocations: the int8 kernel faults on tensors sliced out of one file buffer (unaligned).
        state.update({name: tensor.clone() for name, tensor in load_file(str(shard)).items()})
    if getattr(config, "tie_word_embeddings", False):
        state.setdefault("lm_head.weight", state["model.embed_tokens.weight"])
    model.load_state_dict(state, strict=True, assign=True)
    # Non-persistent buffers (RoPE frequencies) are not in the file: rebuild them on the CPU.
    rotary = model.model.rotary_emb
    model.model.rotary_emb = type(rotary)(config=config)
    if getattr(config, "tie_word_embeddings", False):
        model.tie_weights()
    return model.eval()


def is_quantized_dir(model_dir: str | Path) -> bool:
    """True for a directory written by :func:`save_quantized` (``skywork quantize``)."""
    config_file = Path(model_dir) / "config.json"
    if not config_file.exists():
        return False
    quant = json.loads(config_file.read_text()).get("quantization_config") or {}
    return quant.get("quant_method") == QUANT_METHOD


def load_for_inference(
    model_dir: str | Path, dtype: str = "fp32", device: str = "auto", quantize: str | None = None
) -> nn.Module:
    """The model of ``generate``, ``chat``, ``eval`` and ``serve``: any model directory we load, as is.

    ``quantize="bnb-int8"`` (or a directory it wrote offline) loads bitsandbytes LLM.int8() on a CUDA GPU and is
    refused elsewhere. An int8 directory from ``skywork quantize`` reloads int8 (whatever ``quantize`` says); ``quantize="int8"``
    quantizes any other directory online (bf16 load, then :func:`quantize_model`: embeddings, norms and the head
    in bf16, as the official 8-bit mode). A quantized model ignores ``dtype``: its activations are bf16.
    """
    from skywork.model.loading import load_model
    from skywork.utils.device import resolve_device

    if quantize is not None and quantize not in METHODS:
        raise ValueError(f"unknown quantization {quantize!r}; known: {', '.join(METHODS)}")
    target = resolve_device(device)
    if quantize == BNB_INT8 or is_bnb_dir(model_dir):
        return _load_bnb(model_dir, target)
    if is_quantized_dir(model_dir):
        return load_quantized(model_dir).to(target)
    if quantize is not None:
        return quantize_model(load_model(model_dir, dtype=torch.bfloat16), quantize).to(target)
    return load_model(model_dir, dtype=dtype, device=target)


def _model_class(raw_config: dict):
    if raw_config.get("model_type") == "llama":
        from transformers import LlamaForCausalLM

        return LlamaForCausalLM
    from skywork.model.modeling import SkyworkForCausalLM

    return SkyworkForCausalLM


def weight_bytes(model: nn.Module) -> int:
    """Bytes of the parameters and persistent buffers (what a checkpoint stores; meta tensors count too)."""
    seen: set[int] = set()
    total = 0
    for tensor in list(model.parameters()) + [b for _, b in _persistent_buffers(model)]:
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        total += tensor.numel() * tensor.element_size()
    return total


def _persistent_buffers(model: nn.Module):
    for module_name, module in model.named_modules():
        for name, buffer in module.named_buffers(recurse=False):
            if name not in module._non_persistent_buffers_set:
                yield f"{module_name}.{name}", buffer


def memory_row(config, label: str) -> dict:
    """Weight memory of ``config`` in bf16 and int8, computed on the meta device (no memory used)."""
    from skywork.model.modeling import SkyworkForCausalLM

    with torch.device("meta"):
        model = SkyworkForCausalLM(config).to(torch.bfloat16)
    bf16 = weight_bytes(model)
    int8 = weight_bytes(quantize_model(model))
    return {"model": label, "bf16_gib": bf16 / 2**30, "int8_gib": int8 / 2**30, "ratio": int8 / bf16}


def measured_row(model: nn.Module, label: str) -> dict:
    """Weight memory of a real model measured before and after quantizing a copy of it."""
    import copy

    bf16_model = copy.deepcopy(model).to(torch.bfloat16)
    bf16 = weight_bytes(bf16_model)
    int8 = weight_bytes(quantize_model(bf16_model))
    return {"model": label, "bf16_gib": bf16 / 2**30, "int8_gib": int8 / 2**30, "ratio": int8 / bf16}


def memory_table(presets: tuple[str, ...] = ("skywork-13b", "skywork-small")) -> list[dict]:
    """Rows of weight memory bf16 vs int8 per preset, plus the official README's 13B numbers for comparison."""
    rows = [memory_row(make_config(name), name) for name in presets]
    official = OFFICIAL_13B_GIB
    rows.append(
        {
            "model": "skywork-13b (official README)",
            "bf16_gib": official["bf16"],
            "int8_gib": official["int8"],
            "ratio": official["int8"] / official["bf16"],
        }
    )
    return rows
