"""``PretrainConfig``: one YAML file per pretraining stage; every key documented (``skywork train pretrain --help``).

Defaults are the Skywork-13B report's optimiser settings (spec 4.2-4.3): AdamW beta 0.9/0.95, weight decay 0.1,
gradient clipping 1.0, bf16, peak LR 6e-4 with cosine decay to 6e-5. Stage 2 is the same file shape with
``init_from`` set to stage 1's ``final/`` directory, ``optim.schedule: constant`` and ``optim.lr: 6e-5``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from skywork.train.cluster_plan import PlanSection
from skywork.utils.config import field


@dataclass
class SourceConfig:
    name: str = field(help="Source name (used in logs and the sampler state), e.g. 'main' or 'stem'.")
    path: str = field(help="Token stream directory written by `skywork data tokenize` (holds meta.json).")
    weight: float = field(1.0, help="Sampling weight at the start of the stage (normalised over sources).")
    weight_end: float | None = field(
        None, help="Weight at the end of the stage; the weight moves linearly in tokens (null: constant)."
    )
    max_epochs: float | None = field(
        None, help="Repetition cap: at most this many passes over the source (report: <= 5); null: no cap."
    )


@dataclass
class ModelSection:
    preset: str = field(
        "skywork-tiny", help="Model preset (skywork-13b, llama2-13b, skywork-small, skywork-tiny)."
    )
    overrides: dict[str, Any] = field(
        default_factory=dict, help="SkyworkConfig fields overriding the preset (e.g. num_hidden_layers)."
    )
    init_from: str | None = field(
        None, help="Start from this model directory's weights (stage 2: stage 1's final/); ignores preset."
    )
    vocab_from_tokenizer: bool = field(
        True, help="Set vocab_size to len(tokenizer) for a fresh model (spec 5: our models use our vocab)."
    )
    attention: Literal["auto", "sdpa", "eager", "flash_attention_2"] = field(
        "auto",
        help="Attention kernel (transformers' attn_implementation). auto: eager (plain matmuls + softmax, which "
        "torch.compile fuses) on CPU with compile and seq_len <= 1024, where it measured 10% faster per step "
        "than SDPA's CPU kernel; sdpa everywhere else. eager keeps a seq_len^2 score matrix per head.",
    )


@dataclass
class DataSection:
    sources: list[SourceConfig] = field(default_factory=list, help="Training sources of the mixture.")
    validation: dict[str, str] = field(
        default_factory=dict,
        help="Held-out sets {name: token stream dir or .jsonl file}; val loss per set every eval_every steps.",
    )
    seq_len: int = field(128, help="Tokens per packed sequence (report: 4096).")
    cross_document_attention: bool = field(
        False,
        help="Let attention cross document boundaries inside a packed sequence. false: position ids restart "
        "per document and attention is block-diagonal.",
    )
    eval_sequences: int = field(16, help="Sequences of seq_len tokens evaluated per validation set.")


@dataclass
class OptimSection:
    lr: float = field(6e-4, help="Peak learning rate (report stage 1: 6e-4; stage 2: 6e-5).")
    min_lr: float = field(6e-5, help="Learning rate at the end of the cosine decay (report: 6e-5).")
    schedule: Literal["cosine", "constant"] = field(
        "cosine",
        help="cosine: warmup, cosine lr -> min_lr over decay_steps, then constant min_lr. constant: lr.",
    )
    warmup_steps: int = field(
        0, help="Linear warmup steps from 0 to lr (13B value NOT FOUND; 7B pilot: 2000)."
    )
    decay_steps: int | None = field(
        None, help="Steps of the cosine (warmup included); later steps stay at min_lr. null: max_steps."
    )
    beta1: float = field(0.9, help="AdamW beta1.")
    beta2: float = field(0.95, help="AdamW beta2.")
    eps: float = field(1e-8, help="AdamW epsilon.")
    weight_decay: float = field(0.1, help="AdamW weight decay (matrices only; norms and biases get none).")
    grad_clip: float = field(1.0, help="Clip the global gradient norm to this (0: off).")


@dataclass
class PretrainConfig:
    output_dir: str = field(
        help="Run directory: metrics.jsonl, checkpoints/, final/, plots, TensorBoard logs.",
        aliases=("out_dir",),
    )
    tokenizer: str = field(help="Tokenizer directory (copied into final/ and used for vocab_size).")
    model: ModelSection = field(default_factory=ModelSection, help="Model to train.")
    data: DataSection = field(default_factory=DataSection, help="Mixture and held-out sets.")
    optim: OptimSection = field(default_factory=OptimSection, help="AdamW and learning-rate schedule.")
    max_steps: int = field(100, help="Optimizer steps in this stage.")
    micro_batch_size: int = field(4, help="Sequences per forward pass per process.")
    grad_accum_steps: int = field(
        1, help="Micro-batches per optimizer step (global batch = micro x accum x ranks)."
    )
    precision: Literal["bf16", "fp32"] = field(
        "bf16", help="bf16 autocast (weights and optimizer in fp32) or fp32."
    )
    device: str = field("auto", help="auto (cuda if available), cpu or cuda.")
    compile: bool = field(False, help="torch.compile the model (cold compile costs 20-60 s).")
    cpu_keep_freed_memory: bool = field(
        True,
        help="On CPU, tell glibc to keep freed memory instead of returning it to the kernel (mallopt), which "
        "saves ~100k page faults per step; the process then holds its peak memory until it exits.",
    )
    activation_checkpointing: bool = field(
        False, help="Recompute layer activations in backward to save memory."
    )
    distributed: Literal["auto", "none", "ddp", "fsdp", "deepspeed"] = field(
        "auto",
        help="Under torchrun: auto = ddp; fsdp = FSDP2 fully_shard per decoder layer; deepspeed = ZeRO-1/2 "
        "(optional extra, see deepspeed_config). ddp/fsdp are ignored in a single process.",
    )
    deepspeed_config: str | None = field(
        None,
        help="DeepSpeed JSON for distributed: deepspeed (e.g. configs/deepspeed/zero2.json); null: ZeRO-1.",
    )
    seed: int = field(1234, help="Seed for weights init and data order (official scripts: 1234).")
    log_every: int = field(1, help="Write a metrics row every N steps.")
    eval_every: int = field(50, help="Validation loss on every held-out set every N steps (and at the end).")
    save_every: int = field(100, help="Checkpoint every N steps (and at the end).")
    keep_last: int = field(3, help="Checkpoints kept (older ones are deleted).")
    milestone_tokens: list[int] = field(
        default_factory=list,
        help="Token counts at which the model is also kept under output_dir/milestones/ (never pruned; the "
        "step that reaches each one is saved), e.g. [500000000000, 1000000000000] as the official release keeps 500B, 1T, ...; "
        "`skywork eval trajectory` evaluates them.",
    )
    max_bad_steps: int = field(5, help="Abort after this many non-finite (NaN/Inf) losses in a row.")
    tensorboard: bool = field(True, help="Write TensorBoard event files to output_dir/tensorboard.")
    wandb: bool = field(False, help="Also log to Weights & Biases (needs wandb installed; offline mode).")
    plots: bool = field(True, help="Write loss / lr / throughput PNG plots to output_dir/plots at the end.")
    progress: bool = field(True, help="Show a rich progress bar with ETA.")
    fault_injection_nan_steps: list[int] = field(
        default_factory=list, help="Testing aid: make the loss NaN at these steps (exercises the skip logic)."
    )
    plan: PlanSection = field(
        default_factory=PlanSection,
        help="The cluster --dry-run plans for (world, layout, GPU); training ignores it.",
    )

    @property
    def tokens_per_step(self) -> int:
        """Tokens per optimizer step on one process (multiply by the world size for the global batch)."""
        return self.micro_batch_size * self.grad_accum_steps * self.data.seq_len
