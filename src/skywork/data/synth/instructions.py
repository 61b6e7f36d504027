"""A bilingual instruction set whose answers the generator knows: SFT data for demos and tests, no downloads.

Every row is an alpaca row (``instruction``, ``input``, ``output``) of one task, in Chinese or English:
addition and multiplication of small numbers, reversing a list of words, sorting numbers, counting the letters of
a word, and naming the larger of two numbers. Answers are computed, so a fine-tuned model can be scored exactly
(``answer`` holds the bare value) and a chat evaluation can check that it stops. ``train.jsonl`` and
``heldout.jsonl`` come from separate random streams and never share an instruction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skywork.data.synth.base import GeneratorConfig, SyntheticGenerator, rng
from skywork.utils.config import field

WORDS = ["apple", "river", "cloud", "stone", "light", "music", "paper", "tiger", "green", "house"]
ZH_WORDS = ["苹果", "河流", "白云", "石头", "阳光", "音乐", "纸张", "老虎", "绿色", "房子"]


@dataclass
class InstructionConfig(GeneratorConfig):
    train_rows: int = field(400, help="Training rows.")
    heldout_rows: int = field(40, help="Held-out rows (instructions never seen in training).")
    zh_share: float = field(0.5, help="Share of rows written in Chinese.")


TASKS = ("add", "multiply", "reverse", "sort", "count_letters", "larger")


def _task(r, zh: bool) -> tuple[int, str, str, str]:
    """(instruction, output, answer) of the random task ``TASKS[kind]``; returns kind first."""
    kind = r.randrange(6)
    return (kind, *_task_text(r, kind, zh))


def _task_text(r, kind: int, zh: bool) -> tuple[str, str, str]:
    a, b = r.randint(2, 99), r.randint(2, 99)
    if kind == 0:
        return (
            (f"计算 {a} 加 {b}。", f"{a} 加 {b} 等于 {a + b}。", str(a + b))
            if zh
            else (f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}.", str(a + b))
        )
    if kind == 1:
        a, b = a % 12 + 1, b % 12 + 1
        return (
            (f"计算 {a} 乘以 {b}。", f"{a} 乘以 {b} 等于 {a * b}。", str(a * b))
            if zh
            else (f"What is {a} times {b}?", f"{a} times {b} is {a * b}.", str(a * b))
        )
    if kind == 2:
        words = r.sample(ZH_WORDS if zh else WORDS, 4)
        answer = "、".join(reversed(words)) if zh else ", ".join(reversed(words))
        return (
            (f"把这些词倒过来排列：{'、'.join(words)}", answer, answer)
            if zh
            else (f"Reverse this list: {', '.join(words)}", answer, answer)
        )
    if kind == 3:
        numbers = r.sample(range(1, 100), 5)
        answer = ", ".join(map(str, sorted(numbers)))
        return (
            (f"把这些数从小到大排序：{', '.join(map(str, numbers))}", answer, answer)
            if zh
            else (
                f"Sort these numbers from smallest to largest: {', '.join(map(str, numbers))}",
                answer,
                answer,
            )
        )
    if kind == 4:
        word = r.choice(WORDS)
        return (
            (f"单词“{word}”有几个字母？", f"“{word}”有 {len(word)} 个字母。", str(len(word)))
            if zh
            else (
                f"How many letters are in the word '{word}'?",
                f"'{word}' has {len(word)} letters.",
                str(len(word)),
            )
        )
    if a == b:
        b += 1
    big = max(a, b)
    return (
        (f"{a} 和 {b} 哪个更大？", f"{big} 更大。", str(big))
        if zh
        else (f"Which is larger, {a} or {b}?", f"{big} is larger.", str(big))
    )


class InstructionGenerator(SyntheticGenerator[InstructionConfig]):
    """``train.jsonl`` and ``heldout.jsonl`` alpaca rows (+ ``answer``, ``lang``, ``task``)."""

    name = "instructions"
    version = 2  # 2: rows name their task
    summary_kind = "instructions"

    def write(self, out_dir: Path, progress=None) -> dict[str, Any]:
        seen: set[str] = set()
        counts = {}
        for split, rows in (("train", self.config.train_rows), ("heldout", self.config.heldout_rows)):
            r, records = rng(self.config.seed, split), []
            while len(records) < rows:
                zh = r.random() < self.config.zh_share
                kind, instruction, output, answer = _task(r, zh)
                if instruction in seen:
                    continue
                seen.add(instruction)
                records.append(
                    {
                        "instruction": instruction,
                        "input": "",
                        "output": output,
                        "answer": answer,
                        "lang": "zh" if zh else "en",
                        "task": TASKS[kind],
                    }
                )
            self.write_jsonl(out_dir, f"{split}.jsonl", records)
            counts[split] = len(records)
        return {"rows": counts}


def run_instructions_stage(config: InstructionConfig, ctx) -> dict:
    """The recipe's ``instructions`` stage: train.jsonl, heldout.jsonl, manifest.json and summary.json."""
    manifest = InstructionGenerator(config).generate(ctx.stage_dir)
    return {"rows": manifest["rows"]}
