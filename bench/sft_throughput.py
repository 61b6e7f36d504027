"""SFT throughput: our packed SFT (``skywork train sft``) vs the official path (HF Trainer, one example per row).

The official ``train/train.py`` encodes alpaca rows with ``build_dataset.py`` (BOS + instruction, answer + ``</s>``,
prompt labels -100) and pads each batch to its longest example (``DataCollatorForSeq2Seq``). Ours trains the same
examples with the same encoding (``template: raw``) packed several per row without cross-attention. Both sides:
the same model (a Skywork-shaped model initialised once and saved), the shared alpaca sample, bf16 autocast,
AdamW at 1e-4 constant, one epoch over the same training examples, the same number of examples per optimizer step
(ours: rows per step = examples per step / mean examples per packed row). Each side runs in its own process.

Figures: supervised tokens (tokens with a label) per second after warm-up steps; the held-out loss (per supervised
token, the same held-out examples) after the epoch; peak memory (CUDA max allocated, else the process's max RSS)
of full fine-tuning vs LoRA (r 32, q/v), both as it is and above the process's memory before training starts
(on CPU the whole-process figure includes Python, torch and the data, the same on both sides).

    python bench/sft_throughput.py                          # tiny model, 256 examples on this CPU (minutes)
    python bench/sft_throughput.py --device cuda --examples 1000 --hidden 1024 --layers 12
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report  # noqa: E402

ALPACA = "SkyworkAI+Skywork/data/sft_data/alpaca_data_zh_51k_sample_1k.jsonl"


def prepare(args, work: Path) -> dict:
    """The tokenizer, the base model directory and the alpaca subset (training rows, held-out rows)."""
    from skywork.model import SkyworkForCausalLM, make_config
    from skywork.model.checkpoint import save_model_dir
    from skywork.testing import build_tiny_tokenizer, shared_data_dir
    from skywork.tokenizer import load

    shared = shared_data_dir()
    if shared is None or not (shared / ALPACA).exists():
        sys.exit("needs the shared alpaca sample (../shared/data or SKYWORK_SHARED_DATA)")
    tok_dir = build_tiny_tokenizer(work / "tokenizer", vocab_size=4000)
    torch.manual_seed(0)
    config = make_config(
        "skywork-small",
        vocab_size=len(load(tok_dir)),
        hidden_size=args.hidden,
        intermediate_size=args.hidden * 8 // 3 // 64 * 64,
        num_hidden_layers=args.layers,
        num_attention_heads=args.hidden // 64,
        num_key_value_heads=args.hidden // 64,
    )
    model = SkyworkForCausalLM(config)
    save_model_dir(
        work / "base",
        model.config,
        model.state_dict(),
        architecture="SkyworkForCausalLM",
        tokenizer_dir=tok_dir,
    )
    rows = [line for line in (shared / ALPACA).read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if json.loads(r).get("output", "").strip()][: args.examples + args.heldout]
    (work / "train.jsonl").write_text("\n".join(rows[: args.examples]) + "\n", encoding="utf-8")
    (work / "heldout.jsonl").write_text("\n".join(rows[args.examples :]) + "\n", encoding="utf-8")
    return {"work": str(work)}


def examples(work: Path, name: str, max_seq_len: int):
    from skywork.finetune import build_sft_dataset
    from skywork.tokenizer import load

    return build_sft_dataset([work / name], load(work / "tokenizer"), "raw", max_seq_len)[0]


def peak_memory(device: str) -> float:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux -> MiB


def resident_mib() -> float:
    """The process's resident memory now (Linux /proc; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def heldout_loss(model, work: Path, args) -> float:
    """Summed cross-entropy over the held-out examples' supervised tokens / their count (one per row)."""
    from skywork.finetune.packing import collate_padded
    from skywork.train.build import shifted_cross_entropy_sum

    held = examples(work, "heldout.jsonl", args.max_seq_len)
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(held), 8):
            batch = collate_padded(held[start : start + 8], 0)
            batch = {k: v.to(args.device) for k, v in batch.items()}
            with torch.autocast(torch.device(args.device).type, dtype=torch.bfloat16):
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            total += float(shifted_cross_entropy_sum(logits, batch["labels"]))
            count += int((batch["labels"][:, 1:] != -100).sum())
    return total / count


def run_ours(args, work: Path, lora: bool) -> dict:
    """One epoch of `skywork train sft` (packed, template raw); supervised tokens/s from its metrics rows."""
    from skywork.finetune import PackedSFTBatches
    from skywork.model import load_model
    from skywork.train.finetune_config import SFTConfig
    from skywork.train.sft import run_sft
    from skywork.utils.config import from_dict

    train = examples(work, "train.jsonl", args.max_seq_len)
    stats = PackedSFTBatches(train, args.max_seq_len, 1, 0, seed=args.seed).stats()
    per_row = len(train) / stats["rows"]
    rows_per_step = max(1, round(args.batch / per_row))
    steps = stats["rows"] // rows_per_step
    out = work / ("ours-lora" if lora else "ours")
    config = from_dict(
        SFTConfig,
        {
            "output_dir": str(out),
            "model": {"init_from": str(work / "base"), "attention": "sdpa"},
            "data": {
                "files": [str(work / "train.jsonl")],
                "template": "raw",
                "max_seq_len": args.max_seq_len,
                "seq_len": args.max_seq_len,
                "samples": 0,
            },
            "optim": {"lr": 1e-4, "warmup_steps": 0, "weight_decay": 0.0},
            "lora": {"enabled": lora},
            "max_steps": steps,
            "micro_batch_size": rows_per_step,
            "seed": args.seed,
            "precision": "bf16",
            "device": args.device,
            "eval_every": 10**9,
            "save_every": 10**9,
            "progress": False,
            "tensorboard": False,
            "plots": False,
        },
    )
    before = 0.0 if args.device.startswith("cuda") else resident_mib()  # imports and data, not training
    summary = run_sft(config, resume="never")
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rates = [r["supervised_tokens_per_s"] for r in metrics if "supervised_tokens_per_s" in r][args.warmup :]
    result = {
        "supervised_tokens_per_s": sorted(rates)[len(rates) // 2] if rates else float("nan"),
        "steps": steps,
        "rows_per_step": rows_per_step,
        "examples_per_row": per_row,
        "peak_mib": peak_memory(args.device),
        "training_mib": peak_memory(args.device) - before,  # model + gradients + optimizer + activations
    }
    if not lora:
        model = load_model(summary["final_dir"], dtype=torch.float32).to(args.device)
        result["heldout_loss"] = heldout_loss(model, work, args)
    return result


def run_peer(args, work: Path) -> dict:
    """HF Trainer on the official encoding, one example per row, padded per batch (DataCollatorForSeq2Seq)."""
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from skywork.model import load_model

    train = examples(work, "train.jsonl", args.max_seq_len)
    dataset = [{"input_ids": e.input_ids, "labels": e.labels} for e in train]

    def collate(rows):  # DataCollatorForSeq2Seq's padding: right, pad 0 (the official pad), labels -100
        longest = max(len(r["input_ids"]) for r in rows)
        ids = torch.zeros(len(rows), longest, dtype=torch.long)
        labels = torch.full((len(rows), longest), -100, dtype=torch.long)
        mask = torch.zeros(len(rows), longest, dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = (
                torch.tensor(r["input_ids"]),
                torch.tensor(r["labels"]),
                1,
            )
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    times: list[float] = []

    class StepTimes(TrainerCallback):
        def on_step_end(self, *_, **__):
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            times.append(time.perf_counter())

    model = load_model(work / "base", dtype=torch.float32).to(args.device)
    model.set_attn_implementation("sdpa")
    steps = len(dataset) // args.batch
    training = TrainingArguments(
        output_dir=str(work / "peer"),
        per_device_train_batch_size=args.batch,
        max_steps=steps,
        learning_rate=1e-4,
        lr_scheduler_type="constant",
        bf16=True,
        use_cpu=not args.device.startswith("cuda"),
        logging_steps=10**9,
        save_strategy="no",
        report_to=[],
        seed=args.seed,
        dataloader_num_workers=0,
        remove_unused_columns=False,
    )
    Trainer(
        model=model, args=training, train_dataset=dataset, data_collator=collate, callbacks=[StepTimes()]
    ).train()
    supervised = (
        sum(e.supervised_tokens - (e.labels[0] != -100) for e in train) * steps * args.batch / len(train)
    )
    timed = times[args.warmup :]
    rate = supervised / steps * (len(timed) - 1) / (timed[-1] - timed[0]) if len(timed) > 1 else float("nan")
    return {"supervised_tokens_per_s": rate, "steps": steps, "heldout_loss": heldout_loss(model, work, args)}


def child(args) -> None:
    work = Path(args.work)
    result = run_peer(args, work) if args.child == "peer" else run_ours(args, work, args.child == "lora")
    (work / f"{args.child}.json").write_text(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=256, help="Training examples (one epoch).")
    parser.add_argument("--heldout", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32, help="Examples per optimizer step (official: 32).")
    parser.add_argument("--max-seq-len", type=int, default=512)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=2, help="Steps not timed.")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--child", choices=["ours", "peer", "lora"], help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepare(args, work)
        results = {}
        for side in ("ours", "peer", "lora"):
            command = [sys.executable, __file__, "--child", side, "--work", str(work)]
            for key in (
                "examples",
                "heldout",
                "batch",
                "max_seq_len",
                "hidden",
                "layers",
                "warmup",
                "device",
                "seed",
            ):
                command += [f"--{key.replace('_', '-')}", str(getattr(args, key))]
            subprocess.run(command, check=True)
            results[side] = json.loads((work / f"{side}.json").read_text())
    print(json.dumps(results, indent=2))
    ours, peer, lora = results["ours"], results["peer"], results["lora"]
    report(
        "sft_throughput",
        [
            {
                "name": "sft_supervised_tokens_per_s",
                "ours": ours["supervised_tokens_per_s"],
                "peer": peer["supervised_tokens_per_s"],
                "goal": ">=2x",
                "unit": "supervised tokens/s",
                "peer_name": "HF Trainer, official build_dataset encoding, padded",
            },
            {
                "name": "sft_heldout_loss",
                "ours": ours["heldout_loss"],
                "peer": peer["heldout_loss"],
                "goal": "within noise (ratio ~1)",
                "unit": "nats / supervised token",
            },
            {
                "name": "sft_peak_memory_mib",
                "ours": lora["peak_mib"],
                "peer": ours["peak_mib"],
                "goal": "LoRA (ours) below full (peer)",
                "unit": "MiB",
            },
            {
                "name": "sft_training_memory_mib",
                "ours": lora["training_mib"],
                "peer": ours["training_mib"],
                "goal": "LoRA (ours) below full (peer)",
                "unit": "MiB above the process before training (CPU: peak RSS; CUDA: max allocated)",
            },
        ],
    )


if __name__ == "__main__":
    main()
