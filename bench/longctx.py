"""LongSkywork's claim at small scale: which stage makes a model trained at L find a needle at 4L?

A tiny model is pretrained at L tokens, then six arms are evaluated with the needle test at L, 2L and 4L
(spec 5; 5 depths x SEEDS needle draws per length, deterministic scoring):

1. base                  the model trained at L
2. rope                  + RoPE scaling x4 (NTK-aware base change), no training
3. rope+cip              + chunk-interleaved continued pretraining at 4L (``long_cpt``)
4. full                  + standard SFT + long SFT on SynL at 4L (the paper's recipe)
5. full-no-cip           the full recipe without the CIP stage
6. full-no-longsft       the full recipe without the long SFT stage

The base's pretraining data: English LM text (the generated web corpus and four Gutenberg novels) and, in a
stream of its own (``--needle-share`` of the rows), needle-style documents of exactly L tokens
(``skywork.data.synth.needle_docs``: the test's format, random values, Gutenberg haystack), so that each packed row
is one whole document and the needle is never cut from its question. The tokenizer is trained on that text plus
the needle template. A copy curriculum (``--copy-share`` of the rows: random spans repeated, short
documents packed; ``skywork.data.synth.copy_docs``) and a larger init (``--init-std``) make the copy circuit form
in the budget. CIP interleaves the same documents at 4L; the long SFT mixes SynL, needle-style rows of
L..4L tokens and standard instructions (all SFT through the ``raw`` template, which is the test's plain prompt).
The test's haystack is Paul Graham's essays (shared data) or, when absent, held-out corpus text: never a text
trained on, and its values come from other seeds. Headline: ``RESULT needle_4x_full_recipe ours=<full at 4L>
peer=<base at 4L>`` (goal: >= 0.9 vs <= 0.2), one RESULT per arm, and the training cost at 4L vs L with and without
activation checkpointing (tokens/s and peak memory of a long_cpt step: the process's max RSS and the bytes
autograd keeps for backward). ``--only-base`` trains the base alone and tests it at L (with checkpoints every
quarter): the loop for making the base do the task inside its length.

    nice -n 10 python bench/longctx.py                 # the whole bench (the base alone: ~15 min on a loaded core)
    python bench/longctx.py --quick                    # a few steps of everything (minutes): checks the plumbing
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS_DIR, report  # noqa: E402

ARMS = ("base", "rope", "rope+cip", "full", "full-no-cip", "full-no-longsft")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ------------------------------------------------------------------------------------------------------ data


GUTENBERG = (
    "GITenberg+Moby-Dick--Or-The-Whale_2701/2701-0.txt",
    "GITenberg+Pride-and-Prejudice_1342/1342-0.txt",
    "GITenberg+The-Adventures-of-Sherlock-Holmes_1661/1661.txt",
    "GITenberg+Alice-s-Adventures-in-Wonderland_11/11-0.txt",
)


def training_haystack(shared: Path | None, fallback: list[str]) -> list[str]:
    """English prose for the training needles and the LM stream: Gutenberg novels (never the test's essays)."""
    paragraphs = []
    for rel in GUTENBERG:
        path = shared / rel if shared else None
        if path is None or not path.exists():
            continue
        text = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
        # drop the Project Gutenberg header and licence around the book
        start, end = text.find("*** START"), text.find("*** END")
        text = text[text.find("\n", start) + 1 : end if end > 0 else None] if start >= 0 else text
        paragraphs += [" ".join(p.split()) for p in text.split("\n\n") if len(p.split()) >= 8]
    return paragraphs or fallback


def prepare(args, work: Path) -> dict:
    """Tokenizer, pretraining streams (LM text + needle documents), SynL, SFT rows, the eval haystack."""
    from skywork.data.synth.copy_docs import copy_token_documents, frequent_tokens
    from skywork.data.synth.demo_corpus import DemoCorpus, DemoCorpusConfig
    from skywork.data.synth.instructions import InstructionConfig, InstructionGenerator
    from skywork.data.synth.long_tables import LongTables, LongTablesConfig
    from skywork.data.synth.needle_docs import needle_sft_rows, needle_token_documents
    from skywork.eval.needle import HAYSTACK_DIR, KEYS, NEEDLE, QUESTION
    from skywork.longctx.cip import write_token_documents
    from skywork.testing import build_tiny_tokenizer
    from skywork.tokenizer import load
    from skywork.train.shards import tokenize_to_shards
    from skywork.utils.io import read_jsonl_lines, write_jsonl
    from skywork.utils.paths import shared_data_dir

    shared = shared_data_dir()
    DemoCorpus(DemoCorpusConfig(seed=0, size_mb=args.corpus_mb, valid_docs=20, leakage_problems=10)).generate(
        work / "corpus"
    )
    web = [row["text"] for _, row in read_jsonl_lines(work / "corpus" / "train" / "web_en.jsonl")]
    held_web, web = web[:40], web[40:]
    prose = training_haystack(shared, web)
    # LM documents of ~40 paragraphs; the tokenizer learns from the same text (never from the test's essays)
    books = ["\n\n".join(prose[i : i + 40]) for i in range(0, len(prose), 40)]
    # the tokenizer learns from the same text and from the needle documents' template (not their values)
    template = [NEEDLE.format(key=k, value="") + QUESTION.format(key=k) for k in KEYS] * 20
    tok_dir = build_tiny_tokenizer(work / "tokenizer", vocab_size=args.vocab, texts=web + prose + template)
    tokenizer = load(tok_dir)
    L = args.length
    write_jsonl(work / "pretrain.jsonl", [{"text": t} for t in web + books])
    tokenize_to_shards({"main": [work / "pretrain.jsonl"]}, tok_dir, work / "streams")
    hay = "\n\n".join(prose)
    docs = needle_token_documents(
        tokenizer, hay, args.retrieval_docs, L, seed=1000, min_prompt=0.3, needles=(1, args.max_needles)
    )
    write_token_documents(work / "streams", docs, tokenizer=tokenizer, tokenizer_dir=tok_dir, source="needle")
    if args.continue_steps > 0:
        multi_needle_stream(args, tokenizer, tok_dir, hay, work)
    if args.copy_share > 0:
        # the copy curriculum: random spans repeated, over the needle documents' most frequent pieces + digits
        digits = [tokenizer.convert_tokens_to_ids(str(d)) for d in range(10)]
        alphabet = frequent_tokens(
            docs, args.copy_alphabet, extra=[d for d in digits if d != tokenizer.unk_token_id]
        )
        copies = copy_token_documents(
            args.copy_docs,
            args.copy_length or L,
            alphabet,
            bos_id=tokenizer.bos_token_id,
            eos_id=tokenizer.eos_token_id,
            seed=3000,
        )
        write_token_documents(
            work / "streams", copies, tokenizer=tokenizer, tokenizer_dir=tok_dir, source="copy"
        )
    LongTables(
        LongTablesConfig(
            seed=0,
            lengths=[L, 2 * L, 3 * L],
            train_tables=args.synl_tables,
            heldout_tables=3,
            languages=["en"],
            tokenizer=str(tok_dir),
        )
    ).generate(work / "synl")
    InstructionGenerator(InstructionConfig(seed=0, train_rows=300, heldout_rows=0, zh_share=0.0)).generate(
        work / "instructions"
    )
    # needle-style long SFT rows: prompts of L..4L tokens, other values and haystack than the test's
    lengths = [L - 16, 2 * L - 16, 3 * L - 16, 4 * L - 16]
    write_jsonl(
        work / "needle_sft.jsonl", needle_sft_rows(tokenizer, hay, args.needle_sft_rows, lengths, seed=2000)
    )
    essays = shared / HAYSTACK_DIR if shared else None
    found = essays is not None and essays.is_dir()
    # the first essays are plenty for 4L tokens (and quick to encode at every needle run)
    texts = [p.read_text(encoding="utf-8") for p in sorted(essays.glob("*.txt"))[:4]] if found else held_web
    write_jsonl(work / "haystack.jsonl", [{"text": t} for t in texts])
    return {
        "tokenizer": str(tok_dir),
        "haystack": [str(work / "haystack.jsonl")],
        "haystack_source": "Paul Graham essays" if found else "held-out corpus text",
        "retrieval_share": args.needle_share,
    }


def multi_needle_stream(args, tokenizer, tok_dir, hay: str, work: Path) -> None:
    """The second base phase's documents: 1..``--continue-needles`` needles of distinct keys per L-token
    document, each asked (random order), so that only the asked key's value is right: the key lookup."""
    from skywork.data.synth.needle_docs import needle_token_documents
    from skywork.longctx.cip import write_token_documents

    docs = needle_token_documents(
        tokenizer, hay, args.continue_docs, args.length, seed=1500, min_prompt=0.3,
        needles=(1, args.continue_needles),
    )  # fmt: skip
    write_token_documents(
        work / "streams", docs, tokenizer=tokenizer, tokenizer_dir=tok_dir, source="needle_multi"
    )


# -------------------------------------------------------------------------------------------------- training


def _config(cls, data: dict):
    from skywork.utils.config import from_dict

    common = {"precision": "fp32", "tensorboard": False, "progress": False, "plots": False, "keep_last": 1}
    return from_dict(cls, {**common, **data})


def base_sources(args, work: Path) -> list[dict]:
    """The base's mixture: LM text, needle documents and (``--copy-share``) the copy curriculum."""
    shares = {
        "main": 1 - args.needle_share - args.copy_share,
        "needle": args.needle_share,
        "copy": args.copy_share,
    }
    if shares["main"] < 0:
        raise SystemExit(
            f"--needle-share + --copy-share must be <= 1, got {args.needle_share + args.copy_share}"
        )
    return [
        {"name": name, "path": str(work / "streams" / name), "weight": share}
        for name, share in shares.items()
        if share > 0
    ]


def pretrain_base(args, env: dict, work: Path) -> Path:
    from skywork.train.config import PretrainConfig
    from skywork.train.loop import run_pretraining

    out = work / "base"
    config = _config(
        PretrainConfig,
        {
            "output_dir": str(out),
            "tokenizer": env["tokenizer"],
            "model": {"preset": "skywork-tiny", "overrides": model_shape(args)},
            "data": {"seq_len": args.length, "sources": base_sources(args, work)},
            "optim": {"lr": args.base_lr, "min_lr": args.base_lr / 10, "warmup_steps": 30},
            "max_steps": args.base_steps,
            "micro_batch_size": args.base_batch,
            "eval_every": 10**6,
            "save_every": max(1, args.base_steps // 4) if args.only_base else 10**6,
            "keep_last": 8,
        },
    )
    run_pretraining(config, resume="never")
    return out / "final"


def digit_copy_stream(args, tokenizer, tok_dir, work: Path) -> None:
    """Phase 3's copy curriculum over the ten digits only: in a span of random digits, repeated, most digits
    occur more than once, so copying needs the token before as well (1-token induction copies ``2 6 2`` as
    ``2 6 2 6``): the circuit that copies a 7-digit value exactly and that matches ``KEY is`` to its needle."""
    from skywork.data.synth.copy_docs import copy_token_documents
    from skywork.longctx.cip import write_token_documents

    digits = [tokenizer.convert_tokens_to_ids(str(d)) for d in range(10)]
    copies = copy_token_documents(
        args.copy_docs, args.copy_length or args.length, digits, bos_id=tokenizer.bos_token_id,
        eos_id=tokenizer.eos_token_id, seed=4000, span=(4, 12),
    )  # fmt: skip
    write_token_documents(
        work / "streams", copies, tokenizer=tokenizer, tokenizer_dir=tok_dir, source="copy_digits"
    )


def continue_base(args, env: dict, work: Path, model: Path, phase: int = 2) -> Path:
    """The base's later phases at L, from the phase before: multi-key needle documents + the copy curriculum
    (phase 2); phase 3 continues with the same data at its own lr, + ``--phase3-digits-share`` of digit copying."""
    from skywork.tokenizer import load
    from skywork.train.config import PretrainConfig
    from skywork.train.loop import run_pretraining

    if not (work / "streams" / "needle_multi" / "meta.json").exists():  # a reused work dir of phase 1 only
        from skywork.utils.paths import shared_data_dir

        hay = "\n\n".join(training_haystack(shared_data_dir(), []))
        multi_needle_stream(args, load(env["tokenizer"]), env["tokenizer"], hay, work)
    digit_share = args.phase3_digits_share if phase == 3 else 0.0
    if digit_share > 0 and not (work / "streams" / "copy_digits" / "meta.json").exists():
        digit_copy_stream(args, load(env["tokenizer"]), env["tokenizer"], work)
    out = work / f"base{phase}"
    shares = {
        "needle_multi": 1 - args.continue_copy_share - digit_share,
        "copy": args.continue_copy_share,
        "copy_digits": digit_share,
    }
    sources = [
        {"name": name, "path": str(work / "streams" / name), "weight": share}
        for name, share in shares.items()
        if share > 0
    ]
    steps = args.phase3_steps if phase == 3 else args.continue_steps
    lr = args.phase3_lr if phase == 3 else args.continue_lr
    config = _config(
        PretrainConfig,
        {
            "output_dir": str(out),
            "tokenizer": env["tokenizer"],
            "model": {"init_from": str(model)},
            "data": {"seq_len": args.length, "sources": sources},
            "optim": {"lr": lr, "min_lr": lr / 10, "warmup_steps": 30},
            "max_steps": steps,
            "micro_batch_size": args.base_batch,
            "eval_every": 10**6,
            "save_every": max(1, steps // 4),
            "keep_last": 8,
        },
    )
    run_pretraining(config, resume="auto")
    return out / "final"


def the_base(args, env: dict, work: Path) -> Path:
    """Phase 1 (copy curriculum + needle documents), phase 2 (``--continue-steps``: multi-key needles),
    phase 3 (``--phase3-steps``: more of phase 2 at a lower lr, optionally + digit copying); each phase is
    reused when there (``--reuse-base``)."""
    final = work / "base" / "final"
    base = final if args.reuse_base and final.exists() else pretrain_base(args, env, work)
    for phase, steps in ((2, args.continue_steps), (3, args.phase3_steps)):
        if steps > 0:
            final = work / f"base{phase}" / "final"
            reuse = args.reuse_base and final.exists()
            base = final if reuse else continue_base(args, env, work, base, phase)
    return base


def long_cpt(args, env: dict, model: Path, out: Path) -> Path:
    from skywork.longctx.cip import CIPConfig, build_cip_stream
    from skywork.longctx.long_cpt import LongCPTConfig, run_long_cpt

    long_len = 4 * args.length
    cip_dir = out.parent / "cip"
    if not (cip_dir / "cip" / "meta.json").exists():
        # CIP over the base's own pretraining documents: the LM text and the needle documents
        from skywork.longctx.cip import write_token_documents
        from skywork.tokenizer import load
        from skywork.train.shards import TokenShards

        streams = Path(args.work) / "streams"
        if not (streams / "cip_input" / "meta.json").exists():
            docs = [
                s.doc(i)
                for s in (TokenShards(streams / n) for n in ("main", "needle"))
                for i in range(s.num_docs)
            ]
            tokenizer = load(env["tokenizer"])
            write_token_documents(
                streams, docs, tokenizer=tokenizer, tokenizer_dir=env["tokenizer"], source="cip_input"
            )
        build_cip_stream(
            streams / "cip_input",
            cip_dir,
            CIPConfig(target_tokens=long_len, min_docs=3, max_docs=6, chunk_min=24, chunk_max=96),
        )
    config = _config(
        LongCPTConfig,
        {
            "output_dir": str(out),
            "tokenizer": env["tokenizer"],
            "model": {"init_from": str(model)},
            "data": {
                "seq_len": long_len,
                "sources": [
                    {"name": "cip", "path": str(cip_dir / "cip"), "weight": 0.7},
                    {"name": "main", "path": str(Path(args.work) / "streams" / "main"), "weight": 0.3},
                ],
            },
            "optim": {"lr": args.cip_lr, "schedule": "constant"},
            "max_steps": args.cip_steps,
            "micro_batch_size": 2,
            "eval_every": 10**6,
            "save_every": 10**6,
        },
    )
    run_long_cpt(config, resume="never")
    return out / "final"


def sft(args, env: dict, model: Path, out: Path, files: list[str], seq_len: int, steps: int) -> Path:
    from skywork.train.finetune_config import SFTConfig
    from skywork.train.sft import run_sft

    config = _config(
        SFTConfig,
        {
            "output_dir": str(out),
            "model": {"init_from": str(model)},
            "data": {
                "files": files,
                "seq_len": seq_len,
                "max_seq_len": seq_len,
                "samples": 0,
                "template": "raw",
            },
            "optim": {"lr": args.sft_lr, "warmup_steps": 5},
            "max_steps": steps,
            "micro_batch_size": 2,
            "eval_every": 10**6,
            "save_every": 10**6,
        },
    )
    run_sft(config, resume="never")
    return out / "final"


def build_arms(args, env: dict, work: Path) -> dict[str, Path]:
    from skywork.longctx.rope import extend_model_dir

    L = args.length
    standard = [str(work / "instructions" / "train.jsonl")]
    # the long SFT mix: SynL tables, needle-style long prompts (other haystack and values than the test's) and
    # some standard SFT data
    synl = [str(work / "synl" / "train.jsonl"), str(work / "needle_sft.jsonl"), *standard]
    arms: dict[str, Path] = {}
    log("pretraining the base at L")
    arms["base"] = the_base(args, env, work)
    arms["rope"] = extend_model_dir(arms["base"], work / "rope", 4, "ntk", L)
    log("CIP continued pretraining at 4L")
    arms["rope+cip"] = long_cpt(args, env, arms["rope"], work / "long_cpt" / "run")
    log("standard SFT after CIP, then long SFT")
    sft_cip = sft(args, env, arms["rope+cip"], work / "sft_cip", standard, 2 * L, args.sft_steps)
    arms["full-no-longsft"] = sft_cip
    arms["full"] = sft(args, env, sft_cip, work / "longsft_cip", synl, 4 * L, args.longsft_steps)
    log("standard SFT without CIP, then long SFT")
    sft_rope = sft(args, env, arms["rope"], work / "sft_rope", standard, 2 * L, args.sft_steps)
    arms["full-no-cip"] = sft(args, env, sft_rope, work / "longsft_rope", synl, 4 * L, args.longsft_steps)
    return arms


# ------------------------------------------------------------------------------------------------ evaluation


def needle_arm(args, env: dict, model_dir: Path, out: Path, lengths: list[int] | None = None) -> dict:
    """Accuracy by length over SEEDS needle draws (5 depths each), one heatmap per arm."""
    from skywork.eval.adapter import ModelAdapter
    from skywork.eval.needle import NeedleConfig, run_needle, write_needle_results

    adapter = ModelAdapter.load(model_dir, env["tokenizer"], dtype="fp32", device="cpu", chat=False)
    L = args.length
    merged = None
    for seed in range(args.seeds):
        config = NeedleConfig(
            lengths=lengths or [L, 2 * L, 4 * L],
            depths=[0, 25, 50, 75, 100],
            haystack=env["haystack"],
            seed=seed,
        )
        res = run_needle(adapter.model, adapter.tokenizer, config)
        if merged is None:
            merged = res
        else:
            merged["samples"] += res["samples"]
            merged["cells"] += res["cells"]
            merged["grid"] = [
                [a + b for a, b in zip(ra, rb, strict=True)]
                for ra, rb in zip(merged["grid"], res["grid"], strict=True)
            ]
    merged["grid"] = [[v / args.seeds for v in row] for row in merged["grid"]]
    merged["accuracy_by_length"] = {
        str(n): sum(s["found"] for s in merged["samples"] if s["length"] == n)
        / sum(1 for s in merged["samples"] if s["length"] == n)
        for n in merged["lengths"]
    }
    merged["accuracy"] = sum(s["found"] for s in merged["samples"]) / len(merged["samples"])
    write_needle_results(out, merged, model=str(model_dir))
    return merged["accuracy_by_length"]


# ------------------------------------------------------------------------------------------- cost of length

COST_SCRIPT = """
import json, resource, sys
from skywork.longctx.long_cpt import LongCPTConfig, run_long_cpt
from skywork.utils.config import from_dict
config = from_dict(LongCPTConfig, json.loads(sys.argv[1]))
summary = run_long_cpt(config, resume="never")
print("COST", json.dumps({"tokens_per_s": summary["tokens_per_s"],
                           "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def saved_activation_bytes(model_dir: Path, seq_len: int, rows: int, checkpointing: bool) -> int:
    """Bytes autograd keeps for backward in one training forward (what activation checkpointing saves)."""
    from skywork.model import load_model
    from skywork.train.build import enable_activation_checkpointing

    model = load_model(model_dir, dtype=torch.float32).train()
    if checkpointing:
        enable_activation_checkpointing(model)
    total, seen = 0, set()

    def pack(t):
        nonlocal total
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        if key not in seen:  # count each storage once (views share it)
            seen.add(key)
            total += t.untyped_storage().nbytes()
        return t

    ids = torch.randint(0, model.config.vocab_size, (rows, seq_len))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(input_ids=ids, labels=ids).loss.backward()
    return total


def measure_cost(args, env: dict, work: Path, model: Path) -> list[dict]:
    rows = []
    for seq_len in (args.length, 4 * args.length):
        for checkpointing in (False, True):
            config = {
                "output_dir": str(work / f"cost-{seq_len}-{int(checkpointing)}"),
                "tokenizer": env["tokenizer"],
                "model": {"init_from": str(model)},
                "data": {
                    "seq_len": seq_len,
                    "sources": [{"name": "main", "path": str(work / "streams" / "main")}],
                },
                "activation_checkpointing": checkpointing,
                "max_steps": args.cost_steps,
                "micro_batch_size": args.cost_rows,
                "precision": "fp32",
                "tensorboard": False,
                "progress": False,
                "plots": False,
                "eval_every": 10**6,
                "save_every": 10**6,
            }
            env_vars = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
            proc = subprocess.run(
                [sys.executable, "-c", COST_SCRIPT, json.dumps(config)],
                capture_output=True,
                text=True,
                env=env_vars,
            )
            line = next((x for x in proc.stdout.splitlines() if x.startswith("COST ")), None)
            if line is None:
                raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
            cost = json.loads(line[5:])
            cost.update(
                seq_len=seq_len,
                checkpointing=checkpointing,
                saved_activation_mb=saved_activation_bytes(model, seq_len, args.cost_rows, checkpointing)
                / 2**20,
            )
            rows.append(cost)
            log(f"cost at {seq_len} tokens, checkpointing {checkpointing}: {cost}")
    return rows


# ---------------------------------------------------------------------------------------------------- main


def model_shape(args) -> dict:
    """The tiny model: hidden / layers from the command line, heads of 32, SwiGLU FFN ~2.7 x hidden."""
    heads = max(1, args.hidden // 32)
    return {"hidden_size": args.hidden, "initializer_range": args.init_std, "intermediate_size": int(args.hidden * 2.6875) // 8 * 8,
            "num_hidden_layers": args.layers, "num_attention_heads": heads, "num_key_value_heads": heads}  # fmt: skip


def plot_arms(table: dict, lengths: list[int], path: Path) -> None:
    from skywork.utils.io import save_figure
    from skywork.utils.plotting import pyplot

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for arm, by_length in table.items():
        ax.plot(lengths, [by_length[str(n)] for n in lengths], marker="o", label=arm)
    ax.set_xscale("log", base=2)
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.set_xlabel("context length (tokens; trained at the first)")
    ax.set_ylabel("needle accuracy")
    ax.set_ylim(-0.05, 1.05)
    ax.legend(fontsize=8)
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--length", type=int, default=128, help="L: the base model's training length")
    parser.add_argument("--hidden", type=int, default=128, help="model width")
    parser.add_argument("--layers", type=int, default=2, help="decoder layers")
    parser.add_argument("--base-steps", type=int, default=2400)
    parser.add_argument("--cip-steps", type=int, default=80)
    parser.add_argument("--sft-steps", type=int, default=40)
    parser.add_argument("--longsft-steps", type=int, default=80)
    parser.add_argument("--corpus-mb", type=float, default=1.5)
    parser.add_argument("--retrieval-docs", type=int, default=8000, help="needle documents of L tokens")
    parser.add_argument("--needle-share", type=float, default=0.5, help="their share of the base's rows")
    parser.add_argument(
        "--max-needles", type=int, default=1, help="needles per training document (all asked)"
    )
    parser.add_argument(
        "--copy-share", type=float, default=0.5, help="copy-curriculum share of the base's rows"
    )
    parser.add_argument("--copy-docs", type=int, default=30000, help="copy-curriculum documents of L tokens")
    parser.add_argument(
        "--copy-length", type=int, default=32, help="tokens per copy document (0: L); packed, block-diagonal"
    )
    parser.add_argument("--copy-alphabet", type=int, default=64, help="their alphabet: most frequent pieces")
    parser.add_argument(
        "--continue-steps",
        type=int,
        default=0,
        help="the base's phase 2: steps on multi-key needle documents",
    )
    parser.add_argument("--continue-needles", type=int, default=2, help="phase 2: needles per document, 1..N")
    parser.add_argument(
        "--continue-docs", type=int, default=8000, help="phase 2: needle documents of L tokens"
    )
    parser.add_argument("--continue-copy-share", type=float, default=0.4, help="phase 2: copy share")
    parser.add_argument("--continue-lr", type=float, default=2e-3, help="phase 2: peak lr (cosine to 1/10)")
    parser.add_argument(
        "--phase3-steps", type=int, default=0, help="the base's phase 3: phase 2's data again"
    )
    parser.add_argument("--phase3-lr", type=float, default=1e-3, help="phase 3: peak lr (cosine to 1/10)")
    parser.add_argument(
        "--phase3-digits-share", type=float, default=0.0, help="phase 3: share of copy spans of digits only"
    )
    parser.add_argument("--needle-sft-rows", type=int, default=200, help="needle-style long SFT rows")
    parser.add_argument("--base-lr", type=float, default=3e-3)
    parser.add_argument("--base-batch", type=int, default=16, help="rows of L tokens per base step")
    parser.add_argument(
        "--init-std",
        type=float,
        default=0.08,
        help="the base's initializer_range (0.08: copying forms sooner)",
    )
    parser.add_argument("--cip-lr", type=float, default=1e-3)
    parser.add_argument("--sft-lr", type=float, default=1e-3)
    parser.add_argument("--vocab", type=int, default=4000)
    parser.add_argument("--only-base", action="store_true", help="train and test the base at L only")
    parser.add_argument(
        "--reuse-base", action="store_true", help="keep --work's data and base (from an earlier run) if there"
    )
    parser.add_argument("--synl-tables", type=int, default=120)
    parser.add_argument("--seeds", type=int, default=4, help="needle draws per (length, depth)")
    parser.add_argument("--cost-steps", type=int, default=6)
    parser.add_argument("--cost-rows", type=int, default=4)
    parser.add_argument("--work", type=Path, default=Path("/tmp/skywork-bench-longctx"))
    parser.add_argument("--quick", action="store_true", help="a few steps of everything (plumbing check)")
    args = parser.parse_args()
    if args.quick:
        args.base_steps, args.cip_steps, args.sft_steps, args.longsft_steps = 10, 4, 3, 3
        args.corpus_mb, args.retrieval_docs, args.synl_tables, args.seeds, args.cost_steps = 0.3, 50, 6, 1, 2
        args.copy_docs, args.base_batch = 50, 8
        args.continue_steps, args.continue_docs = min(args.continue_steps, 3), 50
        args.phase3_steps = min(args.phase3_steps, 3)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    started = time.perf_counter()
    work = args.work
    reuse = args.reuse_base and (work / "env.json").exists() and (work / "base" / "final").exists()
    if reuse:
        # an earlier run's data and base (e.g. --only-base): train and test only the arms
        env = json.loads((work / "env.json").read_text())
        log(f"reusing the data and the base of {work}")
    else:
        if work.exists():
            import shutil

            shutil.rmtree(work)
        work.mkdir(parents=True)
        env = prepare(args, work)
        (work / "env.json").write_text(json.dumps(env))
    log(f"data ready (retrieval share of the pretraining documents {env['retrieval_share']:.1%})")
    if args.only_base:
        base = the_base(args, env, work)
        phase = base.parent.name  # base or base2
        for ckpt in [*sorted((work / phase / "checkpoints").glob("step-*/model")), base]:
            res = needle_arm(args, env, ckpt, RESULTS_DIR / "longctx" / "base-only", lengths=[args.length])
            log(f"base at L, {ckpt.parent.name}: needle accuracy {res}")
        return
    arms = build_arms(args, env, work)
    lengths = [args.length, 2 * args.length, 4 * args.length]
    out_dir = RESULTS_DIR / "longctx"
    table = {}
    for arm in ARMS:
        log(f"needle: {arm}")
        table[arm] = needle_arm(args, env, arms[arm], out_dir / arm.replace("+", "_"))
    plot_arms(table, lengths, out_dir / "needle_by_arm.png")
    log("training cost at L and 4L")
    cost = measure_cost(args, env, work, arms["rope"])

    print(f"\nneedle accuracy ({args.seeds * 5} needles per length; trained at {args.length})")
    print(f"{'arm':<18}" + "".join(f"{n:>8}" for n in lengths))
    for arm, by_length in table.items():
        print(f"{arm:<18}" + "".join(f"{by_length[str(n)]:>8.2f}" for n in lengths))
    print(f"\n{'seq_len':>8} {'ckpt':>5} {'tokens/s':>10} {'max RSS MB':>11} {'saved act. MB':>14}")
    for c in cost:
        print(f"{c['seq_len']:>8} {c['checkpointing']!s:>5} {c['tokens_per_s']:>10.0f} {c['max_rss_mb']:>11.0f} "
              f"{c['saved_activation_mb']:>14.1f}")  # fmt: skip
    four = str(4 * args.length)
    base = table["base"][four]
    results = [
        {"name": "needle_4x_full_recipe", "ours": table["full"][four], "peer": base, "goal": ">=0.9_vs_base<=0.2",
         "peer_name": "base at 4L"},
    ] + [
        {"name": f"needle_4x_{arm.replace('+', '_').replace('-', '_')}", "ours": table[arm][four], "peer": base,
         "goal": "ablation", "peer_name": "base at 4L"}
        for arm in ARMS
    ]  # fmt: skip

    def cost_of(seq_len, ckpt):
        return next(c for c in cost if c["seq_len"] == seq_len and c["checkpointing"] == ckpt)

    for ckpt in (False, True):
        tag = "ckpt" if ckpt else "no_ckpt"
        long_c, short_c = cost_of(4 * args.length, ckpt), cost_of(args.length, ckpt)
        results.append({"name": f"tokens_per_s_4L_vs_L_{tag}", "ours": long_c["tokens_per_s"],
                        "peer": short_c["tokens_per_s"], "goal": "report", "unit": "tokens/s"})  # fmt: skip
        results.append({"name": f"saved_activations_mb_4L_vs_L_{tag}", "ours": long_c["saved_activation_mb"],
                        "peer": short_c["saved_activation_mb"], "goal": "report", "unit": "MB"})  # fmt: skip
        results.append({"name": f"max_rss_mb_4L_vs_L_{tag}", "ours": long_c["max_rss_mb"],
                        "peer": short_c["max_rss_mb"], "goal": "report", "unit": "MB"})  # fmt: skip
    long_ckpt, long_plain = cost_of(4 * args.length, True), cost_of(4 * args.length, False)
    results.append({"name": "saved_activations_mb_4L_ckpt_vs_no_ckpt", "ours": long_ckpt["saved_activation_mb"],
                    "peer": long_plain["saved_activation_mb"], "goal": "<1", "unit": "MB"})  # fmt: skip
    (out_dir / "table.json").write_text(
        json.dumps(
            {
                "needle": table,
                "cost": cost,
                "args": {k: str(v) for k, v in vars(args).items()},
                "retrieval_share": env["retrieval_share"],
                "haystack": env["haystack_source"],
                "seconds": time.perf_counter() - started,
            },
            indent=2,
        )  # fmt: skip
    )
    log(f"done in {time.perf_counter() - started:.0f} s; heatmaps in {out_dir}")
    report("longctx", results)


if __name__ == "__main__":
    main()
