"""``skywork train sft``: supervised fine-tuning on the one loop, fed by :class:`SFTBatchSource`.

The source adapts :class:`skywork.finetune.PackedSFTBatches` (examples packed without cross-contamination, prompt
labels -100, exact resume) to the loop's :class:`~skywork.train.batches.BatchSource`. The loop's loss is already
the SFT one: summed cross-entropy over the step's supervised tokens divided by their count. Validation is the
same on held-out SFT examples (``data.validation_files`` and/or ``data.heldout_examples`` of ``files``), and at
every validation a few answers are generated with :class:`skywork.inference.GenerationEngine` and logged as
``samples`` in metrics.jsonl.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch

from skywork.finetune.data import PackedSFTBatches, build_sft_dataset
from skywork.finetune.packing import collate_packed, pack_greedy
from skywork.finetune.templates import IGNORE, Example
from skywork.train.batches import Batch
from skywork.train.finetune_config import SFTConfig
from skywork.utils.io import InputError


def sft_batch(batch: dict, sources: list[str]) -> Batch:
    """A ``PackedSFTBatches`` dict as the loop's :class:`Batch` (the 4D block mask travels as attention_mask)."""
    return Batch(
        batch["input_ids"], batch["labels"], batch.get("position_ids"), sources, batch.get("attention_mask")
    )


def prompt_ids(example: Example) -> list[int]:
    """The tokens before the example's last answer (what a model is given to answer it)."""
    labels = list(example.labels)
    last_answer = max(i for i, label in enumerate(labels) if label != IGNORE)
    start = last_answer
    while start > 0 and labels[start - 1] != IGNORE:
        start -= 1
    return list(example.input_ids[:start])


class SFTBatchSource:
    """The loop's batch source over packed SFT examples; logs supervised tokens and their rate."""

    def __init__(
        self,
        batches: PackedSFTBatches,
        validation: dict[str, list[Example]],
        global_rows: int,
        mask_dtype: torch.dtype,
    ):
        self.batches, self.global_rows, self.mask_dtype = batches, global_rows, mask_dtype
        self.validation = {name: self._fixed_batch(examples, name) for name, examples in validation.items()}
        self.heldout_examples = validation
        self.supervised_tokens = 0
        self._logged_tokens, self._logged_at = 0, time.perf_counter()

    def _fixed_batch(self, examples: list[Example], name: str) -> Batch:
        seq_len, pad_id = self.batches.seq_len, self.batches.pad_id
        if self.batches.packing:
            rows = pack_greedy([len(e) for e in examples], seq_len)
            packed = collate_packed(examples, rows, seq_len, pad_id)
            inputs = packed.model_inputs(self.batches.attention_mask, self.mask_dtype)
        else:
            from skywork.finetune.packing import collate_padded

            inputs = collate_padded(examples, pad_id)
        return sft_batch(inputs, [name] * inputs["input_ids"].shape[0])

    def next_batch(self, rows: int) -> Batch:
        if rows != self.global_rows:
            raise ValueError(f"SFT batches hold {self.global_rows} rows, asked for {rows}")
        inputs = self.batches.next_batch()
        batch = sft_batch(inputs, ["sft"] * inputs["input_ids"].shape[0])
        self.supervised_tokens += batch.predicted_tokens()
        return batch

    def validation_sets(self) -> dict[str, Batch]:
        return self.validation

    def log_fields(self) -> dict:
        """Supervised tokens so far and per second of wall time since the previous metrics row."""
        now = time.perf_counter()
        rate = (self.supervised_tokens - self._logged_tokens) / max(1e-9, now - self._logged_at)
        self._logged_tokens, self._logged_at = self.supervised_tokens, now
        return {
            "supervised_tokens": self.supervised_tokens,
            "supervised_tokens_per_s": rate,
            "epoch": self.batches.epoch,
        }

    def state_dict(self) -> dict:
        return {**self.batches.state_dict(), "supervised_tokens": self.supervised_tokens}

    def load_state_dict(self, state: dict) -> None:
        self.batches.load_state_dict(state)
        self.supervised_tokens = self._logged_tokens = int(state.get("supervised_tokens", 0))


def split_heldout(examples: list[Example], count: int, seed: int) -> tuple[list[Example], list[Example]]:
    """``count`` examples chosen with ``seed`` held out; the rest (in their order) train."""
    if count <= 0:
        return examples, []
    if count >= len(examples):
        raise InputError(
            f"heldout_examples {count} leaves no training example ({len(examples)} in all)",
            field="data.heldout_examples",
        )
    held = set(np.random.default_rng([seed, 7]).permutation(len(examples))[:count].tolist())
    return [e for i, e in enumerate(examples) if i not in held], [examples[i] for i in sorted(held)]


def mask_dtype_for(config: SFTConfig) -> torch.dtype:
    """The 4D mask's dtype: bool for SDPA (any compute dtype), fp32 additive for eager attention."""
    return torch.float32 if config.model.attention == "eager" else torch.bool


def make_sft_source(
    config: SFTConfig, world: int, tokenizer, counts_out: dict | None = None
) -> SFTBatchSource:
    """Build the examples, hold some out, and serve global batches of ``micro_batch_size x world`` rows."""
    data = config.data
    if data.seq_len < data.max_seq_len:
        raise InputError(
            f"seq_len {data.seq_len} is shorter than max_seq_len {data.max_seq_len}", field="data"
        )

    def build(files):
        return build_sft_dataset(
            files,
            tokenizer,
            data.template,
            data.max_seq_len,
            data.format,
            data.on_error,
            data.mask_history,
            data.train_on_prompt,
        )

    if not data.files:
        raise InputError("data.files is empty: give SFT JSONL files", field="data.files")
    examples, counts = build(data.files)
    if not examples:
        raise InputError("no usable SFT example in the files", field="data.files")
    train_examples, heldout = split_heldout(examples, data.heldout_examples, config.seed)
    validation = {"heldout": heldout} if heldout else {}
    if data.validation_files:
        val_examples, val_counts = build(data.validation_files)
        validation["validation"] = val_examples
        counts["validation_files"] = val_counts
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    global_rows = config.micro_batch_size * world
    batches = PackedSFTBatches(
        train_examples,
        data.seq_len,
        global_rows,
        pad_id,
        seed=config.seed,
        packing=data.packing,
        attention_mask=data.attention_mask,
        mask_dtype=mask_dtype_for(config),
        drop_last=True,
    )
    if batches.batches_per_epoch() == 0:
        raise InputError(
            f"fewer packed rows than one global batch ({global_rows}): lower micro_batch_size",
            field="data.files",
        )
    counts.update(train_examples=len(train_examples), heldout_examples=len(heldout), packing=batches.stats())
    if counts_out is not None:
        counts_out.update(counts)
    return SFTBatchSource(batches, validation, global_rows, mask_dtype_for(config))


class AnswerSampler:
    """The ``on_validation`` hook: greedy answers to a few prompts through the generation engine."""

    def __init__(self, config: SFTConfig):
        self.config = config
        self.tokenizer = None
        self.prompts: list[tuple[str, list[int]]] = []

    def prepare(self, tokenizer, source: SFTBatchSource) -> None:
        from skywork.tokenizer.chat import encode_chat

        self.tokenizer, data = tokenizer, self.config.data
        if data.sample_prompts:
            self.prompts = [
                (p, encode_chat(tokenizer, [{"role": "user", "content": p}])) for p in data.sample_prompts
            ]
        else:
            held = [e for examples in source.heldout_examples.values() for e in examples]
            self.prompts = [(tokenizer.decode(prompt_ids(e)), prompt_ids(e)) for e in held]
        self.prompts = self.prompts[: data.samples]

    def __call__(self, model, step: int) -> dict:
        import torch.distributed as dist

        if not self.prompts or (dist.is_initialized() and dist.get_rank() != 0):
            return {}
        from skywork.inference import GenerationEngine, SamplingParams

        inner = getattr(model, "module", model)
        inner.eval()
        try:
            with torch.no_grad():
                engine = GenerationEngine(inner, self.tokenizer, batch_size=len(self.prompts))
                params = SamplingParams(max_new_tokens=self.config.data.sample_max_new_tokens)
                answers = engine.generate([ids for _, ids in self.prompts], params)
        finally:
            inner.train()
        return {
            "samples": [
                {"prompt": prompt, "answer": a[0].text, "finish": a[0].finish_reason}
                for (prompt, _), a in zip(self.prompts, answers, strict=True)
            ]
        }


def run_sft(config: SFTConfig, resume: str | None = "auto") -> dict:
    """Train one SFT stage; returns the summary (``summary.json`` of kind ``sft``, with the data counts)."""
    from skywork.train.finetune_stage import run_finetune_stage

    extra: dict = {"data": {}}
    sampler = AnswerSampler(config)

    def make_batches(cfg, world, tokenizer):
        source = make_sft_source(cfg, world, tokenizer, extra["data"])
        sampler.prepare(tokenizer, source)
        return source

    hook = sampler if config.data.samples > 0 else None
    summary = run_finetune_stage(config, make_batches, "sft", resume, hook, extra)
    if config.plots and os.environ.get("RANK", "0") == "0":  # the main process wrote summary.json
        summary = add_sft_plot(Path(config.output_dir))
    return summary


def plot_sft(out_dir: Path) -> Path | None:
    """``plots/sft.png``: training and held-out loss per step beside supervised tokens per second."""
    from skywork.train.metrics import read_metrics
    from skywork.utils.io import save_figure
    from skywork.utils.plotting import pyplot

    rows = read_metrics(out_dir / "metrics.jsonl")
    train = [r for r in rows if r.get("loss") is not None]
    if not train:
        return None
    plt = pyplot()
    fig, (ax, ax_rate) = plt.subplots(1, 2, figsize=(11, 4))
    ax.plot([r["step"] for r in train], [r["loss"] for r in train], label="train", alpha=0.7)
    evals = [r for r in rows if isinstance(r.get("val_loss"), dict)]
    for name in sorted({k for r in evals for k in r["val_loss"]}):
        points = [(r["step"], r["val_loss"][name]) for r in evals if name in r["val_loss"]]
        ax.plot(*zip(*points, strict=True), marker="o", label=f"held-out {name}")
    ax.set(xlabel="step", ylabel="loss per supervised token", title="SFT loss")
    ax.legend()
    rated = [r for r in train if "supervised_tokens_per_s" in r]
    ax_rate.plot([r["step"] for r in rated], [r["supervised_tokens_per_s"] for r in rated])
    ax_rate.set(xlabel="step", ylabel="supervised tokens / s", title="SFT throughput")
    return save_figure(fig, out_dir / "plots" / "sft.png")


def add_sft_plot(out_dir: Path) -> dict:
    """Draw :func:`plot_sft` and list it in the stage's summary.json beside the loop's plots."""
    from skywork.utils.summary import read_summary, write_summary

    summary = read_summary(out_dir, "sft")
    path = plot_sft(out_dir)
    if path is None:
        return summary
    plots = {**summary.get("plots", {}), "sft": path.relative_to(out_dir)}
    payload = {k: v for k, v in summary.items() if k not in ("schema", "kind", "created", "plots")}
    write_summary(out_dir, "sft", payload, plots=plots)
    return read_summary(out_dir, "sft")


def run_sft_stage(config: SFTConfig, ctx) -> dict:
    """The recipe's ``sft`` stage (registered in skywork.recipe.kinds): run_sft, resuming a killed recipe."""
    return {"summary": run_sft(config, resume="auto")}
