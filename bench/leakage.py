"""Planted contamination: does the paired-reference verdict tell exposure from familiarity where Δ1 does not?

For GSM8K and an MMLU subset (sociology), a small model is trained here on CPU:

1. a *base* model on generic English (a Gutenberg book);
2. a *control*: the base continued on generic text + the benchmark's train split (the test items never seen);
3. a *contaminated* model: the same mix plus half of the scored test items (the other half never seen).

Both continuations learn the benchmark's style, so Δ1 (test vs a reference in another style) drops for both. The
leakage test then runs with the paired rephrase references of lm-sys/llm-decontaminator (GPT-4 rephrasings aligned
with the test items). Goals: the control gets no test-leakage call, the contaminated model does, and the per-item
paired gap ranks the trained half above the unseen half with AUC >= 0.9. The peer is the Δ1-style per-item score
without the paired reference (the item's own loss, lower = more exposed), a second peer line is min-k% prob
(Shi et al. 2023, k = 20%: the mean log-prob of the item's least likely tokens, no reference either) and, for the
false alarm, the Δ1 rule.

MMLU has no train split for these subjects beyond dev/val, so train = sociology dev + val rows; the reference set
for Δ1 is GPT-4 rephrasings of the sociology test items not scored (another style, never trained on).

    python bench/leakage.py [--items 128] [--train-items 256] [--base-steps 200] [--steps 300] [--hidden 64]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402
from skywork.eval.leakage import leakage_test  # noqa: E402
from skywork.eval.mcq import read_questions  # noqa: E402
from skywork.eval.paired import item_auc, load_pairs  # noqa: E402
from skywork.testing import build_tiny_model, build_tiny_tokenizer, shared_data_dir  # noqa: E402
from skywork.tokenizer import load  # noqa: E402


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def _mcq_prompt(row: dict) -> str:
    choices = "\n".join(f"{c}. {row[c]}" for c in "ABCD")
    return f"{row['question']}\n{choices}\nAnswer: {row['answer']}"


def gsm8k_task(data: Path, work: Path, n_items: int, n_train: int) -> dict:
    """GSM8K: test = the first n_items test problems (paired with their rephrasings), train = n_train problems."""
    test_src = data / "openai+grade-school-math/grade_school_math/data/test.jsonl"
    rephrase = data / "lm-sys+llm-decontaminator/data/rephrase/rephrase_gsm8k.jsonl"
    test = [json.loads(x) for x in test_src.read_text(encoding="utf-8").splitlines()[:n_items]]
    paired = [json.loads(x) for x in rephrase.read_text(encoding="utf-8").splitlines()[:n_items]]
    train = [
        json.loads(x) for x in (data / "SkyworkAI+Skywork/data/pt_train.jsonl").open().readlines()[:n_train]
    ]
    ref_src = data / "SkyworkAI+Skywork/data/eval_loss/mock_gsm8k_test_public.jsonl"
    ref = [json.loads(x) for x in ref_src.read_text(encoding="utf-8").splitlines()[:n_items]]
    d = work / "gsm8k"
    d.mkdir()
    return {
        "files": {
            "train": _write_jsonl(d / "train.jsonl", train),
            "test": _write_jsonl(d / "test.jsonl", test),
            "ref": _write_jsonl(d / "ref.jsonl", ref),
            "paired": _write_jsonl(d / "paired.jsonl", paired),
        },
        "train_texts": [r["text"] if "text" in r else r["question"] + " " + r["answer"] for r in train],
        "test_texts": [r["question"] + " " + r["answer"] for r in test],
    }


def mmlu_task(data: Path, work: Path, n_items: int) -> dict:
    """MMLU sociology: test = first n_items rows (paired), train = dev + val rows, ref = the rest rephrased."""
    folder = data / "lm-sys+llm-decontaminator/data/rephrase"
    rows = read_questions(folder / "sociology_test.csv", "mmlu")
    lines = (folder / "sociology_test_rephrase_english_filtered_question.jsonl").read_text().splitlines()
    rephrased = [json.loads(x)["text"] for x in lines]
    mmlu = data / "hiyouga+LLaMA-Factory/evaluation/mmlu/data"
    train = read_questions(mmlu / "dev/sociology_dev.csv", "mmlu")
    train += read_questions(mmlu / "val/sociology_val.csv", "mmlu")
    if n_items > len(rows) - 16:
        sys.exit(
            f"--items {n_items}: MMLU sociology has {len(rows)} test rows, and the reference needs 16 of them"
        )
    d = work / "mmlu"
    d.mkdir()
    with (d / "test.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        for r in rows[:n_items]:
            writer.writerow([r["question"], r["A"], r["B"], r["C"], r["D"], r["answer"]])
    ref = [
        {"text": f"{rephrased[i]} {rows[i][rows[i]['answer']]}"}
        for i in range(n_items, len(rows))
        if rephrased[i].strip()
    ]
    return {
        "files": {
            "train": _write_jsonl(
                d / "train.jsonl", [{"text": f"{r['question']} {r[r['answer']]}"} for r in train]
            ),
            "test": d / "test.csv",
            "ref": _write_jsonl(d / "ref.jsonl", ref),
            "paired": _write_jsonl(d / "paired.jsonl", [{"text": t} for t in rephrased[:n_items]]),
        },
        "train_texts": [_mcq_prompt(r) for r in train],
        "test_texts": [_mcq_prompt(r) for r in rows[:n_items]],
    }


def train_on(model, tokenizer, texts: list[str], steps: int, seq: int, lr: float, seed: int) -> None:
    """Plain AdamW on random batches of 8 texts (each cut to ``seq`` tokens, right-padded, pads not scored)."""
    rng = random.Random(seed)
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"][:seq] for t in texts]
    ids = [x for x in ids if len(x) > 1]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for _ in range(steps):
        batch = [ids[rng.randrange(len(ids))] for _ in range(8)]
        width = max(len(x) for x in batch)
        inputs = torch.tensor([x + [0] * (width - len(x)) for x in batch])
        labels = torch.tensor([x + [-100] * (width - len(x)) for x in batch])
        loss = model(input_ids=inputs, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def run_bench(name: str, task: dict, base_state: dict, make_model, tokenizer, generic, args) -> dict:
    """Control and contaminated continuations of the base model, their leakage tests and the item AUCs."""
    files = task["files"]
    half = set(
        range(0, args.items, 2)
    )  # even positions are planted: spread over the file, not its first half
    planted = [t for i, t in enumerate(task["test_texts"]) if i in half]
    out = {}
    for variant, extra in (("control", []), ("contaminated", planted)):
        model = make_model()
        model.load_state_dict(base_state)
        # many train problems seen a few times each (style, not memorised); planted items repeated, as
        # contamination usually is (a benchmark copied into several crawled pages)
        bench_texts = task["train_texts"] + extra * args.repeat
        mix = generic[: len(bench_texts) // 2] + bench_texts
        start = time.perf_counter()
        train_on(model, tokenizer, mix, args.steps, args.seq, args.lr, seed=1)
        res = leakage_test(
            model,
            tokenizer,
            files["train"],
            files["test"],
            files["ref"],
            max_chars=args.max_chars,
            n_bootstrap=1000,
            paired=files["paired"],
        )
        items = res["paired"]["per_item"]
        seen = [it["index"] in half for it in items]
        out[variant] = {
            "delta1": res["delta1"],
            "delta1_ci": res["ci"]["delta1"],
            "delta2": res["delta2"],
            "gap": res["paired"]["gap"],
            "gap_ci": res["paired"]["ci"],
            "two_groups": {
                k: v for k, v in res["paired"]["groups"].items() if k not in ("alpha", "null_sets")
            },
            "call": res["decision"]["call"],
            "test_leak": res["decision"]["test_leak"],
            "delta1_flag": res["decision"]["signals"]["delta1"],
            "verdict": res["verdict"],
            "auc_gap": item_auc([it["gap"] for it in items], seen),
            "auc_loss": item_auc([-it["loss_original"] for it in items], seen),
            "auc_min_k": item_auc([it["min_k"] for it in items], seen),
            "auc_min_k_gap": item_auc([it["min_k_gap"] for it in items], seen),
            "seconds": time.perf_counter() - start,
            "items": [
                [
                    it["index"] in half,
                    round(it["gap"], 4),
                    round(it["loss_original"], 4),
                    round(it["min_k"], 4),
                ]
                for it in items
            ],
        }
        print(
            f"[{name} {variant}] "
            + json.dumps({k: v for k, v in out[variant].items() if k not in ("verdict", "items")})
        )
        print(f"  verdict: {res['verdict']}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--items", type=int, default=128, help="Test items scored per benchmark (half planted; MMLU <= 185)."
    )
    parser.add_argument(
        "--train-items", type=int, default=256, help="GSM8K train problems in both continuations' mix."
    )
    parser.add_argument("--base-steps", type=int, default=200, help="Steps of base training on generic text.")
    parser.add_argument("--steps", type=int, default=300, help="Steps of each continuation.")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--seq", type=int, default=128, help="Training texts are cut to this many tokens.")
    parser.add_argument("--max-chars", type=int, default=600, help="Scored texts are cut to N characters.")
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--repeat", type=int, default=8, help="Copies of each planted test item in the mix.")
    args = parser.parse_args()
    torch.set_num_threads(2)
    data = shared_data_dir()
    if data is None:
        sys.exit("../shared/data is absent (set SKYWORK_SHARED_DATA)")
    work = Path(tempfile.mkdtemp(prefix="leakage-bench-"))
    tokenizer = load(build_tiny_tokenizer(work / "tok", vocab_size=1000))
    book = (data / "GITenberg+Alice-s-Adventures-in-Wonderland_11/11-0.txt").read_text(encoding="utf-8")
    generic = [book[i : i + 800] for i in range(0, len(book) - 800, 400)]

    def make_model():
        return build_tiny_model(
            len(tokenizer),
            seed=0,
            hidden_size=args.hidden,
            intermediate_size=args.hidden * 3,
            num_hidden_layers=args.layers,
            num_attention_heads=4,
            num_key_value_heads=4,
            max_position_embeddings=2048,
        )

    start = time.perf_counter()
    base = make_model()
    train_on(base, tokenizer, generic, args.base_steps, args.seq, args.lr, seed=0)
    base_state = {k: v.clone() for k, v in base.state_dict().items()}
    print(f"base model trained in {time.perf_counter() - start:.0f}s")
    tasks = {
        "gsm8k": gsm8k_task(data, work, args.items, args.train_items),
        "mmlu": mmlu_task(data, work, args.items),
    }
    for name, task in tasks.items():
        kept = load_pairs(task["files"]["test"], task["files"]["paired"]).indices
        print(f"{name}: {len(kept)} paired items of {args.items}")
    runs = {
        name: run_bench(name, task, base_state, make_model, tokenizer, generic, args)
        for name, task in tasks.items()
    }
    results = []
    for name, r in runs.items():
        c = r["contaminated"]
        results.append(
            {
                "name": f"leakage_item_auc_{name}",
                "ours": c["auc_gap"],
                "peer": c["auc_loss"],
                "goal": ">=0.9",
                "peer_name": "per-item loss of the original (no paired reference)",
            }
        )
        results.append(
            {
                "name": f"leakage_item_auc_min_k_{name}",
                "ours": c["auc_gap"],
                "peer": c["auc_min_k"],
                "goal": ">=0.9",
                "peer_name": "min-k% prob of the original, k = 20% (Shi et al. 2023; no paired reference)",
            }
        )
    alarms = [r["control"]["test_leak"] for r in runs.values()]
    peer_alarms = [r["control"]["delta1_flag"] for r in runs.values()]
    caught = [r["contaminated"]["test_leak"] for r in runs.values()]
    results.append(
        {
            "name": "leakage_false_alarm_control",
            "ours": float(any(alarms)),
            "peer": float(any(peer_alarms)),
            "goal": "=0",
            "peer_name": "Δ1 rule (report's method)",
        }
    )
    results.append(
        {
            "name": "leakage_detected_contaminated",
            "ours": float(all(caught)),
            "peer": float(all(r["contaminated"]["delta1_flag"] for r in runs.values())),
            "goal": "=1",
            "peer_name": "Δ1 rule (report's method)",
        }
    )
    for r in results:
        r["details"] = runs
        break
    report("leakage", results)


if __name__ == "__main__":
    main()
