"""skywork: reproduce the Skywork LLM system (data, tokenizer, pretraining, fine-tuning, long context, eval).

Importing the package registers ``SkyworkConfig`` / ``SkyworkForCausalLM`` / ``SkyworkTokenizer`` with the
transformers Auto classes, so official Skywork directories load with ``trust_remote_code=False``.
"""

from __future__ import annotations

__version__ = "0.1.0"


def _register() -> None:
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from skywork.model.config import SkyworkConfig
    from skywork.model.modeling import SkyworkForCausalLM
    from skywork.tokenizer.hf import SkyworkTokenizer, SkyworkTokenizerFast

    AutoConfig.register("skywork", SkyworkConfig, exist_ok=True)
    AutoModelForCausalLM.register(SkyworkConfig, SkyworkForCausalLM, exist_ok=True)
    AutoTokenizer.register(
        SkyworkConfig, tokenizer_class=SkyworkTokenizer, slow_tokenizer_class=SkyworkTokenizer, exist_ok=True
    )
    # Registered by name too, so a tokenizer_config.json naming it resolves without remote code.
    from transformers.models.auto.tokenization_auto import REGISTERED_TOKENIZER_CLASSES

    REGISTERED_TOKENIZER_CLASSES["SkyworkTokenizerFast"] = SkyworkTokenizerFast


_register()
