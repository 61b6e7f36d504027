"""The Skywork model: LLaMA-style (RoPE, RMSNorm, SwiGLU), HF-native, loading official checkpoints."""

from skywork.model.checkpoint import CheckpointError, save_sharded, validate_checkpoint
from skywork.model.config import PRESETS, SkyworkConfig, load_config, make_config
from skywork.model.loading import load_model
from skywork.model.modeling import SkyworkForCausalLM
from skywork.model.stats import flops_per_token, model_stats

__all__ = [
    "CheckpointError",
    "PRESETS",
    "SkyworkConfig",
    "SkyworkForCausalLM",
    "flops_per_token",
    "load_config",
    "load_model",
    "make_config",
    "model_stats",
    "save_sharded",
    "validate_checkpoint",
]
