"""The Skywork model: LLaMA-style (RoPE, RMSNorm, SwiGLU), HF-native, loading official checkpoints.

The room, bottom up (each module imports only those above it in this list):

- ``config``: ``SkyworkConfig`` and the named presets, the one place model shapes are defined.
- ``checkpoint``: model directories on disk: strict validation of shards before loading, and
  ``save_model_dir``, the one writer of a model directory (training checkpoints, exports, test fixtures).
- ``modeling``: ``SkyworkForCausalLM``, transformers' LLaMA under the Skywork name, validating before it loads.
- ``stats``: parameter counts, FLOPs per token and weight memory, computed on the meta device.
- ``loading``: ``load_model``, one entry point for ours, official Skywork and plain LLaMA directories.
- ``export``: ``export_llama``, a Skywork directory rewritten as a plain LLaMA one.
"""

from skywork.model.checkpoint import CheckpointError, save_model_dir, save_sharded, validate_checkpoint
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
    "save_model_dir",
    "save_sharded",
    "validate_checkpoint",
]
