"""Skywork-MM: accuracy of the recipe's model against a text-only baseline, and images/s training and answering.

    python bench/mm.py                      # runs recipes/mm-demo.yaml into runs/mm-demo (resumes), then measures
    python bench/mm.py --run runs/mm-demo   # measure an existing run only

Figures (peers measured in the same run):

- ``mm_digits_accuracy``, ``mm_synthetic_accuracy_<kind>``: the mm_eval stage's held-out accuracy; peer = the
  same model asked with the image withheld (text only), which can only use answer priors. Goals: >= 90% on
  counting / colour / reading, >= 80% on the digits;
- ``mm_answer_images_per_s``: greedy answers through the generation engine (batched, KV cache); peer =
  transformers' ``generate`` one image at a time (LLaVA's own evaluation loop), same prompts, same model;
- ``mm_train_images_per_s``: images per second in a training step of the one loop (from the instruct stage's
  metrics, median); peer = a bare PyTorch step (forward, backward, AdamW) on the same batches, measured here.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"count": ">=0.9", "color": ">=0.9", "reading": ">=0.9", "digit": ">=0.8"}


def run_recipe(run_dir: Path, recipe: Path) -> None:
    command = [sys.executable, "-m", "skywork.cli", "recipe", "run", str(recipe), "--output", str(run_dir)]
    subprocess.run(command, check=True, cwd=ROOT)


def accuracy_results(run_dir: Path) -> list[dict]:
    summary = json.loads((run_dir / "mm_eval" / "summary.json").read_text())
    results = []
    for kind, row in summary["kinds"].items():
        base = summary["baseline_kinds"].get(kind, {}).get("all", 0.0)
        name = "mm_digits_accuracy" if kind == "digit" else f"mm_synthetic_accuracy_{kind}"
        if kind == "parity":
            name = "mm_digits_parity_accuracy"
        results.append(
            {
                "name": name,
                "ours": row["all"],
                "peer": base,
                "goal": GOALS.get(kind, "report"),
                "peer_name": "same model, image withheld",
            }
        )
    for part, row in summary.get("reading_split", {}).items():  # words and numbers fail differently
        base = summary.get("baseline_reading_split", {}).get(part, {}).get("accuracy", 0.0)
        name = f"mm_synthetic_accuracy_reading_{part}"
        results.append({"name": name, "ours": row["accuracy"], "peer": base, "goal": "report"})
    return results


def answer_speed(model_dir: Path, data_dir: Path, n: int = 48) -> dict:
    """Engine (batched) vs transformers generate (one at a time) on the same n held-out questions."""
    from skywork.eval.mm import Answerer, items_of, read_rows
    from skywork.mm.processor import pixels

    answerer = Answerer(str(model_dir), "cpu", batch_size=16, max_new_tokens=4)
    rows = read_rows(data_dir / "heldout" / "images.jsonl", n)
    items = [i for i in items_of(rows, "synthetic") if i["part"] != "mme"][:n]
    images = pixels([r["image"] for r in rows], answerer.image_size)
    per_item = [images[i["image"]][None] for i in items]
    started = time.perf_counter()
    ours = answerer.answer([i["question"] for i in items], per_item)
    engine_s = time.perf_counter() - started
    model, stop = answerer.model, list(answerer.params.stop_token_ids)
    started = time.perf_counter()
    peer = []
    with torch.no_grad():
        for item, image in zip(items, per_item, strict=True):
            ids = torch.tensor([answerer.prompt(item["question"], True)])
            out = model.generate(
                input_ids=ids,
                pixel_values=image,
                max_new_tokens=4,
                do_sample=False,
                eos_token_id=stop,
                pad_token_id=answerer.tokenizer.eos_token_id,
            )
            peer.append(
                answerer.tokenizer.decode([t for t in out[0, ids.shape[1] :].tolist() if t not in stop])
            )
    generate_s = time.perf_counter() - started
    same = sum(a.strip() == b.strip() for a, b in zip(ours, peer, strict=True)) / len(items)
    return {
        "name": "mm_answer_images_per_s",
        "ours": len(items) / engine_s,
        "peer": len(items) / generate_s,
        "goal": ">=1 (batched engine vs one-at-a-time generate)",
        "unit": "images/s",
        "peer_name": f"transformers generate, batch 1 (answers identical: {same:.0%})",
    }


def train_speed(run_dir: Path, steps: int = 4) -> dict:
    """The instruct stage's logged images/s vs a bare PyTorch step on the same batch source and model."""
    from skywork.mm.data import make_mm_source
    from skywork.mm.model import load_mm_model
    from skywork.mm.train import MMTrainConfig, resolve
    from skywork.tokenizer import load
    from skywork.utils.config import from_dict

    stage = run_dir / "instruct"
    rows = [json.loads(line) for line in (stage / "metrics.jsonl").read_text().splitlines()]
    ours = statistics.median(r["images_per_s"] for r in rows if "images_per_s" in r and r["step"] > 2)
    import yaml

    config = from_dict(MMTrainConfig, yaml.safe_load((stage / "config.yaml").read_text()))
    config.output_dir = str(stage / "bench-unused")
    config.mm.init_from = str(stage / "final")
    resolve(config)
    saved = json.loads((stage / "final" / "config.json").read_text())["vision_config"]
    config.mm.vision.image_size, config.mm.vision.patch_size = saved["image_size"], saved["patch_size"]
    source = make_mm_source(config, 1, load(stage / "final"))
    model = load_mm_model(stage / "final").train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    images, seconds = 0, 0.0
    for step in range(steps + 1):
        batch = source.next_batch(config.micro_batch_size)
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.precision == "bf16"):
            logits = model(**batch.model_inputs(torch.device("cpu")), use_cache=False).logits
        loss = torch.nn.functional.cross_entropy(
            logits[:, :-1].float().flatten(0, 1), batch.labels[:, 1:].flatten()
        )
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step:  # the first step warms up
            seconds += time.perf_counter() - started
            images += len(batch.pixel_values)
    return {
        "name": "mm_train_images_per_s",
        "ours": ours,
        "peer": images / seconds,
        "goal": "report",
        "unit": "images/s",
        "peer_name": "bare PyTorch step, same batches",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--run", type=Path, help="An existing mm-demo run directory (skip running the recipe)."
    )
    parser.add_argument("--recipe", type=Path, default=ROOT / "recipes" / "mm-demo.yaml")
    parser.add_argument("--output", type=Path, default=ROOT / "runs" / "mm-demo")
    args = parser.parse_args()
    torch.set_num_threads(1)
    run_dir = args.run or args.output
    if args.run is None:
        started = time.perf_counter()
        run_recipe(run_dir, args.recipe)
        print(f"recipe: {time.perf_counter() - started:.0f} s")
    results = accuracy_results(run_dir)
    results.append(answer_speed(run_dir / "instruct" / "final", run_dir / "mm_data"))
    results.append(train_speed(run_dir))
    for r in results:
        print(f"{r['name']:36s} ours {r['ours']:.4g}  peer {r['peer']:.4g}  ({r.get('peer_name', '')})")
    report("mm", results)


if __name__ == "__main__":
    main()
