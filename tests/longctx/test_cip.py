"""CIP: the exact layout of a small case, and no token lost or duplicated on a real tokenized corpus."""

from __future__ import annotations

import json

import numpy as np
import pytest

from skywork.longctx.cip import CIPBuilder, CIPConfig, build_cip_stream, cut_chunks
from skywork.train.data import TokenStream
from skywork.train.shards import ShardWriter, TokenShards, tokenize_to_shards
from skywork.utils.io import atomic_write_json

BOS, EOS, DOT = 1, 2, 3
MARK = {"A": 4, "B": 5, "C": 6}


class FakeTokenizer:
    """Token 3 is '.', 4-6 are the markers A-C; everything else is a word."""

    def __len__(self):
        return 64

    def convert_ids_to_tokens(self, ids):
        return ["." if i == DOT else f"w{i}" for i in ids]

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [MARK[text]]}


def _stream(path, docs):
    writer = ShardWriter(path, np.dtype(np.uint16), shard_tokens=1 << 20)
    path.mkdir(parents=True)
    for content in docs:
        writer.add(np.asarray([BOS, *content, EOS]))
    meta = {"docs": len(docs), "tokens": writer.total_tokens, "shards": writer.close(), "vocab_size": 64}
    atomic_write_json(path / "meta.json", {**meta, "dtype": "uint16", "bos_id": BOS, "eos_id": EOS})
    return TokenShards(path)


DOC_A = [10, 11, DOT, 12, DOT]
DOC_B = [20, 21, 22, DOT]
DOC_C = [30, DOT, 31, 32, DOT, 33]


def test_cut_chunks_ends_at_sentence_ends_or_cuts_hard():
    is_end = np.asarray(DOC_C) == DOT
    assert cut_chunks(is_end, 2, 3) == [2, 3, 1]  # [30 .] [31 32 .] [33]
    assert cut_chunks(np.zeros(7, dtype=bool), 2, 3) == [3, 3, 1]
    assert sum(cut_chunks(np.random.default_rng(0).random(999) < 0.1, 16, 64)) == 999


@pytest.mark.parametrize("marker", [None, "{name}"])
def test_exact_layout_of_a_small_case(tmp_path, marker):
    shards = _stream(tmp_path / "in", [DOC_A, DOC_B, DOC_C])
    config = CIPConfig(
        target_tokens=100, min_docs=3, max_docs=3, chunk_min=2, chunk_max=3, marker=marker, shuffle=False
    )
    samples = list(CIPBuilder(shards, FakeTokenizer(), config).samples())
    assert len(samples) == 1
    tokens, record = samples[0]
    a, b, c = ([MARK[n]] if marker else [] for n in "ABC")
    # A1 B1 C1 A2 B2 C2 C3: chunk i of every document before chunk i+1, each named by its marker
    expected = [BOS, *a, 10, 11, DOT, *b, 20, 21, 22, *c, 30, DOT]
    expected += [*a, 12, DOT, *b, DOT, *c, 31, 32, DOT, *c, 33, EOS]
    assert tokens.tolist() == expected
    assert record == {
        "kind": "cip",
        "docs": [0, 1, 2],
        "pieces": [[0, 1, 4], [1, 1, 4], [2, 1, 3], [0, 4, 6], [1, 4, 5], [2, 3, 6], [2, 6, 7]],
    }


def test_a_document_too_long_for_its_share_continues_in_the_next_sample(tmp_path):
    shards = _stream(tmp_path / "in", [DOC_A, DOC_B, DOC_C, [40, 41, DOT], [50, DOT]])
    # budget per document (14 - 2) // 3 = 4 tokens, marker included
    config = CIPConfig(
        target_tokens=14,
        min_docs=3,
        max_docs=3,
        chunk_min=2,
        chunk_max=3,
        marker="{name}",
        shuffle=False,
        long_min_tokens=1000,
    )
    samples = list(CIPBuilder(shards, FakeTokenizer(), config).samples())
    first, second = (record for _, record in samples[:2])
    assert first["pieces"] == [[0, 1, 4], [1, 1, 4], [2, 1, 3]]
    assert second["docs"][:3] == [0, 1, 2]  # the leftovers come first, in their order
    assert all(len(tokens) <= 14 for tokens, _ in samples)
    _assert_tiles(shards, [r for _, r in samples])


def _assert_tiles(shards: TokenShards, records: list[dict]) -> None:
    """Every content token of every input document is in exactly one piece."""
    covered = {}
    for record in records:
        for doc, start, end in record["pieces"]:
            covered.setdefault(doc, []).append((start, end))
    assert sorted(covered) == list(range(shards.num_docs))
    for doc, spans in covered.items():
        spans.sort()
        length = len(shards.doc(doc))
        assert spans[0][0] == 1 and spans[-1][1] == length - 1  # BOS and EOS are the sample's own
        assert all(prev[1] == nxt[0] for prev, nxt in zip(spans, spans[1:], strict=False))


def test_no_token_lost_or_duplicated_on_a_tokenized_corpus(tmp_path, tiny_tokenizer_dir, tiny_tokenizer):
    rng = np.random.default_rng(0)
    words = ["alpha", "beta", "gamma", "delta", "river", "stone", "light", "cloud"]
    texts = []
    for i in range(40):
        sentences = [
            " ".join(rng.choice(words, size=rng.integers(3, 9))) + "." for _ in range(rng.integers(2, 12))
        ]
        texts.append({"text": f"Doc {i}. " + " ".join(sentences)})
    texts.append({"text": " ".join(["a long natural document."] * 200)})
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(t) for t in texts) + "\n")
    tokenize_to_shards([corpus], tiny_tokenizer_dir, tmp_path / "shards", source="short")
    config = CIPConfig(
        target_tokens=256, min_docs=3, max_docs=5, chunk_min=8, chunk_max=32, long_min_tokens=1000, seed=3
    )
    meta = build_cip_stream(tmp_path / "shards" / "short", tmp_path / "out", config)
    assert meta["cip"]["samples"]["long"] == 1 and meta["cip"]["samples"]["cip"] >= 5
    source, out = TokenShards(tmp_path / "shards" / "short"), TokenShards(tmp_path / "out" / "cip")
    records = [
        json.loads(line) for line in (tmp_path / "out" / "cip" / "chunks.jsonl").read_text().splitlines()
    ]
    assert len(records) == out.num_docs
    _assert_tiles(source, records)
    markers = {tuple(tiny_tokenizer(f"[{n}] ", add_special_tokens=False)["input_ids"]) for n in "ABCDE"}
    for index, record in enumerate(records):
        sample = out.doc(index).tolist()
        assert sample[0] == source.meta["bos_id"] and sample[-1] == source.meta["eos_id"]
        if record["kind"] == "long":
            assert len(sample) == len(source.doc(record["pieces"][0][0]))
            continue
        assert len(sample) <= 256
        # the sample is exactly marker + piece, piece after piece
        at = 1
        for doc, start, end in record["pieces"]:
            marker = tuple(
                tiny_tokenizer(f"[{'ABCDE'[record['docs'].index(doc)]}] ", add_special_tokens=False)[
                    "input_ids"
                ]
            )
            assert marker in markers and tuple(sample[at : at + len(marker)]) == marker
            at += len(marker)
            assert sample[at : at + end - start] == source.doc(doc)[start:end].tolist()
            at += end - start
        assert at == len(sample) - 1
    # the pretraining mixture reads the stream like any other source
    stream = TokenStream("cip", out, seed=0)
    assert sum(len(p) for p in stream.read(300)) == 300


def test_cli_cip(tmp_path, tiny_tokenizer_dir):
    from typer.testing import CliRunner

    from skywork.cli import app

    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "\n".join(json.dumps({"text": f"Short note {i}. It ends here."}) for i in range(12)) + "\n"
    )
    tokenize_to_shards([corpus], tiny_tokenizer_dir, tmp_path / "shards", source="short")
    args = ["longctx", "cip", str(tmp_path / "shards" / "short"), "-o", str(tmp_path / "out")]
    result = CliRunner().invoke(
        app, [*args, "--target-tokens", "128", "--chunk-min", "4", "--chunk-max", "8"]
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "out" / "cip" / "meta.json").read_text())
    assert meta["cip"]["samples"]["cip"] >= 2 and meta["cip"]["config"]["target_tokens"] == 128
    bad = CliRunner().invoke(app, [*args, "--min-docs", "9", "--max-docs", "3"])
    assert bad.exit_code == 2 and "min_docs" in bad.output
