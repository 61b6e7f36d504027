"""``skywork eval mm MODEL``: image question answering on held-out images, against a text-only baseline.

Three parts, all from the held-out files of :mod:`skywork.data.synth.images` (never trained on):

- **questions**: every held-out question (colour, count, shape, position, size, reading, chart), asked greedily
  in the official chat format with the image in the user turn; accuracy per kind and per language;
- **digits**: scikit-learn's handwritten digits ("what digit is this", "is it even"), real images no generator
  of ours drew;
- **MME-style yes/no pairs**: each image asked once with answer yes and once with answer no; per category
  *accuracy* (per question) and *accuracy+* (per image: both right), and the MME score acc + acc+ (x100).

The **text-only baseline** is the same model asked the same questions with the image withheld (no image tokens):
what it gets right comes from the question alone (answer priors), so the gap is what the image contributes.

An answer is right when its first line, lower-cased and stripped of spaces and final punctuation, equals the gold
answer. Outputs in ``--output DIR``: ``summary.json`` (kind ``mm_eval``), ``results.json`` (every item),
``examples.html`` (images with question, answer and gold) and ``plots/accuracy.png``.
"""

from __future__ import annotations

import base64
import html
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch

from skywork.utils.config import field


@dataclass
class MMEvalConfig:
    model: str = field(help="Multimodal model directory (a final/ of mm_instruct).")
    data_dir: str = field(help="Output directory of the mm_data stage (holds heldout/images.jsonl).")
    output_dir: str = field("mm-eval", help="Where summary.json, results.json, examples.html and plots go.")
    limit: int | None = field(None, help="At most this many held-out images per file (null: all).")
    batch_size: int = field(32, help="Prompts per generation batch.")
    max_new_tokens: int = field(8, help="Tokens per answer (answers are one or two words).")
    baseline: bool = field(True, help="Also ask every question with the image withheld (text-only baseline).")
    examples_per_kind: int = field(4, help="Examples per question kind on the HTML page.")
    device: str = field("auto", help="auto, cpu or cuda.")


def normalise(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first.strip().lower().rstrip(".。!！?？ ").strip().strip('"“”')


def read_rows(path: Path, limit: int | None) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                rows.append(json.loads(line))
                if limit is not None and len(rows) >= limit:
                    break
    return rows


def items_of(rows: list[dict], part: str) -> list[dict]:
    """Flat question items: ``{part, kind|category, lang, question, answer, image (row index), id}``."""
    items = []
    for index, row in enumerate(rows):
        for q in row["qa"]:
            items.append(
                {
                    "part": part,
                    "group": q["kind"],
                    "lang": q["lang"],
                    "question": q["question"],
                    "gold": q["answer"],
                    "image": index,
                    "id": row["id"],
                }
            )
        for q in row["yesno"]:
            items.append(
                {
                    "part": "mme",
                    "group": q["category"],
                    "lang": q["lang"],
                    "question": q["question"],
                    "gold": q["answer"],
                    "image": index,
                    "id": row["id"],
                    "source": part,
                }
            )
    return items


class Answerer:
    """Greedy answers through the one generation engine, with or without the image."""

    def __init__(self, model_dir: str, device: str = "auto", batch_size: int = 32, max_new_tokens: int = 8):
        from skywork.inference import GenerationEngine, SamplingParams
        from skywork.inference.generation import chat_stop_ids
        from skywork.mm.model import image_tokens_per_image, load_mm_model
        from skywork.tokenizer import load as load_tokenizer
        from skywork.utils.device import resolve_device

        self.model = load_mm_model(model_dir, device=resolve_device(device))
        self.tokenizer = load_tokenizer(model_dir)
        processor = json.loads(Path(model_dir, "processor_config.json").read_text())
        vision = self.model.config.vision_config
        self.image_token, self.image_size = processor["image_token"], vision.image_size
        self.per_image = image_tokens_per_image(vision.image_size, vision.patch_size)
        self.engine = GenerationEngine(self.model, self.tokenizer, batch_size=batch_size)
        self.params = SamplingParams(
            max_new_tokens=max_new_tokens, stop_token_ids=chat_stop_ids(self.tokenizer)
        )

    def prompt(self, question: str, with_image: bool) -> list[int]:
        from skywork.data.synth.images import IMAGE_PLACEHOLDER
        from skywork.mm.processor import encode_mm_chat
        from skywork.tokenizer.chat import encode_chat

        messages = [{"role": "user", "content": (IMAGE_PLACEHOLDER if with_image else "") + question}]
        if with_image:
            return encode_mm_chat(self.tokenizer, messages, self.image_token, self.per_image)[0]
        return encode_chat(self.tokenizer, messages)

    def answer(self, questions: list[str], images: list | None) -> list[str]:
        """Answers to ``questions``; ``images`` (pixel values (1, 3, H, W) per question) or None: text only."""
        prompts = [self.prompt(q, images is not None) for q in questions]
        with torch.no_grad():
            results = self.engine.generate(prompts, self.params, images=images)
        return [r[0].text for r in results]


def accuracy_table(items: list[dict], key: str) -> dict[str, dict]:
    """{group: {lang: accuracy, "all": accuracy, "n": count}} of ``key`` ("correct" or "baseline_correct")."""
    groups: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for item in items:
        if key in item:
            groups[item["group"]][item["lang"]].append(item[key])
            groups[item["group"]]["all"].append(item[key])
    return {
        g: {lang: sum(v) / len(v) for lang, v in langs.items()} | {"n": len(langs["all"])}
        for g, langs in sorted(groups.items())
    }


def reading_split(items: list[dict], key: str = "correct") -> dict[str, dict]:
    """Reading accuracy for words and for numbers apart (the two fail differently): {part: {accuracy, n}}."""
    parts: dict[str, list[bool]] = defaultdict(list)
    for item in items:
        if item["group"] == "reading" and key in item:
            parts["numbers" if item["gold"].isdigit() else "words"].append(item[key])
    return {p: {"accuracy": sum(v) / len(v), "n": len(v)} for p, v in sorted(parts.items())}


def mme_scores(items: list[dict], key: str) -> dict[str, dict]:
    """MME's scoring per category: accuracy per question, accuracy+ per (image, language) pair, score = sum x100."""
    questions: dict[str, list[bool]] = defaultdict(list)
    pairs: dict[tuple, list[bool]] = defaultdict(list)
    for item in items:
        if key in item:
            questions[item["group"]].append(item[key])
            pairs[(item["group"], item["id"], item["lang"])].append(item[key])
    scores = {}
    for category, answers in sorted(questions.items()):
        both = [all(v) for (c, _, _), v in pairs.items() if c == category]
        acc, acc_plus = sum(answers) / len(answers), sum(both) / max(1, len(both))
        scores[category] = {
            "accuracy": acc,
            "accuracy_plus": acc_plus,
            "score": 100 * (acc + acc_plus),
            "questions": len(answers),
            "images": len(both),
        }
    return scores


def evaluate_mm(config: MMEvalConfig) -> dict:
    """Answer every held-out item (with the image, and without it for the baseline) and write the outputs."""
    from skywork.mm.processor import pixels
    from skywork.utils.io import atomic_write_json, atomic_write_text
    from skywork.utils.summary import write_summary

    data_dir, out_dir = Path(config.data_dir), Path(config.output_dir)
    sets = {
        "synthetic": read_rows(data_dir / "heldout" / "images.jsonl", config.limit),
        "digits": read_rows(data_dir / "heldout" / "digits.jsonl", config.limit),
    }
    if not sets["synthetic"] and not sets["digits"]:
        from skywork.utils.io import InputError

        raise InputError(
            "no held-out images (heldout/images.jsonl, heldout/digits.jsonl)", data_dir, field="data_dir"
        )
    answerer = Answerer(config.model, config.device, config.batch_size, config.max_new_tokens)
    all_items, timing = [], {"images": 0, "questions": 0, "seconds": 0.0}
    for name, rows in sets.items():
        if not rows:
            continue
        items = items_of(rows, name)
        images = pixels([r["image"] for r in rows], answerer.image_size)
        started = time.perf_counter()
        answers = answerer.answer([i["question"] for i in items], [images[i["image"]][None] for i in items])
        timing["seconds"] += time.perf_counter() - started
        timing["images"] += len(rows)
        timing["questions"] += len(items)
        for item, answer in zip(items, answers, strict=True):
            item.update(answer=answer, correct=normalise(answer) == normalise(item["gold"]))
        if config.baseline:
            for item, answer in zip(
                items, answerer.answer([i["question"] for i in items], None), strict=True
            ):
                item.update(
                    baseline_answer=answer, baseline_correct=normalise(answer) == normalise(item["gold"])
                )
        for item in items:
            item["set"] = name
        all_items.append((name, rows, items))
    questions = [i for _, _, items in all_items for i in items if i["part"] != "mme"]
    mme = [i for _, _, items in all_items for i in items if i["part"] == "mme"]
    payload = {
        "model": config.model,
        "kinds": accuracy_table(questions, "correct"),
        "baseline_kinds": accuracy_table(questions, "baseline_correct") if config.baseline else {},
        "reading_split": reading_split(questions),
        "baseline_reading_split": reading_split(questions, "baseline_correct") if config.baseline else {},
        "mme": mme_scores(mme, "correct"),
        "baseline_mme": mme_scores(mme, "baseline_correct") if config.baseline else {},
        "overall": _mean(questions, "correct"),
        "baseline_overall": _mean(questions, "baseline_correct") if config.baseline else None,
        "questions": len(questions),
        "mme_questions": len(mme),
        "images": timing["images"],
        "questions_per_s": timing["questions"] / max(1e-9, timing["seconds"]),
        "images_per_s": timing["images"] / max(1e-9, timing["seconds"]),
        "digits": "asked"
        if sets["digits"]
        else "skipped: no heldout/digits.jsonl (scikit-learn not installed?)",
    }
    payload["mme_total"] = sum(c["score"] for c in payload["mme"].values())
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out_dir / "results.json", [i for _, _, items in all_items for i in items])
    atomic_write_text(out_dir / "examples.html", examples_page(all_items, config.examples_per_kind))
    plots = {"accuracy": str(plot_accuracy(payload, out_dir / "plots" / "accuracy.png"))}
    write_summary(out_dir, "mm_eval", payload, plots=plots)
    return payload


def _mean(items: list[dict], key: str) -> float | None:
    values = [i[key] for i in items if key in i]
    return sum(values) / len(values) if values else None


def plot_accuracy(payload: dict, path: Path) -> Path:
    from skywork.utils.io import save_figure
    from skywork.utils.plotting import pyplot

    plt = pyplot()
    kinds = list(payload["kinds"])
    ours = [payload["kinds"][k]["all"] for k in kinds]
    base = [payload["baseline_kinds"].get(k, {}).get("all", 0.0) for k in kinds]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    x = range(len(kinds))
    ax.bar([i - 0.2 for i in x], ours, 0.4, label="with image")
    ax.bar([i + 0.2 for i in x], base, 0.4, label="text only (image withheld)")
    ax.set_xticks(list(x), kinds, rotation=30)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=8)
    save_figure(fig, path)
    return path.relative_to(path.parent.parent)


def examples_page(all_items, per_kind: int) -> str:
    """A self-contained HTML page: a few images per question kind with question, answer, gold and baseline."""
    parts = [
        "<!doctype html><meta charset='utf-8'><title>Skywork-MM examples</title>",
        "<style>td{padding:4px 10px;vertical-align:middle}.ok{color:#080}.bad{color:#b00}"
        "img{image-rendering:pixelated;width:96px;height:96px}</style><h1>Skywork-MM held-out examples</h1>",
    ]
    for name, rows, items in all_items:
        shown: dict[str, int] = defaultdict(int)
        parts.append(
            f"<h2>{html.escape(name)}</h2><table><tr><th>image</th><th>kind</th><th>question</th>"
            "<th>answer</th><th>gold</th><th>text only</th></tr>"
        )
        for item in items:
            group = f"{item['part']}:{item['group']}"
            if shown[group] >= per_kind:
                continue
            shown[group] += 1
            image = rows[item["image"]]["image"]
            if not image.startswith("data:"):
                base64.b64decode(image[:8] + "==")  # a cheap sanity check of the stored base64
                image = "data:image/png;base64," + image
            verdict = "ok" if item["correct"] else "bad"
            parts.append(
                f"<tr><td><img src='{image}'></td><td>{html.escape(group)}</td><td>{html.escape(item['question'])}</td>"
                f"<td class='{verdict}'>{html.escape(item['answer'])}</td><td>{html.escape(item['gold'])}</td>"
                f"<td>{html.escape(item.get('baseline_answer', ''))}</td></tr>"
            )
        parts.append("</table>")
    return "\n".join(parts)


def results_table(payload: dict):
    """A rich table: accuracy per kind (en / zh / all) with the text-only baseline, then MME per category."""
    from rich.table import Table

    table = Table(title=f"Skywork-MM on held-out images ({payload['questions']} questions)")
    for column in ("kind", "en", "zh", "all", "text only", "n"):
        table.add_column(column, justify="left" if column == "kind" else "right")
    for kind, row in payload["kinds"].items():
        base = payload["baseline_kinds"].get(kind, {}).get("all")
        table.add_row(
            kind,
            *(f"{row.get(k, 0):.1%}" if k in row else "-" for k in ("en", "zh", "all")),
            "-" if base is None else f"{base:.1%}",
            str(row["n"]),
        )
    for part, row in payload.get("reading_split", {}).items():
        table.add_row(f"  reading: {part}", "", "", f"{row['accuracy']:.1%}", "", str(row["n"]))
    for category, row in payload["mme"].items():
        base = payload["baseline_mme"].get(category, {}).get("accuracy")
        table.add_row(
            f"MME {category}",
            "",
            "",
            f"{row['accuracy']:.1%} / acc+ {row['accuracy_plus']:.1%}",
            "-" if base is None else f"{base:.1%}",
            str(row["questions"]),
        )
    return table


def run_mm_eval_stage(config: MMEvalConfig, ctx) -> dict:
    """The recipe's ``mm_eval`` stage."""
    return {"summary": evaluate_mm(config)}
