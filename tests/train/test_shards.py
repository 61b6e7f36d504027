"""Token shards: what `skywork data tokenize` writes and how streams read it back."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from skywork.train.shards import TokenShards, tokenize_to_shards
from skywork.utils.io import InputError


def test_shards_hold_each_document_with_bos_eos_and_skip_empty(tmp_path, tiny_tokenizer_dir, tiny_tokenizer):
    src = tmp_path / "docs.jsonl.gz"
    texts = ["def main():\n    return 1\n", "   ", "机器学习是人工智能的一个重要分支。", "x = 2"]
    with gzip.open(src, "wt", encoding="utf-8") as handle:
        for i, text in enumerate(texts):
            handle.write(json.dumps({"id": i, "text": text, "metadata": {"source": "web"}}) + "\n")
    summary = tokenize_to_shards([src], tiny_tokenizer_dir, tmp_path / "out", source="web", shard_tokens=12)
    meta = summary["sources"]["web"]
    assert meta["docs"] == 3 and meta["skipped"] == {"empty_text": 1}
    assert meta["dtype"] == "uint16" and len(meta["shards"]) >= 2  # small shard size forces several files
    shards = TokenShards(tmp_path / "out" / "web")
    for i, text in enumerate([t for t in texts if t.strip()]):
        ids = tiny_tokenizer(text, add_special_tokens=False)["input_ids"]
        assert shards.doc(i).tolist() == [tiny_tokenizer.bos_token_id, *ids, tiny_tokenizer.eos_token_id]
    assert shards.num_tokens == sum(len(shards.doc(i)) for i in range(3))
    # re-running with the same inputs keeps the stream (same meta, no rebuild)
    before = (tmp_path / "out" / "web" / "meta.json").stat().st_mtime_ns
    tokenize_to_shards([src], tiny_tokenizer_dir, tmp_path / "out", source="web", shard_tokens=12)
    assert (tmp_path / "out" / "web" / "meta.json").stat().st_mtime_ns == before


def test_bad_record_names_file_line_and_field(tmp_path, tiny_tokenizer_dir):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"text": "fine"}\n{"content": "no text field"}\n')
    with pytest.raises(InputError, match=r"bad.jsonl, line 2, field 'text'"):
        tokenize_to_shards([src], tiny_tokenizer_dir, tmp_path / "out")
    assert not (tmp_path / "out" / "main").exists()  # nothing half-written


def test_uint32_for_large_vocabularies():
    from skywork.train.shards import token_dtype

    assert token_dtype(65536) == np.uint16 and token_dtype(65537) == np.uint32


def test_data_tokenize_command(tmp_path, tiny_tokenizer_dir, corpus_dir):
    # The root CLI mounts this function as `skywork data tokenize` (CROSS_GROUP_COMMANDS); the data group lives
    # on another branch, so mount it the same way on a bare Typer app here.
    import typer

    from skywork.train.shards import tokenize_command

    app = typer.Typer()
    app.command("tokenize")(tokenize_command)
    app.command("other")(lambda: None)  # two commands: typer then expects the sub-command name
    result = CliRunner().invoke(
        app,
        [
            "tokenize",
            str(corpus_dir / "stem.jsonl"),
            "-t",
            str(tiny_tokenizer_dir),
            "-o",
            str(tmp_path),
            "--source",
            "stem",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "60 documents" in result.output
    assert TokenShards(tmp_path / "stem").num_docs == 60


def test_prefetched_keeps_order_and_raises_the_readers_error_in_place():
    from skywork.train.shards import prefetched

    assert list(prefetched(iter(range(50)), depth=3)) == list(range(50))

    def failing():
        yield from (1, 2)
        raise InputError("broken record", "x.jsonl", 3, "text")

    seen = []
    with pytest.raises(InputError, match="x.jsonl, line 3"):
        for item in prefetched(failing()):
            seen.append(item)
    assert seen == [1, 2]
