"""Fine-tuning data: SFT formats, chat templates and labels, and packing that keeps examples apart.

See docs/finetuning.md. The training loop draws batches from :class:`PackedSFTBatches`.
"""

from skywork.finetune.data import PackedSFTBatches, SFTDataConfig, build_sft_dataset, load_sft_batches
from skywork.finetune.formats import Conversation, Turn, read_conversations
from skywork.finetune.packing import (
    PackedBatch,
    block_causal_mask,
    collate_packed,
    collate_padded,
    pack_greedy,
    supervised_token_count,
)
from skywork.finetune.templates import IGNORE, TEMPLATES, Example, encode_example

__all__ = [
    "IGNORE",
    "TEMPLATES",
    "Conversation",
    "Example",
    "PackedBatch",
    "PackedSFTBatches",
    "SFTDataConfig",
    "Turn",
    "block_causal_mask",
    "build_sft_dataset",
    "collate_packed",
    "collate_padded",
    "encode_example",
    "load_sft_batches",
    "pack_greedy",
    "read_conversations",
    "supervised_token_count",
]
