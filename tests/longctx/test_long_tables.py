"""SynL: deterministic long tables whose answers are right, of the asked length, readable as SFT data."""

from __future__ import annotations

import csv
import io
import json

from skywork.data.synth.long_tables import COLUMNS, KINDS, LongTables, LongTablesConfig
from skywork.finetune.formats import parse_messages


def _rows(record: dict) -> list[dict]:
    """The table of a question, parsed back from its prompt."""
    table = record["messages"][0]["content"].split("\n\n")[0].splitlines()
    if record["format"] == "markdown":
        cells = [[c.strip() for c in line.strip("|").split("|")] for line in table[2:]]
    else:
        cells = list(csv.reader(io.StringIO("\n".join(table[1:]))))
    return [dict(zip(COLUMNS, c, strict=True)) for c in cells]


def test_same_seed_same_bytes_and_new_heldout_tables(tmp_path):
    config = LongTablesConfig(lengths=[300, 600], train_tables=4, heldout_tables=2)
    first = LongTables(config).generate(tmp_path / "a")
    second = LongTables(config).generate(tmp_path / "b")
    assert first["files"] == second["files"]
    assert first["questions"] == {"train": dict.fromkeys(KINDS, 4), "heldout": dict.fromkeys(KINDS, 2)}
    train = {
        r["messages"][0]["content"].split("\n\n")[0]
        for r in map(json.loads, open(tmp_path / "a/train.jsonl"))
    }
    heldout = {
        r["messages"][0]["content"].split("\n\n")[0]
        for r in map(json.loads, open(tmp_path / "a/heldout.jsonl"))
    }
    assert not train & heldout


def test_answers_are_computed_from_the_table(tmp_path):
    LongTables(LongTablesConfig(lengths=[400, 1200], train_tables=8, heldout_tables=0, seed=5)).generate(
        tmp_path
    )
    records = [json.loads(line) for line in (tmp_path / "train.jsonl").read_text().splitlines()]
    assert {(r["lang"], r["format"]) for r in records} == {
        ("en", "markdown"),
        ("zh", "markdown"),
        ("en", "csv"),
        ("zh", "csv"),
    }
    for record in records:
        rows, answer = _rows(record), record["answer"]
        question = record["messages"][0]["content"].split("\n\n")[-1]
        reply = record["messages"][1]["content"]
        assert answer in reply and len(rows) == record["rows"]
        ids = {r["id"]: r for r in rows}
        assert len(ids) == len(rows)  # ids are unique keys
        if record["kind"] == "retrieval":
            key = next(i for i in ids if i in question)
            assert answer in ids[key].values()
        elif record["kind"] == "cot":
            named = [i for i in ids if i in question]
            order = sorted(named, key=question.index)
            *adds, minus = order
            assert int(answer) == sum(int(ids[i]["amount"]) for i in adds) - int(ids[minus]["amount"])
            assert reply.count("=") == 2  # the two arithmetic steps are written out
        else:
            amounts = [int(r["amount"]) for r in rows]
            cities = {r["city"] for r in rows}
            by_city = {c: sum(int(r["amount"]) for r in rows if r["city"] == c) for c in cities}
            counts = {str(sum(r["city"] == c for r in rows)) for c in cities}
            assert answer in (
                {r["id"] for r in rows if int(r["amount"]) == max(amounts)}
                | {str(max(amounts))}
                | counts
                | {str(v) for v in by_city.values()}
                | {c for c in cities if by_city[c] == max(by_city.values())}
            )
        conversation = parse_messages(record)  # the SFT reader takes it as is
        assert conversation.turns[0].assistant == reply


def test_lengths_in_tokens_with_a_tokenizer(tmp_path, tiny_tokenizer_dir, tiny_tokenizer):
    config = LongTablesConfig(
        lengths=[512, 2048], train_tables=2, heldout_tables=0, tokenizer=str(tiny_tokenizer_dir)
    )
    manifest = LongTables(config).generate(tmp_path)
    assert manifest["token_count"] == "tokenizer"
    for record in map(json.loads, (tmp_path / "train.jsonl").read_text().splitlines()):
        table = record["messages"][0]["content"].split("\n\n")[0]
        tokens = len(tiny_tokenizer(table, add_special_tokens=False)["input_ids"])
        assert record["target_tokens"] <= tokens * 1.05 and tokens <= record["target_tokens"] * 1.1


def test_cli_synl(tmp_path):
    from typer.testing import CliRunner

    from skywork.cli import app

    args = [
        "longctx",
        "synl",
        "-o",
        str(tmp_path),
        "--lengths",
        "200",
        "--train-tables",
        "2",
        "--heldout-tables",
        "1",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len((tmp_path / "train.jsonl").read_text().splitlines()) == 6
    assert json.loads((tmp_path / "manifest.json").read_text())["generator"]["name"] == "long_tables"
