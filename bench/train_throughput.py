"""Training throughput: our pretraining loop vs HF Trainer, same Skywork-shaped model, same packed data, bf16.

HF Trainer on packed ``labels = input_ids`` blocks is the official repo's training path (spec 3.5). Both sides get
identical batches (drawn by our mixture sampler), bf16 autocast, AdamW (beta 0.9/0.95, wd 0.1), clip 1.0 and the
same global batch; documents attend across boundaries on both sides, as in the official path. Each side runs in its
own fresh process (so neither inherits the other's allocator state or compile caches); we time optimizer steps
after warm-up (ours also after torch.compile's first steps) and take the median.

MFU = model FLOPs/s (skywork.model.flops_per_token x tokens/s) / bf16 matmul peak measured in this run.

    python bench/train_throughput.py                           # ~80M model on this CPU (a few minutes)
    python bench/train_throughput.py --device cuda --preset 1b # ~1.2B model on a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report  # noqa: E402

# Skywork's deep-and-narrow shape (52 layers at hidden 4608), scaled down. FFN = 8/3 hidden rounded to 64.
SHAPES = {
    "80m": dict(
        hidden_size=640,
        intermediate_size=1728,
        num_hidden_layers=12,
        num_attention_heads=10,
        num_key_value_heads=10,
    ),
    "1b": dict(
        hidden_size=2048,
        intermediate_size=5504,
        num_hidden_layers=18,
        num_attention_heads=16,
        num_key_value_heads=16,
    ),
}
VOCAB = {"80m": 16384, "1b": 65536}


def data_paths(work: Path) -> tuple[Path, Path]:
    """Where build_data puts the tokenizer and the token stream (the child processes read them from there)."""
    return work / "tokenizer", work / "shards" / "main"


def build_data(work: Path, tokenizer_vocab: int = 2000) -> tuple[Path, Path]:
    """A tiny real tokenizer and a token stream of real text (Python's standard library + shared English text)."""
    from skywork.testing import build_tiny_tokenizer, shared_data_dir, stdlib_text
    from skywork.train.shards import tokenize_to_shards

    tok_dir, stream = data_paths(work)
    build_tiny_tokenizer(tok_dir, vocab_size=tokenizer_vocab)
    text = stdlib_text(max_files=200, max_chars=3_000_000)
    shared = shared_data_dir()
    if shared is not None:
        shakespeare = shared / "karpathy+char-rnn" / "data" / "tinyshakespeare" / "input.txt"
        if shakespeare.exists():
            text += shakespeare.read_text(encoding="utf-8")
    docs = [text[i : i + 3000] for i in range(0, len(text), 3000)]
    src = work / "docs.jsonl"
    src.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs))
    tokenize_to_shards([src], tok_dir, stream.parent, source="main")
    return tok_dir, stream


def our_config(args, work: Path, tok_dir: Path, stream: Path):
    from skywork.train.config import PretrainConfig
    from skywork.utils.config import from_dict

    return from_dict(
        PretrainConfig,
        {
            "output_dir": str(work / "ours"),
            "tokenizer": str(tok_dir),
            "model": {
                "preset": "skywork-small",
                "overrides": dict(SHAPES[args.preset], vocab_size=VOCAB[args.preset]),
                "vocab_from_tokenizer": False,
            },
            "data": {
                "sources": [{"name": "main", "path": str(stream)}],
                "seq_len": args.seq_len,
                "cross_document_attention": True,
            },
            "optim": {"lr": 3e-4, "min_lr": 3e-5, "warmup_steps": 2},
            "max_steps": args.warmup + args.steps,
            "micro_batch_size": args.micro_batch,
            "grad_accum_steps": args.accum,
            "precision": "bf16",
            "device": args.device,
            "compile": not args.no_compile,
            "activation_checkpointing": args.activation_checkpointing,
            "log_every": 1,
            "eval_every": 10**9,
            "save_every": 10**9,
            "progress": False,
            "tensorboard": False,
            "plots": False,
        },
    )


def run_ours(config) -> list[float]:
    """Per-step tokens/s of our loop (run_pretraining itself), read back from metrics.jsonl."""
    from skywork.train.loop import run_pretraining

    run_pretraining(config, resume="never")
    rows = [json.loads(line) for line in (Path(config.output_dir) / "metrics.jsonl").read_text().splitlines()]
    return [r["tokens_per_s"] for r in rows if "tokens_per_s" in r]


def run_hf_trainer(config, work: Path) -> list[float]:
    """HF Trainer on the same model shape, weights init, packed batches and optimizer settings."""
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from skywork.train.build import build_model, enable_activation_checkpointing
    from skywork.train.data import build_sampler

    model = build_model(config, None, torch.device(config.device))
    model.set_attn_implementation("sdpa")  # HF's default, and faster than eager attention without compile
    sampler = build_sampler(config, world=1)
    rows_needed = config.max_steps * config.micro_batch_size * config.grad_accum_steps
    batch = sampler.next_batch(rows_needed)
    dataset = [{"input_ids": ids, "labels": ids.clone()} for ids in batch.input_ids]
    tokens_per_step = config.micro_batch_size * config.grad_accum_steps * config.data.seq_len
    times: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if config.device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter())

    args = TrainingArguments(
        output_dir=str(work / "hf"),
        per_device_train_batch_size=config.micro_batch_size,
        gradient_accumulation_steps=config.grad_accum_steps,
        max_steps=config.max_steps,
        learning_rate=config.optim.lr,
        lr_scheduler_type="cosine",
        warmup_steps=config.optim.warmup_steps,
        adam_beta1=0.9,
        adam_beta2=0.95,
        weight_decay=0.1,
        max_grad_norm=1.0,
        bf16=True,
        use_cpu=config.device == "cpu",
        optim="adamw_torch_fused",
        logging_steps=10**9,
        save_strategy="no",
        report_to=[],
        dataloader_num_workers=0,
        seed=config.seed,
        disable_tqdm=True,
    )
    if config.activation_checkpointing:
        enable_activation_checkpointing(model)
    trainer = Trainer(model=model, args=args, train_dataset=dataset, callbacks=[StepTimer()])
    start = time.perf_counter()
    trainer.train()
    edges = [start, *times]
    return [tokens_per_step / (b - a) for a, b in zip(edges, edges[1:], strict=False)]


def run_side(args, work: Path) -> list[float]:
    """One side (``--side ours|hf``) in a fresh interpreter; returns its per-step tokens/s after warm-up."""
    cmd = [sys.executable, __file__, "--side", args.side_of, "--work", str(work)]
    cmd += ["--preset", args.preset, "--device", args.device, "--seq-len", str(args.seq_len)]
    cmd += ["--micro-batch", str(args.micro_batch), "--accum", str(args.accum)]
    cmd += ["--steps", str(args.steps), "--warmup", str(args.warmup)]
    cmd += ["--no-compile"] * args.no_compile + ["--activation-checkpointing"] * args.activation_checkpointing
    cmd += ["--threads", str(args.threads)] if args.threads else []
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{args.side_of} side failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["rates"][args.warmup :]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--preset", default="80m", choices=sorted(SHAPES))
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--micro-batch", type=int, default=4)
    parser.add_argument("--accum", type=int, default=1)
    parser.add_argument("--steps", type=int, default=6, help="Timed optimizer steps per side.")
    parser.add_argument("--warmup", type=int, default=2, help="Untimed first steps (compile, allocator).")
    parser.add_argument("--no-compile", action="store_true", help="Run our loop eagerly.")
    parser.add_argument("--activation-checkpointing", action="store_true")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores).")
    parser.add_argument("--side", choices=["ours", "hf"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(Path(tempfile.gettempdir()) / "skywork-inductor"))

    if args.side:  # child process: train one side on the data the parent built, print its step rates
        config = our_config(args, args.work, *data_paths(args.work))
        rates = run_ours(config) if args.side == "ours" else run_hf_trainer(config, args.work)
        print(json.dumps({"rates": rates}))
        return

    from skywork.model import flops_per_token, make_config
    from skywork.model.stats import count_parameters
    from skywork.train.metrics import measure_matmul_peak

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        build_data(work)
        model_config = make_config("skywork-small", **SHAPES[args.preset], vocab_size=VOCAB[args.preset])
        flops = flops_per_token(model_config, args.seq_len, training=True)
        peak = measure_matmul_peak(torch.device(args.device), seconds=1.0)
        print(
            f"model {args.preset}: {count_parameters(model_config)[0] / 1e6:.0f}M parameters, "
            f"{model_config.num_hidden_layers} layers, hidden {model_config.hidden_size}, "
            f"{flops:.3e} train FLOPs/token; bf16 matmul peak {peak / 1e12:.3f} TFLOP/s on {args.device}"
        )
        args.side_of = "ours"
        ours = run_side(args, work)
        args.side_of = "hf"
        hf = run_side(args, work)
    ours_tps, hf_tps = statistics.median(ours), statistics.median(hf)
    ours_mfu, hf_mfu = flops * ours_tps / peak, flops * hf_tps / peak
    print(f"ours: {ours_tps:,.0f} tokens/s, MFU {ours_mfu:.1%} (steps: {[round(x) for x in ours]})")
    print(f"HF Trainer: {hf_tps:,.0f} tokens/s, MFU {hf_mfu:.1%} (steps: {[round(x) for x in hf]})")
    tag = f"{args.preset}_{args.device}"
    report(
        f"train_throughput_{tag}",
        [
            {
                "name": f"tokens_per_s_{tag}",
                "ours": ours_tps,
                "peer": hf_tps,
                "goal": ">=1.3x",
                "unit": "tokens/s",
                "peer_name": "HF Trainer",
            },
            {
                "name": f"mfu_{tag}",
                "ours": ours_mfu,
                "peer": hf_mfu,
                "goal": ">=0.35",
                "unit": "fraction of measured bf16 matmul peak",
                "peer_name": "HF Trainer",
            },
        ],
    )


if __name__ == "__main__":
    main()
