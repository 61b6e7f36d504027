"""Synthetic lengthy tables (SynL, spec 1.4; our design in spec 5): long tables with questions the program answers.

A table has typed columns (id, name, city, date, amount) with English or Chinese headers and values, written as
markdown or CSV, and grows row by row until it reaches its target length in tokens (``lengths``; 2K-100K at
full scale). Each table gets one question of each kind, answered by the generator:

- ``retrieval``: the value of column C in the row whose id is K;
- ``cot``: arithmetic over a few named rows with the steps written out (a + b + c, then minus d);
- ``global``: over the whole table: a count, a maximum, a sum or a group-by (the city with the largest total).

Every question is a chat-format SFT example (OpenAI ``messages``: the table and the question from the user, the
answer from the assistant) that ``skywork.finetune`` reads as is, with ``kind``, ``lang``, ``format``,
``tokens`` and the short ``answer`` beside it for evaluation. ``train.jsonl`` and ``heldout.jsonl`` come from
separate random streams, so the held-out tables are new tables.

Token counts use ``tokenizer`` when given (exact), else an estimate (4 characters per token for English, 1.5
for Chinese), recorded in the manifest as ``token_count``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from skywork.data.synth.base import GeneratorConfig, ProgressCallback, SyntheticGenerator, rng
from skywork.data.synth.lexicon import CITIES, NAMES
from skywork.utils.config import field

KINDS = ("retrieval", "cot", "global")
HEADERS = {
    "en": {"id": "ID", "name": "Name", "city": "City", "date": "Date", "amount": "Amount"},
    "zh": {"id": "编号", "name": "姓名", "city": "城市", "date": "日期", "amount": "金额"},
}
COLUMNS = ("id", "name", "city", "date", "amount")
CHARS_PER_TOKEN = {"en": 4.0, "zh": 1.5}


@dataclass
class LongTablesConfig(GeneratorConfig):
    seed: int = field(0, help="Random seed; the same seed writes the same tables.")
    lengths: list[int] = field(
        default_factory=lambda: [2048, 4096], help="Target table lengths in tokens (cycled over the tables)."
    )
    train_tables: int = field(20, help="Tables in train.jsonl (one question of each kind per table).")
    heldout_tables: int = field(6, help="Tables in heldout.jsonl (new tables, for evaluation).")
    languages: list[str] = field(default_factory=lambda: ["en", "zh"], help="Header and value languages.")
    formats: list[str] = field(default_factory=lambda: ["markdown", "csv"], help="markdown and/or csv.")
    tokenizer: str | None = field(None, help="Tokenizer directory for exact token counts (else estimated).")


@dataclass
class Table:
    lang: str
    fmt: str
    rows: list[dict]

    def header(self) -> list[str]:
        return [HEADERS[self.lang][c] for c in COLUMNS]

    def line(self, row: dict) -> str:
        cells = [str(row[c]) for c in COLUMNS]
        return "| " + " | ".join(cells) + " |" if self.fmt == "markdown" else ",".join(cells)

    def head_lines(self) -> list[str]:
        if self.fmt == "markdown":
            return ["| " + " | ".join(self.header()) + " |", "|" + "---|" * len(COLUMNS)]
        return [",".join(self.header())]

    def text(self) -> str:
        return "\n".join(self.head_lines() + [self.line(r) for r in self.rows])


class LongTables(SyntheticGenerator[LongTablesConfig]):
    """SynL: long tables with retrieval, chain-of-thought and global questions (see the module docstring)."""

    name = "long_tables"
    version = 1

    def write(self, out_dir: Path, progress: ProgressCallback | None) -> dict:
        config = self.config
        if not set(config.formats) <= {"markdown", "csv"} or not set(config.languages) <= set(HEADERS):
            raise ValueError("long_tables: formats are markdown/csv, languages en/zh")
        self._tokenizer = None
        if config.tokenizer:
            from skywork.tokenizer import load

            self._tokenizer = load(config.tokenizer)
        counts: dict[str, dict[str, int]] = {}
        total = config.train_tables + config.heldout_tables
        done = 0
        for split, n_tables in (("train", config.train_tables), ("heldout", config.heldout_tables)):
            stream = rng(config.seed, split)
            handle = self.jsonl(out_dir, f"{split}.jsonl")
            counts[split] = dict.fromkeys(KINDS, 0)
            for index in range(n_tables):
                target = config.lengths[index % len(config.lengths)]
                lang = config.languages[index % len(config.languages)]
                fmt = config.formats[(index // len(config.languages)) % len(config.formats)]
                table = self.table(stream, lang, fmt, target)
                table_text = table.text()
                tokens = self.count_tokens(table_text, lang)
                for kind, (question, answer, short) in zip(KINDS, questions(stream, table), strict=True):
                    prompt = f"{table_text}\n\n{question}"
                    handle.write(
                        {
                            "messages": [
                                {"role": "user", "content": prompt},
                                {"role": "assistant", "content": answer},
                            ],
                            "kind": kind,
                            "lang": lang,
                            "format": fmt,
                            "target_tokens": target,
                            "tokens": tokens,
                            "rows": len(table.rows),
                            "answer": short,
                        }
                    )
                    counts[split][kind] += 1
                done += 1
                if progress:
                    progress(done, total)
        return {"questions": counts, "token_count": "tokenizer" if self._tokenizer else "estimate"}

    def count_tokens(self, text: str, lang: str) -> int:
        if self._tokenizer is not None:
            return len(self._tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])
        return int(len(text) / CHARS_PER_TOKEN[lang])

    def table(self, stream: random.Random, lang: str, fmt: str, target_tokens: int) -> Table:
        """Rows are added until the table reaches ``target_tokens`` (counted line by line)."""
        table = Table(lang, fmt, [])
        used = sum(self.count_tokens(line + "\n", lang) for line in table.head_lines())
        seen: set[int] = set()
        while used < target_tokens:
            number = stream.randint(100_000, 999_999)
            if number in seen:  # ids are keys: unique within a table
                continue
            seen.add(number)
            row = random_row(stream, lang, number)
            table.rows.append(row)
            used += self.count_tokens(table.line(row) + "\n", lang)
        return table


def random_row(stream: random.Random, lang: str, number: int) -> dict:
    side = 0 if lang == "en" else 1
    return {
        "id": f"R{number}",
        "name": stream.choice(NAMES)[side],
        "city": stream.choice(CITIES)[side],
        "date": f"20{stream.randint(15, 24):02d}-{stream.randint(1, 12):02d}-{stream.randint(1, 28):02d}",
        "amount": stream.randint(10, 9999),
    }


def questions(stream: random.Random, table: Table) -> list[tuple[str, str, str]]:
    """(question, full answer, short answer) of each kind, in KINDS order."""
    return [retrieval(stream, table), cot(stream, table), global_question(stream, table)]


def retrieval(stream: random.Random, table: Table) -> tuple[str, str, str]:
    row = stream.choice(table.rows)
    column = stream.choice(("name", "city", "date", "amount"))
    head = HEADERS[table.lang]
    value = str(row[column])
    if table.lang == "en":
        return (
            f"In the table above, what is the {head[column]} of the row whose ID is {row['id']}?",
            f"The {head[column]} of {row['id']} is {value}.",
            value,
        )
    return (
        f"在上表中，编号为{row['id']}的那一行的{head[column]}是什么？",
        f"{row['id']}的{head[column]}是{value}。",
        value,
    )


def cot(stream: random.Random, table: Table) -> tuple[str, str, str]:
    """(a + b + ...) - d over named rows, every step written out."""
    picked = stream.sample(table.rows, k=min(len(table.rows), stream.randint(3, 5)))
    *adds, minus = picked
    total = sum(r["amount"] for r in adds)
    result = total - minus["amount"]
    ids_add = ", ".join(r["id"] for r in adds)
    if table.lang == "en":
        steps = [f"The Amount of {r['id']} is {r['amount']}." for r in picked]
        steps.append(f"{' + '.join(str(r['amount']) for r in adds)} = {total}.")
        steps.append(f"{total} - {minus['amount']} = {result}.")
        question = (
            f"Add the Amounts of {ids_add}, then subtract the Amount of {minus['id']}. What is the result?"
        )
        return question, " ".join(steps) + f" So the answer is {result}.", str(result)
    steps = [f"{r['id']}的金额是{r['amount']}。" for r in picked]
    steps.append(f"{' + '.join(str(r['amount']) for r in adds)} = {total}。")
    steps.append(f"{total} - {minus['amount']} = {result}。")
    question = f"把{ids_add}的金额相加，再减去{minus['id']}的金额，结果是多少？"
    return question, "".join(steps) + f"所以答案是{result}。", str(result)


def global_question(stream: random.Random, table: Table) -> tuple[str, str, str]:
    """A count, a maximum, a sum or a group-by over every row."""
    rows, en = table.rows, table.lang == "en"
    op = stream.choice(("count", "max", "sum", "groupby"))
    city = stream.choice(rows)["city"]
    if op == "count":
        value = sum(r["city"] == city for r in rows)
        if en:
            return f"How many rows have City {city}?", f"{value} rows have City {city}.", str(value)
        return f"城市为{city}的行有多少？", f"城市为{city}的行有{value}行。", str(value)
    if op == "max":
        best = max(rows, key=lambda r: r["amount"])
        if sum(r["amount"] == best["amount"] for r in rows) > 1:  # a tie: ask for the value, not the row
            if en:
                return (
                    "What is the largest Amount in the table?",
                    f"The largest Amount is {best['amount']}.",
                    str(best["amount"]),
                )
            return "表中最大的金额是多少？", f"最大的金额是{best['amount']}。", str(best["amount"])
        if en:
            return (
                "Which ID has the largest Amount?",
                f"{best['id']} has the largest Amount, {best['amount']}.",
                best["id"],
            )
        return "哪个编号的金额最大？", f"{best['id']}的金额最大，为{best['amount']}。", best["id"]
    if op == "sum":
        value = sum(r["amount"] for r in rows if r["city"] == city)
        if en:
            return (
                f"What is the total Amount of the rows with City {city}?",
                f"The total is {value}.",
                str(value),
            )
        return f"城市为{city}的行的金额总和是多少？", f"总和是{value}。", str(value)
    totals: dict[str, int] = {}
    for r in rows:
        totals[r["city"]] = totals.get(r["city"], 0) + r["amount"]
    best_city = max(sorted(totals), key=lambda c: totals[c])
    if list(totals.values()).count(totals[best_city]) > 1:  # a tie has no single answer: ask for its total
        value = totals[best_city]
        if en:
            return (
                "Grouping the rows by City, what is the largest total Amount of a City?",
                f"{value}.",
                str(value),
            )
        return "按城市分组，城市金额总和的最大值是多少？", f"{value}。", str(value)
    if en:
        return (
            "Grouping the rows by City, which City has the largest total Amount?",
            f"{best_city}, with a total Amount of {totals[best_city]}.",
            best_city,
        )
    return "按城市分组，哪个城市的金额总和最大？", f"{best_city}，金额总和为{totals[best_city]}。", best_city
