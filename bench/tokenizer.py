"""Tokenizer trainer benchmark: training time, encode throughput, Chinese compression (RESULT lines).

- Training time of the full 65,536-entry recipe on about 10 MB of text (``--large``: also about 100 MB, the 10 MB
  mix repeated, which measures how time scales, not vocabulary quality), beside a plain SentencePiece BPE of the
  same size trained on the same text.
- Encode throughput in MB/s of our HF fast tokenizer (``tokenizer.json``, verified id-identical) against raw
  sentencepiece on held-out documents, both batch-encoding the same list.
- Chinese characters per token on held-out Chinese (Skywork's zh_general articles, not in the training mix) against
  the plain BPE of equal size (goal from the issue: >= 1.3x) and against the Latin-only part (the LLaMA analogue).

Run: ``.venv/bin/python bench/tokenizer.py [--large]``. Needs ../shared/data.
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


def bench_compression(tokenizer_dir: Path, held_out: list[str]) -> list[dict]:
    from skywork.tokenizer.report import print_report, tokenizer_report

    rep = tokenizer_report(tokenizer_dir, held_out)
    print_report(rep)
    zh = {name: res["by_label"]["chinese"]["chars_per_token"] for name, res in rep["results"].items()}
    return [
        {
            "name": "zh_chars_per_token_vs_plain_bpe",
            "ours": zh["ours"],
            "peer": zh["plain_bpe"],
            "goal": ">=1.3x",
            "peer_name": "plain BPE of equal size on the same corpus",
        },
        {
            "name": "zh_chars_per_token_vs_latin_only",
            "ours": zh["ours"],
            "peer": zh["latin_only"],
            "goal": "report (LLaMA analogue)",
            "peer_name": "our Latin/code part alone",
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="also time training on about 100 MB")
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
        work = Path(tmp)
        print("== training, ~10 MB")
        res, tok_dir = bench_training(data, 10, work)
        results += res
        if args.large:
            print("== training, ~100 MB")
            results += bench_training(data, 100, work)[0]
        print("== encode throughput")
        docs = []
        for spec in held_out:
            docs += list(iter_documents(Path(spec.split("=", 1)[1])))
        results += bench_encode(tok_dir, docs)
        print("== compression on held-out text")
        results += bench_compression(tok_dir, held_out)
    report("tokenizer", results)


if __name__ == "__main__":
    main()
