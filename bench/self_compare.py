"""Does self-compare fine-tuning beat plain SFT? Three arms at small scale, and k=8 sampling speed vs HF generate.

The bench first *teaches a small model the problem format*: a tokenizer and a model trained from scratch on the
demo's bilingual STEM problems with their worked solutions (``skywork.data.synth.stem``, math-chat format,
``skywork train sft`` on the one loop). From that base, on a pool of fresh training problems:

- (a) **SFT on gold**: the pool's gold solutions;
- (b) **rejection-sampling SFT**: k self-samples per problem, correct ones kept (``build.mix_ratio: 0``);
- (c) **self-compare**: the same samples, correct ones + comparison examples (``build.mix_ratio`` 0.5),

each a real ``skywork.math.self_compare`` run (b and c share round 1's samples: sampling is seeded per row, so
they are the same draws) or ``run_sft`` (a), with the same optimizer steps, rows per step and row length, i.e. the
same training tokens (their supervised tokens are reported too: a comparison prompt is masked). Each round's
model answers held-out problems greedily in the math-chat format; accuracy per arm, round and language with a
95% bootstrap interval over problems. Rounds after the first: (a) trains on gold again, (b) and (c) resample
from their own model.

Sampling throughput: k=8 samples per prompt of the base model, our engine (``SamplingParams(n=8)``: one prefill
per prompt, finished rows dropped) vs transformers' ``generate(do_sample=True, num_return_sequences=8)`` on the
same prompts and batch; generated tokens (up to each row's EOS) per second. Greedy outputs are compared token
for token. RESULT lines::

    RESULT sampling_k8_tokens_per_s ours=<engine> peer=<HF generate> ...
    RESULT self_compare_accuracy_<en|zh> ours=<arm c, last round> peer=<best of arms a, b> ...

    OMP_NUM_THREADS=1 nice -n 10 python bench/self_compare.py            # the default size (estimated a few CPU-min)
    python bench/self_compare.py --hidden 64 --layers 2 --base-problems 3000 --base-steps 800 --pool 120 \\
        --heldout 160 --steps 30 --max-new-tokens 100 --speed-prompts 8   # the run docs/math.md reports
    python bench/self_compare.py --quick                                  # a smoke run (~3 min)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import report  # noqa: E402

ARMS = ("a_sft_gold", "b_rejection", "c_self_compare")


def build_tokenizer(out: Path, texts: list[str], vocab_size: int) -> Path:
    """A SentencePiece BPE (the LLaMA recipe) trained on the problems themselves."""
    from skywork.testing import build_tiny_tokenizer

    return build_tiny_tokenizer(out, vocab_size, official_style=False, texts=texts, character_coverage=1.0)


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def sft_keys(args, steps: int, lr: float) -> dict:
    return {
        "max_steps": steps,
        "micro_batch_size": args.rows,
        "precision": "fp32",
        "device": "cpu",
        "progress": False,
        "plots": False,
        "tensorboard": False,
        "seed": 0,
        "eval_every": 10**6,
        "save_every": 10**6,
        "keep_last": 1,
        "optim": {"lr": lr, "warmup_steps": max(1, steps // 10), "schedule": "constant"},
        "data": {"max_seq_len": args.seq_len, "seq_len": args.seq_len, "samples": 0, "heldout_examples": 0},
    }


def run_sft_dir(args, out: Path, init_from: str, rows: list[dict], steps: int, lr: float) -> dict:
    from skywork.train.finetune_config import SFTConfig
    from skywork.train.sft import run_sft
    from skywork.utils.config import from_dict

    data = write_rows(out.parent / f"{out.name}.jsonl", rows)
    keys = sft_keys(args, steps, lr)
    keys.update(output_dir=str(out), model={"init_from": init_from})
    keys["data"]["files"] = [str(data)]
    return run_sft(from_dict(SFTConfig, keys), resume="auto")


def bootstrap_ci(correct: list[bool], reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Accuracy and its 95% percentile bootstrap interval over problems."""
    n = len(correct)
    if n == 0:
        return 0.0, 0.0, 0.0
    rng = random.Random(seed)
    means = sorted(sum(correct[rng.randrange(n)] for _ in range(n)) / n for _ in range(reps))
    return sum(correct) / n, means[int(0.025 * reps)], means[int(0.975 * reps) - 1]


def accuracy_by_lang(rows: list[dict]) -> dict:
    out = {}
    for lang in ("en", "zh"):
        hits = [r["grade"]["correct"] for r in rows if r["lang"] == lang]
        acc, lo, hi = bootstrap_ci(hits)
        out[lang] = {"n": len(hits), "accuracy": acc, "ci95": [lo, hi]}
    return out


def evaluate(model_dir: str, tokenizer, heldout, args) -> list[dict]:
    from skywork.inference import SamplingParams
    from skywork.math.self_compare import load_model
    from skywork.math.solve import solve_problems

    model = load_model(model_dir, "cpu")
    params = SamplingParams(max_new_tokens=args.max_new_tokens)
    return solve_problems(model, tokenizer, heldout, "math-chat", params, batch_size=args.batch)


def sampling_speed(model_dir: str, tokenizer, problems, args) -> dict:
    """Our engine vs HF generate(num_return_sequences=8) on the same prompts; greedy identity on a few."""
    from skywork.inference import GenerationEngine, SamplingParams
    from skywork.math.self_compare import load_model
    from skywork.tokenizer.chat import encode_turn

    model = load_model(model_dir, "cpu")
    eos = tokenizer.eos_token_id
    prompts = [encode_turn(tokenizer, p.question) for p in problems[: args.speed_prompts]]
    k, group = 8, max(1, args.batch // 8)
    params = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=0.8, top_p=0.95, n=k, seed=0)
    engine = GenerationEngine(model, tokenizer, batch_size=group * k)
    start = time.perf_counter()
    ours = engine.generate(prompts, params)
    ours_s = time.perf_counter() - start
    ours_tokens = sum(c.completion_tokens for cs in ours for c in cs)

    torch.manual_seed(0)
    hf_tokens, start = 0, time.perf_counter()
    with torch.no_grad():
        for i in range(0, len(prompts), group):
            chunk = prompts[i : i + group]
            width = max(map(len, chunk))
            ids = torch.full((len(chunk), width), eos, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for r, p in enumerate(chunk):  # left padding, as generate wants for decoder-only models
                ids[r, width - len(p) :] = torch.tensor(p)
                mask[r, width - len(p) :] = 1
            out = model.generate(
                ids,
                attention_mask=mask,
                do_sample=True,
                temperature=0.8,
                top_p=0.95,
                num_return_sequences=k,
                max_new_tokens=args.max_new_tokens,
                pad_token_id=eos,
                eos_token_id=eos,
            )
            for row in out[:, width:].tolist():
                hf_tokens += row.index(eos) + 1 if eos in row else len(row)
    hf_s = time.perf_counter() - start

    identical = 0
    greedy = SamplingParams(max_new_tokens=args.max_new_tokens)
    checked = prompts[: args.identity_prompts]
    mine = engine.generate(checked, greedy)
    with torch.no_grad():
        for p, completions in zip(checked, mine, strict=True):
            ref = model.generate(
                torch.tensor([p]), do_sample=False, max_new_tokens=args.max_new_tokens, pad_token_id=eos
            )[0, len(p) :].tolist()
            ref = ref[: ref.index(eos) + 1] if eos in ref else ref
            identical += completions[0].token_ids == ref
    return {
        "prompts": len(prompts),
        "k": k,
        "ours_tokens": ours_tokens,
        "ours_seconds": ours_s,
        "ours_tokens_per_s": ours_tokens / ours_s,
        "hf_tokens": hf_tokens,
        "hf_seconds": hf_s,
        "hf_tokens_per_s": hf_tokens / hf_s,
        "greedy_identical": f"{identical}/{len(checked)}",
    }


def self_compare_run(
    args, out: Path, model: str, pool_file: Path, heldout_file: Path, mix: float, rounds: int
):
    from skywork.math.config import SelfCompareConfig
    from skywork.math.self_compare import run_self_compare
    from skywork.utils.config import from_dict

    keys = sft_keys(args, args.steps, args.lr)
    config = {
        "output_dir": str(out),
        "model": model,
        "problems": [str(pool_file)],
        "device": "cpu",
        "rounds": rounds,
        "sampling": {"k": args.k, "temperature": 0.8, "top_p": 0.95, "max_new_tokens": args.max_new_tokens,
                     "batch_size": args.batch, "seed": 0},
        "build": {"mix_ratio": mix, "dedup": "steps", "max_correct_per_problem": 2, "comparisons_per_problem": 1},
        "eval": {"files": [str(heldout_file)], "max_new_tokens": args.max_new_tokens, "before": False,
                 "batch_size": args.batch},
        "train": keys,
    }  # fmt: skip
    return run_self_compare(from_dict(SelfCompareConfig, config))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="A smoke run (a few minutes).")
    parser.add_argument("--work", type=Path, default=None, help="Keep the work here (default: a temp dir).")
    parser.add_argument("--base-problems", type=int, default=3000)
    parser.add_argument("--base-steps", type=int, default=600)
    parser.add_argument("--pool", type=int, default=240, help="Training problems of the arms.")
    parser.add_argument("--heldout", type=int, default=300, help="Held-out problems (half en, half zh).")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--steps", type=int, default=60, help="Optimizer steps per arm and round.")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--rows", type=int, default=8, help="Packed rows per step.")
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=700)
    parser.add_argument("--max-new-tokens", type=int, default=120)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--speed-prompts", type=int, default=12)
    parser.add_argument("--identity-prompts", type=int, default=3)
    args = parser.parse_args()
    if args.quick:
        args.base_problems, args.base_steps, args.pool, args.heldout, args.steps = 600, 80, 24, 40, 6
        args.speed_prompts, args.identity_prompts, args.hidden, args.layers = 4, 2, 64, 2
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))  # OMP_NUM_THREADS decides
    work = args.work or Path(tempfile.mkdtemp(prefix="self_compare_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    start_all = time.perf_counter()

    from skywork.data.synth.stem import generate_problems
    from skywork.math.data import read_problems
    from skywork.model.config import make_config
    from skywork.model.modeling import SkyworkForCausalLM
    from skywork.testing import write_tiny_model_dir
    from skywork.tokenizer import load

    seen: set[str] = set()
    heldout_rows = [p.as_gsm8k() for p in generate_problems(101, args.heldout, exclude=seen)]
    pool_rows = [p.as_gsm8k() for p in generate_problems(202, args.pool, exclude=seen)]
    base_rows = [p.as_gsm8k() for p in generate_problems(303, args.base_problems, exclude=seen)]
    heldout_file = write_rows(work / "heldout.jsonl", heldout_rows)
    pool_file = write_rows(work / "pool.jsonl", pool_rows)
    tok_dir = build_tokenizer(
        work / "tokenizer", [f"{r['question']}\n{r['answer']}" for r in base_rows], args.vocab
    )
    tokenizer = load(tok_dir)
    torch.manual_seed(0)
    config = make_config(
        "skywork-tiny",
        vocab_size=len(tokenizer),
        hidden_size=args.hidden,
        intermediate_size=args.hidden * 8 // 3 // 8 * 8,
        num_hidden_layers=args.layers,
        num_attention_heads=max(2, args.hidden // 32),
        num_key_value_heads=max(2, args.hidden // 32),
    )
    init_dir = write_tiny_model_dir(work / "init", SkyworkForCausalLM(config), tok_dir)

    # 1. teach the format: SFT on gold worked solutions (math-chat) from random weights
    t0 = time.perf_counter()
    base_sft = [{"instruction": r["question"], "output": r["answer"]} for r in base_rows]
    base = run_sft_dir(args, work / "base", str(init_dir), base_sft, args.base_steps, 2e-3)
    base_dir = base["final_dir"]
    base_seconds = time.perf_counter() - t0
    heldout, _ = read_problems(heldout_file)
    base_acc = accuracy_by_lang(evaluate(base_dir, tokenizer, heldout, args))
    print(f"base: {base['steps']} steps in {base_seconds:.0f}s, held-out {json.dumps(base_acc)}", flush=True)

    # 2. the arms
    results: dict[str, list[dict]] = {arm: [] for arm in ARMS}
    c_dir, b_dir = work / "c_self_compare", work / "b_rejection"
    c = self_compare_run(args, c_dir, base_dir, pool_file, heldout_file, 0.5, args.rounds)
    b_dir.mkdir(parents=True, exist_ok=True)
    (b_dir / "round_1").mkdir(exist_ok=True)
    samples = c_dir / "round_1" / "samples.jsonl"  # the same seeded draws from the same model: reuse them
    (b_dir / "round_1" / "samples.jsonl").write_bytes(samples.read_bytes())
    from skywork.utils.io import InputError

    runs = [("c_self_compare", c, c_dir)]
    try:
        runs.append(
            (
                "b_rejection",
                self_compare_run(args, b_dir, base_dir, pool_file, heldout_file, 0.0, args.rounds),
                b_dir,
            )
        )
    except (
        InputError
    ) as err:  # no correct sample with sound steps: rejection sampling has nothing to train on
        print(f"arm b: {err}; it stays the base model", flush=True)
        results["b_rejection"].append(
            {"round": 1, "data": {"examples": 0}, "note": "no training data", **base_acc}
        )
    for arm, run, out in runs:
        for r in run["rounds"]:
            rows = [
                json.loads(line)
                for line in (out / f"round_{r['round']}" / "eval.jsonl").open(encoding="utf-8")
            ]
            results[arm].append(
                {"round": r["round"], "data": r["data"], "sampled_correct_share": r["correct_share"],
                 "supervised_tokens": r["train"].get("supervised_tokens"), "tokens": r["train"].get("tokens"),
                 **accuracy_by_lang(rows)}
            )  # fmt: skip
    model = base_dir
    gold = [{"instruction": r["question"], "output": r["answer"]} for r in pool_rows]
    for r in range(1, args.rounds + 1):
        summary = run_sft_dir(args, work / f"a_sft_gold_round_{r}", model, gold, args.steps, args.lr)
        model = summary["final_dir"]
        results["a_sft_gold"].append(
            {"round": r, "data": {"examples": len(gold)}, "tokens": summary.get("tokens"),
             "supervised_tokens": (summary.get("data") or {}).get("supervised_tokens"),
             **accuracy_by_lang(evaluate(model, tokenizer, heldout, args))}
        )  # fmt: skip

    # 3. sampling throughput
    pool, _ = read_problems(pool_file)
    speed = sampling_speed(base_dir, tokenizer, pool, args)

    print(f"\nbase model: held-out en {base_acc['en']['accuracy']:.3f}, zh {base_acc['zh']['accuracy']:.3f}")
    print(
        f"{'arm':16} {'round':>5} {'examples':>8} {'cmp':>5} {'tokens':>8} {'sup.tok':>8}  en [95% CI]            zh [95% CI]"
    )
    for arm in ARMS:
        for row in results[arm]:
            en, zh = row["en"], row["zh"]
            print(
                f"{arm:16} {row['round']:>5} {row['data'].get('examples', 0):>8} "
                f"{row['data'].get('comparison_examples', 0):>5} {row.get('tokens') or 0:>8} "
                f"{row.get('supervised_tokens') or 0:>8}  {en['accuracy']:.3f} [{en['ci95'][0]:.3f}, {en['ci95'][1]:.3f}]"
                f"   {zh['accuracy']:.3f} [{zh['ci95'][0]:.3f}, {zh['ci95'][1]:.3f}]"
            )
    print(f"\nsampling k=8: {json.dumps(speed)}")
    bench_results = [
        {"name": "sampling_k8_tokens_per_s", "ours": speed["ours_tokens_per_s"], "peer": speed["hf_tokens_per_s"],
         "goal": ">=2x", "unit": "tokens/s", "peer_name": "transformers generate(num_return_sequences=8)",
         "greedy_identical": speed["greedy_identical"]},
    ]  # fmt: skip
    verdicts = []
    for lang in ("en", "zh"):
        last = {arm: results[arm][-1][lang] for arm in ARMS}
        best_peer = max(("a_sft_gold", "b_rejection"), key=lambda arm: last[arm]["accuracy"])
        ours, peer = last["c_self_compare"], last[best_peer]
        separated = ours["ci95"][0] > max(last["a_sft_gold"]["ci95"][1], last["b_rejection"]["ci95"][1])
        verdicts.append(
            f"{lang}: (c) {ours['accuracy']:.3f} vs best of (a),(b) = {best_peer} {peer['accuracy']:.3f}: "
            + ("(c) wins with non-overlapping 95% intervals" if separated else "NOT shown: the intervals overlap or (c) is behind")
        )  # fmt: skip
        bench_results.append(
            {"name": f"self_compare_accuracy_{lang}", "ours": ours["accuracy"], "peer": peer["accuracy"],
             "goal": "(c) > (a),(b) with non-overlapping 95% CIs", "peer_name": best_peer, "separated": separated}
        )  # fmt: skip
    print("\n".join(verdicts))
    total = time.perf_counter() - start_all
    print(f"total {total:.0f}s (base training {base_seconds:.0f}s); work dir {work}")
    details = {
        "base": base_acc,
        "arms": results,
        "speed": speed,
        "verdicts": verdicts,
        "seconds": total,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
        | {"work": str(work)},
    }
    (Path(__file__).parent / "results").mkdir(exist_ok=True)
    (Path(__file__).parent / "results" / "self_compare_details.json").write_text(
        json.dumps(details, indent=2)
    )
    report("self_compare", bench_results)  # fmt: skip


if __name__ == "__main__":
    main()
