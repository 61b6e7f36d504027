"""``SFTConfig`` and ``CPTConfig``: one YAML file per fine-tuning stage, on the sections of ``PretrainConfig``.

Both start from a model directory (``model.init_from``, required) and, like the official launchers
(``bash_scripts/skywork_13b_{pt,sft}.sh``), use a constant learning rate of 1e-4 after 20 warmup steps.
Everything else (checkpoints, resume, metrics/TensorBoard, precision, torchrun/DDP/FSDP2/DeepSpeed) is the
pretraining loop's, with the same keys. ``lora.enabled`` trains a PEFT LoRA adapter instead of all weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from skywork.finetune.data import SFTDataConfig
from skywork.train.config import OptimSection, PretrainConfig
from skywork.utils.config import field


@dataclass
class FinetuneOptimSection(OptimSection):
    lr: float = field(1e-4, help="Learning rate (official SFT/CPT launchers: 1e-4).")
    schedule: Literal["cosine", "constant"] = field(
        "constant", help="constant (official launchers) or cosine (warmup, then lr -> min_lr)."
    )
    warmup_steps: int = field(20, help="Linear warmup steps from 0 to lr (official launchers: 20).")


@dataclass
class LoraSection:
    enabled: bool = field(False, help="Train a PEFT LoRA adapter (the base weights stay frozen).")
    r: int = field(32, help="LoRA rank (official launchers: 32; train.py's default: 64).")
    alpha: float = field(8, help="LoRA alpha; the update is scaled by alpha / r (launchers: 8).")
    dropout: float = field(0.1, help="Dropout on the LoRA input (launchers: 0.1).")
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "v_proj"],
        help="Module names to adapt (train.py: q_proj, v_proj), or ['all-linear'] for every linear but lm_head.",
    )
    modules_to_save: list[str] = field(
        default_factory=list,
        help="Modules trained in full and saved with the adapter (launchers: embed_tokens, lm_head).",
    )
    quantize: Literal["none", "8bit", "4bit"] = field(
        "none",
        help="QLoRA: load the frozen base in 8 or 4 bits with bitsandbytes (CUDA only; optional extra).",
    )


@dataclass
class SFTDataSection(SFTDataConfig):
    validation_files: list[str] = field(
        default_factory=list,
        help="Held-out SFT files (same formats); validation loss every eval_every steps.",
    )
    heldout_examples: int = field(
        0, help="Examples held out of `files` (chosen with the seed) as the validation set 'heldout'."
    )
    sample_prompts: list[str] = field(
        default_factory=list,
        help="User messages answered (greedy, chat template) at each validation; empty: held-out prompts.",
    )
    samples: int = field(3, help="How many answers to sample at each validation (0: none).")
    sample_max_new_tokens: int = field(64, help="Tokens per sampled answer.")


@dataclass
class FromModelConfig(PretrainConfig):
    """What SFT and CPT share: they start from a model directory, with the official launchers' optimizer."""

    tokenizer: str | None = field(
        None, help="Tokenizer directory; null: the one saved in model.init_from (copied into final/)."
    )
    optim: FinetuneOptimSection = field(default_factory=FinetuneOptimSection, help="AdamW and LR schedule.")
    lora: LoraSection = field(default_factory=LoraSection, help="LoRA adapter instead of full training.")
    max_steps: int = field(1000, help="Optimizer steps (official launchers: 1000).")


@dataclass
class SFTConfig(FromModelConfig):
    """A supervised fine-tuning stage: ``skywork train sft CONFIG.yaml``."""

    data: SFTDataSection = field(default_factory=SFTDataSection, help="SFT rows, template and packing.")
    eval_every: int = field(50, help="Validation loss and sample answers every N steps (and at the end).")


@dataclass
class CPTDataSection:
    files: list[str] = field(
        default_factory=list,
        help="Raw text: JSONL(.gz) files with a text field, or .txt files (one document).",
    )
    text_field: str = field("text", help="The JSONL field holding the document text.")
    seq_len: int = field(1024, help="Tokens per block (official preprocess: 4096).")
    cross_document_attention: bool = field(
        False,
        help="Let attention cross documents inside a block (the official group_texts does); false: positions "
        "restart per document and attention is block-diagonal.",
    )
    validation: dict[str, str] = field(
        default_factory=dict, help="Held-out sets {name: token stream dir or .jsonl file}."
    )
    heldout_documents: int = field(0, help="Documents held out of `files` as the validation set 'heldout'.")
    eval_sequences: int = field(16, help="Blocks of seq_len tokens evaluated per validation set.")


@dataclass
class CPTConfig(FromModelConfig):
    """A continued-pretraining stage on raw text: ``skywork train cpt CONFIG.yaml``."""

    data: CPTDataSection = field(default_factory=CPTDataSection, help="Raw text, blocks and held-out sets.")
