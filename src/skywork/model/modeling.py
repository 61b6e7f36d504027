"""``SkyworkForCausalLM``: transformers' LLaMA implementation under the Skywork name.

The released network is LLaMA (spec 3.3: identical tensor names, rotate-half RoPE), so we reuse transformers'
``LlamaForCausalLM`` rather than re-implementing it: generation, PEFT, accelerate, bitsandbytes and
lm-evaluation-harness then work without glue. What we add is strict checkpoint validation on load.
"""

from __future__ import annotations

import os
from pathlib import Path

from transformers import LlamaForCausalLM

from skywork.model.checkpoint import validate_checkpoint
from skywork.model.config import SkyworkConfig


class SkyworkForCausalLM(LlamaForCausalLM):
    config_class = SkyworkConfig

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *args, **kwargs):
        """Validate a local directory's shards first (file + tensor named on error), then load with transformers."""
        path = Path(pretrained_model_name_or_path)
        if path.is_dir() and kwargs.get("validate", True):
            config = kwargs.get("config")
            if not isinstance(config, SkyworkConfig):
                config = SkyworkConfig.from_pretrained(path)
            validate_checkpoint(path, config, model_class=cls)
        kwargs.pop("validate", None)
        return super().from_pretrained(pretrained_model_name_or_path, *args, **kwargs)
