"""One function to load any model directory we support: ours, official Skywork, or plain LLaMA."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, PreTrainedModel


def load_model(
    path: str | Path, dtype: torch.dtype | str | None = None, device: str | torch.device = "cpu", **kwargs
) -> PreTrainedModel:
    """Load a causal LM from a local directory without remote code (``import skywork`` registers our classes)."""
    import skywork  # noqa: F401  (registers SkyworkConfig / SkyworkForCausalLM with the Auto classes)

    if isinstance(dtype, str):
        dtype = {
            "bf16": torch.bfloat16,
            "bfloat16": torch.bfloat16,
            "fp16": torch.float16,
            "float16": torch.float16,
            "fp32": torch.float32,
            "float32": torch.float32,
            "auto": "auto",
        }[dtype]
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: model directory not found")
    model = AutoModelForCausalLM.from_pretrained(
        path, dtype=dtype or torch.float32, trust_remote_code=False, **kwargs
    )
    if "device_map" in kwargs:  # placed by accelerate (bitsandbytes 8-bit models refuse .to())
        return model.eval()
    return model.to(device).eval()
