"""Generation speed: our engine vs the old hand-written GSM8K loop and vs transformers' ``generate``.

1. GSM8K workload (few-shot prefix from the official prompt file, real test questions when ../shared/data is
   there, greedy, the GSM8K stop strings, EOS): ``GenerationEngine`` with the shared-prefix KV cache against the
   loop ``eval/gsm8k.greedy_generate`` had before the engine (copied below from git history, unchanged). Both
   must return identical text. Goal: >= 1.0x tokens/s at batch 8.
2. Plain workload (the same prompts whole, greedy, no stops, EOS off so every row runs ``--max-new-tokens``):
   the engine against ``model.generate(do_sample=False)`` on a left-padded batch. Token-identical. Goal >= 1.0x.

Random weights (speed does not depend on them), ``skywork-small`` widths with 2 layers by default, the tiny test
tokenizer, fp32 on CPU (``--dtype bf16`` and CUDA work too). Each figure is the best of ``--repeats`` runs,
taken in turns. On CPU with one thread the clock is the process's CPU time: on a shared machine the wall time
is mostly other processes' load (``--clock wall`` to use it anyway).

    python bench/generation.py [--preset skywork-small] [--layers 2] [--shots 1] [--questions 8] \
        [--max-new-tokens 24] [--repeats 2] [--threads 1] [--dtype fp32|bf16] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _common import report  # noqa: E402
from skywork.eval.gsm8k import STOP_STRINGS, build_prompt, load_fewshot, read_gsm8k  # noqa: E402
from skywork.inference import GenerationEngine, SamplingParams  # noqa: E402
from skywork.inference.prefix import PrefixCache, prefix_batches  # noqa: E402
from skywork.model.config import make_config  # noqa: E402
from skywork.model.modeling import SkyworkForCausalLM  # noqa: E402
from skywork.testing import build_tiny_tokenizer  # noqa: E402
from skywork.tokenizer import load as load_tokenizer  # noqa: E402
from skywork.utils.paths import shared_data_dir  # noqa: E402

SYNTHETIC_QUESTIONS = [
    "Tom has 3 apples and buys 5 more. How many apples does he have?",
    "A train leaves at 9 and arrives at 11. How long is the trip?",
    "What is 7 times 8?",
    "Sara reads 12 pages a day. How many pages does she read in a week?",
    "A shirt costs $20 and is 25% off. What is the price?",
    "There are 4 boxes with 6 pens each. How many pens are there?",
    "Ben ran 3 miles on Monday and twice as far on Tuesday. How far did he run in total?",
    "A class of 30 students splits into groups of 5. How many groups are there?",
]


# --- PEER: the old GSM8K loop from `git show main:src/skywork/eval/gsm8k.py` (before the engine), body unchanged
# (its docstring and comments left out). ------------------------------------------------------------------------
@torch.no_grad()
def old_gsm8k_greedy_generate(
    model,
    tokenizer,
    prompts: list[str],
    shared_prefix: str | None = None,
    max_new_tokens: int = 256,
    batch_size: int = 8,
    stop_strings: tuple[str, ...] = STOP_STRINGS,
) -> list[str]:
    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id
    prompt_ids = [tokenizer(p)["input_ids"] for p in prompts]
    cache = PrefixCache(model, tokenizer(shared_prefix)["input_ids"]) if shared_prefix else None
    shared = [cache.shared_length(ids) if cache else 0 for ids in prompt_ids]
    outputs = [""] * len(prompts)
    suffix_lengths = [len(ids) - s for ids, s in zip(prompt_ids, shared, strict=True)]
    for first, rows in prefix_batches(shared, suffix_lengths, batch_size):
        suffixes = [prompt_ids[i][first:] for i in rows]
        width = max(len(s) for s in suffixes)
        n = len(rows)
        ids = torch.full((n, width), eos if eos is not None else 0, dtype=torch.long)
        mask = torch.zeros((n, first + width), dtype=torch.long)
        mask[:, :first] = 1
        positions = torch.full((n, width), first, dtype=torch.long)
        for r, s in enumerate(suffixes):  # left-pad the question part, right after the shared prefix
            ids[r, width - len(s) :] = torch.tensor(s)
            mask[r, first + width - len(s) :] = 1
            positions[r, width - len(s) :] = torch.arange(first, first + len(s))
        next_pos = positions[:, -1] + 1
        past = cache.expanded(n, first) if cache else None
        out = model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
            past_key_values=past,
            use_cache=True,
            logits_to_keep=1,
        )
        past = out.past_key_values
        generated: list[list[int]] = [[] for _ in rows]
        done = [False] * n
        window = 4 * max((len(s) for s in stop_strings), default=0) + 4
        token = out.logits[:, -1].argmax(dim=-1)
        for _ in range(max_new_tokens):
            for r in range(n):
                if done[r]:
                    continue
                tid = int(token[r])
                generated[r].append(tid)
                tail = tokenizer.decode(generated[r][-window:]) if stop_strings else ""
                if tid == eos or any(s in tail for s in stop_strings):
                    done[r] = True
            if all(done):
                break
            mask = torch.cat([mask, torch.ones((n, 1), dtype=torch.long)], dim=1)
            out = model(
                input_ids=token.unsqueeze(1),
                attention_mask=mask.to(device),
                position_ids=next_pos.unsqueeze(1).to(device),
                past_key_values=past,
                use_cache=True,
            )
            past = out.past_key_values
            next_pos = next_pos + 1
            token = out.logits[:, -1].argmax(dim=-1)
        for r, i in enumerate(rows):
            outputs[i] = tokenizer.decode(generated[r])
    return outputs


# --- end of PEER ----------------------------------------------------------------------------------------------


def hf_generate(
    model, tokenizer, prompts: list[str], batch_size: int, max_new_tokens: int
) -> list[list[int]]:
    """transformers' generate, left-padded batches in prompt order, EOS off."""
    device = next(model.parameters()).device
    out_ids = []
    for start in range(0, len(prompts), batch_size):
        ids_list = [tokenizer(p)["input_ids"] for p in prompts[start : start + batch_size]]
        width = max(len(x) for x in ids_list)
        ids = torch.tensor([[0] * (width - len(x)) + x for x in ids_list], device=device)
        mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in ids_list], device=device)
        with torch.no_grad():
            out = model.generate(
                input_ids=ids,
                attention_mask=mask,
                do_sample=False,
                max_new_tokens=max_new_tokens,
                pad_token_id=0,
                eos_token_id=None,
            )
        out_ids += [row[width:].tolist() for row in out]
    return out_ids


def timed(fn, clock) -> tuple[float, object]:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    start = clock()
    value = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return clock() - start, value


def best_times(candidates: dict, repeats: int, clock) -> dict[str, tuple[float, object]]:
    """Best wall time of each candidate; the candidates take turns, so load from other processes hits all alike."""
    best: dict[str, tuple[float, object]] = {}
    for _ in range(repeats):
        for name, fn in candidates.items():
            seconds, value = timed(fn, clock)
            if name not in best or seconds < best[name][0]:
                best[name] = (seconds, value)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="skywork-small")
    ap.add_argument("--layers", type=int, default=2, help="override the preset's depth (small: 8)")
    ap.add_argument("--shots", type=int, default=1)
    ap.add_argument("--questions", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--dtype", default="fp32", choices=["fp32", "bf16"])
    ap.add_argument(
        "--threads", type=int, default=1, help="CPU threads (1: steady timings on a shared machine)"
    )
    ap.add_argument(
        "--clock",
        choices=["auto", "cpu", "wall"],
        default="auto",
        help="auto: process CPU time on CPU with one thread (other processes' load does not count), else wall",
    )
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    use_cpu_clock = args.clock == "cpu" or (
        args.clock == "auto" and args.device == "cpu" and args.threads == 1
    )
    clock = time.process_time if use_cpu_clock else time.perf_counter

    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = load_tokenizer(build_tiny_tokenizer(Path(tmp) / "tok", vocab_size=2000))
    torch.manual_seed(0)
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[args.dtype]
    model = (
        SkyworkForCausalLM(make_config(args.preset, vocab_size=len(tokenizer), num_hidden_layers=args.layers))
        .to(args.device, dtype)
        .eval()
    )
    fewshot = load_fewshot(None, args.shots)
    data = shared_data_dir()
    test_file = data / "openai+grade-school-math/grade_school_math/data/test.jsonl" if data else None
    questions = (
        [r["question"] for r in read_gsm8k(test_file, args.questions)]
        if test_file and test_file.exists()
        else (SYNTHETIC_QUESTIONS * args.questions)[: args.questions]
    )
    prompts = [build_prompt(fewshot, q) for q in questions]
    prefix = fewshot + "\nQuestion: "
    eos = tokenizer.eos_token_id
    gsm8k = SamplingParams(max_new_tokens=args.max_new_tokens, stop=STOP_STRINGS, stop_token_ids=(eos,))
    gsm8k = gsm8k.replace(skip_special_tokens=False)
    plain = SamplingParams(max_new_tokens=args.max_new_tokens, stop_token_ids=())
    prompt_tokens = sum(len(tokenizer(p)["input_ids"]) for p in prompts)
    print(
        f"model {args.preset}, {args.layers} layers ({sum(p.numel() for p in model.parameters()) / 1e6:.1f} M params, {args.dtype}, "
        f"{args.device}); {len(prompts)} prompts, {prompt_tokens / len(prompts):.0f} tokens each "
        f"({len(tokenizer(prefix)['input_ids'])} shared), max_new_tokens {args.max_new_tokens}; "
        f"{'CPU' if use_cpu_clock else 'wall'} time, best of {args.repeats}"
    )

    results = []
    for batch in (1, 8):
        keep = GenerationEngine(model, tokenizer, batch_size=batch, drop_finished_rows=False)
        drop = GenerationEngine(model, tokenizer, batch_size=batch)
        plain_engine = GenerationEngine(model, tokenizer, batch_size=batch)
        runs = best_times(
            {
                "old": lambda b=batch: old_gsm8k_greedy_generate(
                    model, tokenizer, prompts, prefix, args.max_new_tokens, b, STOP_STRINGS
                ),
                "ours": lambda e=keep: e.generate(prompts, gsm8k, shared_prefix=prefix),
                "ours_drop": lambda e=drop: e.generate(prompts, gsm8k, shared_prefix=prefix),
                "hf": lambda b=batch: hf_generate(model, tokenizer, prompts, b, args.max_new_tokens),
                "ours_plain": lambda e=plain_engine: e.generate(prompts, plain),
            },
            args.repeats,
            clock,
        )
        (old_s, old_text), (ours_s, ours), (drop_s, dropped) = runs["old"], runs["ours"], runs["ours_drop"]
        (hf_s, hf_ids), (plain_s, plain_out) = runs["hf"], runs["ours_plain"]
        ours_text = [tokenizer.decode(c[0].token_ids) for c in ours]
        assert ours_text == old_text, "engine and old GSM8K loop disagree"
        same_dropped = [c[0].token_ids for c in dropped] == [c[0].token_ids for c in ours]
        tokens = sum(c[0].completion_tokens for c in ours)
        print(
            f"gsm8k  b{batch}: old loop {tokens / old_s:8.1f} tok/s | engine {tokens / ours_s:8.1f} tok/s | "
            f"engine dropping finished rows {tokens / drop_s:8.1f} tok/s (same tokens: {same_dropped}) "
            f"[{tokens} tokens, identical text]"
        )
        plain_ids = [c[0].token_ids for c in plain_out]
        plain_tokens = sum(len(t) for t in plain_ids)
        print(
            f"plain  b{batch}: HF generate {plain_tokens / hf_s:8.1f} tok/s | engine {plain_tokens / plain_s:8.1f} "
            f"tok/s [{plain_tokens} tokens, token-identical: {plain_ids == hf_ids}]"
        )
        for peer, peer_s, peer_tokens, goal in (
            ("old GSM8K loop", old_s, tokens, ">=1.0x (vs old GSM8K loop)"),
            ("HF generate", hf_s, plain_tokens, ">=1.0x (vs HF generate)"),
        ):
            mine = ours_s if peer == "old GSM8K loop" else plain_s
            suffix = "" if peer == "old GSM8K loop" else "_vs_hf"
            results.append(
                {
                    "name": f"generation_tokens_per_s_b{batch}{suffix}",
                    "ours": peer_tokens / mine,
                    "peer": peer_tokens / peer_s,
                    "goal": goal,
                    "unit": "tokens/s",
                    "peer_name": peer,
                }
            )
    report("generation", results)


if __name__ == "__main__":
    main()
