"""Tokenizer benchmark: the full recipe against a plain BPE on held-out text, and encoding speed (RESULT lines).

- Trains recipes/tokenizer/full.yaml (65,536 = 32,000 + 8,000 + 25,519 + 17) and a plain SentencePiece BPE of the
  same size on the same corpus and settings (the peer), then on held-out text (Skywork's zh_general articles,
  Sherlock Holmes, typing.py + pathlib.py; none is in the training corpus):
  ``tokens_on_skywork_mix``: total tokens on a mix cut to Skywork's corpus shares by characters (English 52%,
  Chinese 40%, code 8%; goal: at most the plain BPE's), characters per token per language against the plain BPE
  (goals: Chinese >= 0.98x, English and code >= 1.02x) and Chinese against the Latin-only part (>= 4x).
- ``encode_mb_per_s``: our HF fast tokenizer against raw sentencepiece, both batch-encoding the held-out documents.
- ``tokenize_mb_per_s``: ``skywork data tokenize`` end to end (JSONL in, shards out) against a raw sentencepiece
  encode loop over the same texts in memory (goal >= 1x, ids identical), and beside it sentencepiece's own batch
  call on all cores.
- ``--timing`` / ``--large``: training time on the ~10 MB (and ~100 MB) bench corpus against the plain BPE.

Run: ``.venv/bin/python bench/tokenizer.py [--timing] [--large] [--work DIR] [--tokenizer DIR]``. Needs
../shared/data.
"""

from __future__ import annotations

import argparse
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import report  # noqa: E402
from skywork.testing import shared_data_dir  # noqa: E402
from skywork.tokenizer.corpus import iter_documents  # noqa: E402

MB = 1_000_000


def _take(paths: list[Path], budget: int) -> str:
    """Documents of ``paths`` in order until ``budget`` UTF-8 bytes."""
    out, size = [], 0
    for path in paths:
        for doc in iter_documents(path):
            out.append(doc)
            size += len(doc.encode("utf-8"))
            if size >= budget:
                return "\n".join(out)
    return "\n".join(out)


def build_corpus(data: Path, out_dir: Path, megabytes: int) -> list[str]:
    """About ``megabytes`` MB: 45% Chinese, 35% English, 20% code (Skywork's stage-1 mix, roughly); repeated
    when the shared data has less."""
    zh = [
        data / "dbiir+UER-py/corpora/CLUECorpusSmall_sampled.txt",
        *sorted((data / "SkyworkAI+Skywork/data/eval_loss").glob("zh_[fmn]*.jsonl")),
        *sorted((data / "chinese-poetry+chinese-poetry").rglob("*.json")),
    ]
    en = [
        data / "GITenberg+Alice-s-Adventures-in-Wonderland_11/11-0.txt",
        data / "GITenberg+Moby-Dick--Or-The-Whale_2701/2701-0.txt",
        data / "GITenberg+Pride-and-Prejudice_1342/1342-0.txt",
        data / "hiyouga+LLaMA-Factory/data/wiki_demo.txt",
        data / "hiyouga+LLaMA-Factory/data/c4_demo.jsonl",
    ]
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = sorted(p for p in stdlib.glob("[a-m]*.py")) + sorted(stdlib.glob("[a-m]*/*.py"))
    files = []
    for name, paths, share in (("zh", zh, 0.45), ("en", en, 0.35), ("code", code, 0.20)):
        text = _take(paths, int(megabytes * MB * share))
        size = len(text.encode("utf-8"))
        repeats = max(1, round(megabytes * MB * share / max(1, size)))
        target = out_dir / f"{name}.txt"
        with target.open("w", encoding="utf-8") as handle:
            for _ in range(repeats):
                handle.write(text + "\n")
        files.append(str(target))
    return files


def bench_training(data: Path, megabytes: int, work: Path) -> tuple[list[dict], Path]:
    from skywork.tokenizer.report import plain_bpe_model
    from skywork.tokenizer.train import TokenizerTrainConfig, train_tokenizer

    corpus_dir = work / f"corpus-{megabytes}mb"
    corpus_dir.mkdir()
    inputs = build_corpus(data, corpus_dir, megabytes)
    size = sum(Path(p).stat().st_size for p in inputs) / MB
    config = TokenizerTrainConfig(inputs=inputs, max_chinese_chars=5_000_000)
    out = work / f"tok-{megabytes}mb"
    start = time.perf_counter()
    train_report = train_tokenizer(config, out, progress=lambda m: print(f"  {m}"))
    ours = time.perf_counter() - start
    plain, peer = plain_bpe_model(out, progress=lambda m: print(f"  {m}"))
    (out / "baselines").mkdir(exist_ok=True)
    (out / "baselines" / "plain_bpe.model").write_bytes(plain)
    print(f"  {size:.1f} MB: ours {ours:.1f} s ({train_report['timings']}), plain BPE {peer:.1f} s")
    result = {
        "name": f"train_time_{megabytes}mb_s",
        "ours": ours,
        "peer": peer,
        "goal": "report (lower is better)",
        "unit": "s",
        "peer_name": "plain sentencepiece BPE, same size, same text",
        "corpus_mb": size,
    }
    return [result], out


def bench_encode(tokenizer_dir: Path, docs: list[str]) -> list[dict]:
    import sentencepiece as spm

    from skywork.tokenizer import load

    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_dir / "tokenizer.model"))
    fast = load(tokenizer_dir)
    assert type(fast).__name__ == "SkyworkTokenizerFast", type(fast)
    megabytes = sum(len(d.encode("utf-8")) for d in docs) / MB

    def best_of(fn, repeats=3):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    t_sp = best_of(lambda: sp.encode(docs))
    t_fast = best_of(lambda: fast(docs, add_special_tokens=False)["input_ids"])
    same = fast(docs, add_special_tokens=False)["input_ids"] == sp.encode(docs)
    print(
        f"  encode {megabytes:.1f} MB: fast {megabytes / t_fast:.2f} MB/s, sentencepiece {megabytes / t_sp:.2f} MB/s"
    )
    print(f"  ids identical on the benchmark documents: {same}")
    return [
        {
            "name": "encode_mb_per_s",
            "ours": megabytes / t_fast,
            "peer": megabytes / t_sp,
            "goal": f"report (ids identical: {same})",
            "unit": "MB/s",
            "peer_name": "raw sentencepiece",
        }
    ]


def bench_tokenize(tokenizer_dir: Path, docs: list[str], work: Path, repeats: int = 3) -> list[dict]:
    """``skywork data tokenize`` end to end (JSONL in, shards out) against a raw sentencepiece encode loop over
    the same texts already in memory (one ``sp.encode(text)`` per document), ids checked identical."""
    import json

    import numpy as np
    import sentencepiece as spm

    from skywork.tokenizer.batch import default_threads
    from skywork.train.shards import TokenShards, tokenize_to_shards

    source = work / "tokenize-input.jsonl"
    source.write_text(
        "".join(json.dumps({"text": d}, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8"
    )
    megabytes = sum(len(d.encode("utf-8")) for d in docs) / MB
    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_dir / "tokenizer.model"))

    def ours():
        out = work / "tokenize-out"
        if out.exists():
            import shutil

            shutil.rmtree(out)
        return tokenize_to_shards([source], tokenizer_dir, out)

    def loop():
        return [sp.encode(d) for d in docs]

    def batched():
        return sp.encode(docs, num_threads=default_threads())

    times = {name: [] for name in ("ours", "loop", "batched")}
    for _ in range(repeats):  # interleaved, so load changes hit all three alike
        for name, fn in (("ours", ours), ("loop", loop), ("batched", batched)):
            start = time.perf_counter()
            result = fn()
            times[name].append(time.perf_counter() - start)
            if name == "ours":
                meta = result["sources"]["main"]
    reference = loop()
    shards = TokenShards(work / "tokenize-out" / "main")
    same = all(
        np.array_equal(shards.doc(i)[1:-1], np.asarray(ids)) for i, ids in enumerate(reference)
    ) and shards.num_docs == len(reference)
    rate = {name: megabytes / min(t) for name, t in times.items()}
    print(
        f"  {megabytes:.1f} MB, {default_threads()} cores: skywork data tokenize {rate['ours']:.2f} MB/s "
        f"(encoder {meta['encoder']}), sentencepiece loop {rate['loop']:.2f} MB/s, "
        f"sentencepiece batch ({default_threads()} threads) {rate['batched']:.2f} MB/s; ids identical: {same}"
    )
    return [
        {
            "name": "tokenize_mb_per_s",
            "ours": rate["ours"],
            "peer": rate["loop"],
            "goal": f">=1 (ids identical: {same})",
            "unit": "MB/s",
            "peer_name": "raw sentencepiece encode loop, texts in memory",
        },
        {
            "name": "tokenize_mb_per_s_vs_sentencepiece_batch",
            "ours": rate["ours"],
            "peer": rate["batched"],
            "goal": "report (the strongest raw use: sp.encode(list, num_threads=cores), no I/O)",
            "unit": "MB/s",
            "peer_name": "raw sentencepiece batch encode, texts in memory",
        },
    ]


SKYWORK_MIX = {"english": 0.52, "chinese": 0.40, "code": 0.08}  # Skywork's corpus by characters (the issue)


def skywork_mix(held) -> dict[str, list[str]]:
    """Held-out documents per label, cut so that the characters are split as SKYWORK_MIX: as much text as the
    scarcest label allows (documents in order, the last one cut)."""
    chars = {label: sum(h.chars for h in held if h.label == label) for label in SKYWORK_MIX}
    total = min(chars[label] / share for label, share in SKYWORK_MIX.items())
    mix: dict[str, list[str]] = {}
    for label, share in SKYWORK_MIX.items():
        budget, docs = round(total * share), []
        for doc in (d for h in held if h.label == label for d in h.documents):
            if budget <= 0:
                break
            docs.append(doc[:budget])
            budget -= len(docs[-1])
        mix[label] = docs
    return mix


def bench_compression(tokenizer_dir: Path, held_out: list[str]) -> list[dict]:
    import sentencepiece as spm

    from skywork.tokenizer.report import load_held_out, print_report, tokenizer_report

    rep = tokenizer_report(tokenizer_dir, held_out)
    print_report(rep)
    cpt = {
        name: {label: stats["chars_per_token"] for label, stats in res["by_label"].items()}
        for name, res in rep["results"].items()
    }
    mix = skywork_mix(load_held_out(held_out))
    models = {
        "ours": tokenizer_dir / "tokenizer.model",
        "plain_bpe": tokenizer_dir / "baselines" / "plain_bpe.model",
    }
    tokens = {}
    for name, model in models.items():
        sp = spm.SentencePieceProcessor(model_file=str(model))
        tokens[name] = {label: sum(map(len, sp.encode(docs))) for label, docs in mix.items()}
    chars = {label: sum(map(len, docs)) for label, docs in mix.items()}
    print(
        "  held-out mix: "
        + ", ".join(f"{label} {n:,} chars ({n / sum(chars.values()):.0%})" for label, n in chars.items())
    )
    for name, per_label in tokens.items():
        print(f"  {name}: {sum(per_label.values()):,} tokens ({per_label})")
    results = [
        {
            "name": "tokens_on_skywork_mix",
            "ours": sum(tokens["ours"].values()),
            "peer": sum(tokens["plain_bpe"].values()),
            "goal": "<=1 (held-out en 52% / zh 40% / code 8% by characters)",
            "unit": "tokens",
            "peer_name": "plain BPE of equal size on the same corpus",
            "chars": chars,
            "tokens_by_label": tokens,
        }
    ]
    for label, short, goal in (
        ("chinese", "zh", ">=0.98x"),
        ("english", "en", ">=1.02x"),
        ("code", "code", ">=1.02x"),
    ):
        results.append(
            {
                "name": f"{short}_chars_per_token_vs_plain_bpe",
                "ours": cpt["ours"][label],
                "peer": cpt["plain_bpe"][label],
                "goal": goal,
                "peer_name": "plain BPE of equal size on the same corpus",
            }
        )
    results.append(
        {
            "name": "zh_chars_per_token_vs_latin_only",
            "ours": cpt["ours"]["chinese"],
            "peer": cpt["latin_only"]["chinese"],
            "goal": ">=4x (the LLaMA analogue)",
            "peer_name": "our Latin/code part alone",
        }
    )
    return results


def bench_full_recipe(work: Path) -> tuple[list[dict], Path]:
    """Train recipes/tokenizer/full.yaml (65,536 entries) and its plain-BPE peer."""
    from skywork.tokenizer.report import plain_bpe_model
    from skywork.tokenizer.train import load_train_config, train_tokenizer

    out = work / "tok-full"
    config = load_train_config(RECIPE)
    data = str(shared_data_dir())  # the recipe's ../shared/data, wherever this checkout is
    config.inputs = [p.replace("../shared/data", data, 1) for p in config.inputs]
    config.word_input_weights = {
        p.replace("../shared/data", data, 1): w for p, w in config.word_input_weights.items()
    }
    start = time.perf_counter()
    train_report = train_tokenizer(config, out, progress=lambda m: print(f"  {m}", flush=True))
    ours = time.perf_counter() - start
    plain, peer = plain_bpe_model(out, progress=lambda m: print(f"  {m}", flush=True))
    (out / "baselines").mkdir(exist_ok=True)
    (out / "baselines" / "plain_bpe.model").write_bytes(plain)
    words = train_report["chinese_words"]
    print(f"  full recipe: ours {ours:.1f} s, plain BPE {peer:.1f} s; Chinese words: {words}")
    return [
        {
            "name": "train_time_full_recipe_s",
            "ours": ours,
            "peer": peer,
            "goal": "report (lower is better)",
            "unit": "s",
            "peer_name": "plain sentencepiece BPE, same size, same corpus",
        }
    ], out


RECIPE = Path(__file__).resolve().parent.parent / "recipes" / "tokenizer" / "full.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timing", action="store_true", help="also time training on the ~10 MB bench corpus")
    parser.add_argument("--large", action="store_true", help="also time training on about 100 MB")
    parser.add_argument("--tokenizer", type=Path, help="a trained full-recipe directory (skips training)")
    parser.add_argument(
        "--work", type=Path, help="keep the trained tokenizers here (default: a temporary dir)"
    )
    args = parser.parse_args()
    data = shared_data_dir()
    if data is None:
        sys.exit("bench/tokenizer.py needs ../shared/data (or SKYWORK_SHARED_DATA)")
    held_out = [
        f"chinese={data}/SkyworkAI+Skywork/data/eval_loss/zh_general.jsonl",
        f"english={data}/GITenberg+The-Adventures-of-Sherlock-Holmes_1661/1661.txt",
        f"code={sysconfig.get_paths()['stdlib']}/typing.py",
        f"code={sysconfig.get_paths()['stdlib']}/pathlib.py",
    ]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.timing or args.large:
            print("== training, ~10 MB", flush=True)
            results += bench_training(data, 10, work)[0]
        if args.large:
            print("== training, ~100 MB", flush=True)
            results += bench_training(data, 100, work)[0]
        if args.tokenizer:
            tok_dir = args.tokenizer
        else:
            print("== training the full recipe", flush=True)
            res, tok_dir = bench_full_recipe(work)
            results += res
        print("== compression on held-out text", flush=True)
        results += bench_compression(tok_dir, held_out)
        docs = []
        for spec in held_out:
            docs += list(iter_documents(Path(spec.split("=", 1)[1])))
        print("== encode throughput", flush=True)
        results += bench_encode(tok_dir, docs)
        print("== skywork data tokenize throughput", flush=True)
        # the held-out documents 4 times (about 7 MB), so that the one-time costs of a run (loading the HF
        # tokenizer, checking the first texts' ids) weigh about as little as they do on a real corpus
        results += bench_tokenize(tok_dir, docs * 4, work)
    report("tokenizer", results)


if __name__ == "__main__":
    main()
