"""Generated images whose answers we know, for the multimodal model: captions, dialogues and held-out questions.

Four kinds of picture, drawn with PIL on a small canvas (``image_size``, default 32 px), all from seeded streams:

- ``scene``: 1-4 shapes (circle / square / triangle) of one colour on a light background; a single shape is big or
  small and on the left or the right. Questions: colour, count, shape, position, size;
- ``reading``: a short word or a number rendered with PIL's bundled font; question: what the text says. Latin
  and digits only: no Chinese font ships in any installed package (matplotlib's DejaVu has no CJK glyphs), so
  Chinese appears in the questions and answers, never inside an image;
- ``chart``: a bar chart of 3 coloured bars drawn from a generated table; questions: which bar is the tallest /
  shortest, and whether one bar is taller than another;
- ``digit``: scikit-learn's handwritten digits (``load_digits``, 8x8 scans shipped in the package, upscaled):
  real images no generator of ours drew. Questions: which digit, and whether it is even.

Every image also gets MME-style yes/no pairs (one question whose answer is yes, one whose answer is no, about the
same image): MME scores accuracy per question and accuracy+ per image (both right).

Files (JSONL, one image per row, the image inline as a base64 PNG so a file is self-contained)::

    train/images.jsonl      {"id", "kind", "image", "captions": {"en","zh"}, "qa": [...], "yesno": [...],
                             "dialogues": [{"lang", "messages"}]}       alignment captions + instruction dialogues
    heldout/images.jsonl    the same fields, images from a separate stream (never in training)
    train/digits.jsonl      digits used in training (the first ``digits_train`` of the shuffled set; 0: none)
    heldout/digits.jsonl    the other digits, asked only at evaluation
    text/corpus.jsonl       every caption, question and answer as {"text"}: a tokenizer can be trained on it

A ``qa`` item is ``{"kind", "lang", "question", "answer"}``; dialogues put the image in the first user turn
(:data:`IMAGE_PLACEHOLDER`, replaced by the model's image tokens at encoding) and ask 2-3 of the questions.
"""

from __future__ import annotations

import base64
import io
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from skywork.data.synth.base import GeneratorConfig, SyntheticGenerator, rng
from skywork.utils.config import field
from skywork.utils.optional import optional_import

IMAGE_PLACEHOLDER = "<image>"  # where the image goes in a user turn; the processor swaps in the image tokens

COLOURS = {  # name -> (RGB, Chinese)
    "red": ((220, 30, 30), "红色"),
    "green": ((30, 170, 50), "绿色"),
    "blue": ((30, 60, 220), "蓝色"),
    "yellow": ((230, 200, 20), "黄色"),
    "purple": ((140, 40, 180), "紫色"),
}
SHAPES = {"circle": "圆形", "square": "正方形", "triangle": "三角形"}
WORDS = [
    "cat",
    "dog",
    "sun",
    "car",
    "box",
    "red",
    "map",
    "cup",
    "pen",
    "egg",
    "hat",
    "key",
    "owl",
    "bus",
    "ink",
]
SIDES = {"left": "左边", "right": "右边"}
SIZES = {"big": "大", "small": "小"}
YES_NO = {"en": ("yes", "no"), "zh": ("是", "否")}

# Question kinds and the MME-style categories of their yes/no pairs.
QUESTION_KINDS = ("color", "count", "shape", "position", "size", "reading", "chart", "digit", "parity")
MME_CATEGORIES = ("existence", "count", "position", "color", "ocr", "chart")


@dataclass
class ImageQAConfig(GeneratorConfig):
    image_size: int = field(32, help="Side of every square image in pixels.")
    train_images: int = field(3000, help="Generated training images (scenes, reading, charts in turn).")
    heldout_images: int = field(300, help="Generated held-out images (a separate random stream).")
    digits_train: int = field(
        900,
        help="sklearn digits used in training (the rest, of 1797, are held out); 0: digits only at evaluation. "
        "Ignored (no digits at all) when scikit-learn is not installed.",
    )
    digits_heldout: int = field(
        300, help="Held-out digits asked at evaluation (at most 1797 - digits_train)."
    )
    kinds: list[str] = field(
        default_factory=lambda: ["scene", "reading", "chart"],
        help="Generated kinds, drawn in turn (repeat a kind to weight it).",
    )
    zh_share: float = field(0.5, help="Share of dialogues in Chinese (each image gets one dialogue).")
    text_px: int | None = field(
        None,
        help="Font size of the reading images in pixels; null: 9/16 of image_size (18 px at 32: a letter is "
        "about one 8 px patch wide; the first recipe's 12 px letters were 6 px and held-out reading stayed <= 10%).",
    )
    number_px: int | None = field(
        None,
        help="Font size of the numbers of reading images; null: text_px. A larger one gives each digit its own "
        "two patch columns (26 px at 32: a two-digit number fills the width; 18 px numbers were read 6-8%).",
    )
    number_share: float = field(
        0.5, help="Share of the reading images that show a number (0-99); the others show one of the words."
    )
    shape_scale: float = field(
        1.0,
        help="Scale of the shapes of multi-shape scenes (1: 1/5-1/4 of the side, inside a quarter of the canvas).",
    )


# ------------------------------------------------------------------------------------------------ drawing


def encode_png(image) -> str:
    """A PIL image as base64 PNG text (deterministic bytes for the same pixels and Pillow version)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_png(text: str):
    """The PIL RGB image of :func:`encode_png` text (a ``data:image/...;base64,`` prefix is accepted)."""
    from PIL import Image

    if text.startswith("data:"):
        text = text.split(",", 1)[1]
    return Image.open(io.BytesIO(base64.b64decode(text))).convert("RGB")


def _canvas(r: random.Random, size: int):
    from PIL import Image

    shade = r.randint(225, 255)
    return Image.new("RGB", (size, size), (shade, shade, r.randint(225, 255)))


def _draw_shape(draw, shape: str, box: tuple[int, int, int, int], colour) -> None:
    x0, y0, x1, y1 = box
    if shape == "circle":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    else:
        draw.polygon([((x0 + x1) // 2, y0), (x0, y1), (x1, y1)], fill=colour)


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


# ------------------------------------------------------------------------------------------------ items


def _qa(kind: str, en: tuple[str, str], zh: tuple[str, str]) -> list[dict]:
    return [
        {"kind": kind, "lang": "en", "question": en[0], "answer": en[1]},
        {"kind": kind, "lang": "zh", "question": zh[0], "answer": zh[1]},
    ]


def _yes_no_pair(category: str, yes_q: tuple[str, str], no_q: tuple[str, str]) -> list[dict]:
    """MME-style: the same image asked once with answer yes and once with answer no (en and zh)."""
    pairs = []
    for lang, index in (("en", 0), ("zh", 1)):
        yes, no = YES_NO[lang]
        pairs.append({"category": category, "lang": lang, "question": yes_q[index], "answer": yes})
        pairs.append({"category": category, "lang": lang, "question": no_q[index], "answer": no})
    return pairs


def scene_item(r: random.Random, size: int, shape_scale: float = 1.0) -> dict:
    """1-4 shapes of one colour; a single shape also has a size and a side."""
    from PIL import ImageDraw

    image = _canvas(r, size)
    draw = ImageDraw.Draw(image)
    colour = r.choice(list(COLOURS))
    shape = r.choice(list(SHAPES))
    count = r.randint(1, 4)
    rgb, colour_zh = COLOURS[colour]
    other = r.choice([c for c in COLOURS if c != colour])
    qa = _qa("color", ("What colour are the shapes?", colour), ("图中形状是什么颜色？", colour_zh))
    qa += _qa("count", ("How many shapes are there?", str(count)), ("图中有几个形状？", str(count)))
    qa += _qa("shape", ("What shape are they?", shape), ("它们是什么形状？", SHAPES[shape]))
    yesno = _yes_no_pair(
        "existence",
        (f"Is there a {colour} shape in the image?", f"图中有{colour_zh}的形状吗？"),
        (f"Is there a {other} shape in the image?", f"图中有{COLOURS[other][1]}的形状吗？"),
    )
    wrong = r.choice([n for n in range(1, 5) if n != count])
    yesno += _yes_no_pair(
        "count",
        (f"Are there {count} shapes?", f"图中有{count}个形状吗？"),
        (f"Are there {wrong} shapes?", f"图中有{wrong}个形状吗？"),
    )
    if count == 1:
        big = r.random() < 0.5
        side = r.choice(list(SIDES))
        extent = r.randint(size * 9 // 20, size * 11 // 20) if big else r.randint(size // 6, size // 5)
        half = size // 2
        x_low = 1 if side == "left" else half + 1
        x0 = r.randint(x_low, max(x_low, x_low + half - extent - 2))
        y0 = r.randint(1, size - extent - 2)
        _draw_shape(draw, shape, (x0, y0, x0 + extent, y0 + extent), rgb)
        size_name = "big" if big else "small"
        qa += _qa(
            "position",
            ("Is the shape on the left or the right?", side),
            ("形状在左边还是右边？", SIDES[side]),
        )
        qa += _qa("size", ("Is the shape big or small?", size_name), ("形状是大还是小？", SIZES[size_name]))
        away = "right" if side == "left" else "left"
        yesno += _yes_no_pair(
            "position",
            (f"Is the shape on the {side}?", f"形状在{SIDES[side]}吗？"),
            (f"Is the shape on the {away}?", f"形状在{SIDES[away]}吗？"),
        )
        caption_en = f"a {size_name} {colour} {shape} on the {side}"
        caption_zh = f"{SIDES[side]}有一个{SIZES[size_name]}的{colour_zh}{SHAPES[shape]}"
    else:
        cell = size // 2
        cells = r.sample([(0, 0), (0, 1), (1, 0), (1, 1)], count)
        cap = cell - 3  # a shape stays inside its quarter with a pixel of margin
        extent = min(cap, round(r.randint(size // 5, size // 4) * shape_scale))
        for cx, cy in cells:
            x0 = cx * cell + r.randint(1, cell - extent - 1)
            y0 = cy * cell + r.randint(1, cell - extent - 1)
            _draw_shape(draw, shape, (x0, y0, x0 + extent, y0 + extent), rgb)
        caption_en = f"{count} {colour} {shape}s"
        caption_zh = f"{count}个{colour_zh}的{SHAPES[shape]}"
    return {
        "kind": "scene",
        "image": image,
        "captions": {"en": caption_en, "zh": caption_zh},
        "qa": qa,
        "yesno": yesno,
    }


def reading_item(
    r: random.Random,
    size: int,
    text_px: int | None = None,
    number_share: float = 0.5,
    number_px: int | None = None,
) -> dict:
    """A word or a number in dark ink at a random place (numbers in ``number_px`` when given)."""
    from PIL import ImageDraw

    image = _canvas(r, size)
    draw = ImageDraw.Draw(image)
    text = r.choice(WORDS) if r.random() < 1 - number_share else str(r.randint(0, 99))
    px = text_px or max(8, size * 9 // 16)
    font = _font((number_px or px) if text.isdigit() else px)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    x = r.randint(0, max(0, size - (right - left) - 1)) - left
    y = r.randint(0, max(0, size - (bottom - top) - 1)) - top
    ink = tuple(r.randint(0, 60) for _ in range(3))
    draw.text((x, y), text, fill=ink, font=font)
    qa = _qa("reading", ("What does the text say?", text), ("图中写的是什么？", text))
    decoy = r.choice([w for w in WORDS if w != text]) if not text.isdigit() else str((int(text) + 7) % 100)
    yesno = _yes_no_pair(
        "ocr",
        (f'Does the image say "{text}"?', f"图中写的是“{text}”吗？"),
        (f'Does the image say "{decoy}"?', f"图中写的是“{decoy}”吗？"),
    )
    return {
        "kind": "reading",
        "image": image,
        "captions": {"en": f'the text "{text}"', "zh": f"文字“{text}”"},
        "qa": qa,
        "yesno": yesno,
    }


def chart_item(r: random.Random, size: int) -> dict:
    """Three bars of distinct colours and distinct heights (a generated table of 3 values)."""
    from PIL import ImageDraw

    image = _canvas(r, size)
    draw = ImageDraw.Draw(image)
    names = r.sample(list(COLOURS), 3)
    heights = r.sample(range(2, 9), 3)  # in eighths of the plot height, all different
    plot = size - 4
    width = plot // 3
    for i, (name, height) in enumerate(zip(names, heights, strict=True)):
        x0 = 2 + i * width
        top = size - 2 - plot * height // 8
        draw.rectangle((x0 + 1, top, x0 + width - 2, size - 2), fill=COLOURS[name][0])
    draw.line((1, size - 2, size - 2, size - 2), fill=(0, 0, 0))
    tallest = names[heights.index(max(heights))]
    shortest = names[heights.index(min(heights))]
    a, b = r.sample(range(3), 2)
    taller = heights[a] > heights[b]
    yes, no = YES_NO["en"], YES_NO["zh"]
    qa = _qa("chart", ("Which bar is the tallest?", tallest), ("哪个柱子最高？", COLOURS[tallest][1]))
    qa += _qa("chart", ("Which bar is the shortest?", shortest), ("哪个柱子最矮？", COLOURS[shortest][1]))
    na, nb = names[a], names[b]
    qa += _qa(
        "chart",
        (f"Is the {na} bar taller than the {nb} bar?", yes[0] if taller else yes[1]),
        (f"{COLOURS[na][1]}的柱子比{COLOURS[nb][1]}的高吗？", no[0] if taller else no[1]),
    )
    high, low = (na, nb) if taller else (nb, na)
    yesno = _yes_no_pair(
        "chart",
        (
            f"Is the {high} bar taller than the {low} bar?",
            f"{COLOURS[high][1]}的柱子比{COLOURS[low][1]}的高吗？",
        ),
        (
            f"Is the {low} bar taller than the {high} bar?",
            f"{COLOURS[low][1]}的柱子比{COLOURS[high][1]}的高吗？",
        ),
    )
    caption_en = f"a bar chart of {', '.join(names)} bars; the {tallest} bar is the tallest"
    caption_zh = f"一张柱状图，{COLOURS[tallest][1]}的柱子最高"
    return {
        "kind": "chart",
        "image": image,
        "captions": {"en": caption_en, "zh": caption_zh},
        "qa": qa,
        "yesno": yesno,
    }


def digit_item(pixels: np.ndarray, label: int, size: int) -> dict:
    """One 8x8 sklearn digit (ink 0..16) as dark ink on white, upscaled to ``size``."""
    from PIL import Image

    gray = (255 - pixels.reshape(8, 8) * (255 / 16)).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(gray, mode="L").resize((size, size), Image.Resampling.BILINEAR).convert("RGB")
    even = label % 2 == 0
    qa = _qa("digit", ("What digit is this?", str(label)), ("这是什么数字？", str(label)))
    qa += _qa(
        "parity",
        ("Is the digit even?", YES_NO["en"][0 if even else 1]),
        ("这个数字是偶数吗？", YES_NO["zh"][0 if even else 1]),
    )
    wrong = (label + 3) % 10
    yesno = _yes_no_pair(
        "ocr",
        (f"Is this the digit {label}?", f"这是数字{label}吗？"),
        (f"Is this the digit {wrong}?", f"这是数字{wrong}吗？"),
    )
    return {
        "kind": "digit",
        "image": image,
        "captions": {"en": f"the handwritten digit {label}", "zh": f"手写数字{label}"},
        "qa": qa,
        "yesno": yesno,
    }


DRAWERS = {"scene": scene_item, "reading": reading_item, "chart": chart_item}


def dialogue(r: random.Random, item: dict, lang: str) -> dict:
    """2-3 turns in ``lang`` about one image; the image is in the first user turn."""
    pool = [q for q in item["qa"] if q["lang"] == lang] + [q for q in item["yesno"] if q["lang"] == lang]
    turns = r.sample(pool, min(len(pool), r.randint(2, 3)))
    messages = []
    for i, turn in enumerate(turns):
        content = IMAGE_PLACEHOLDER + turn["question"] if i == 0 else turn["question"]
        messages += [{"role": "user", "content": content}, {"role": "assistant", "content": turn["answer"]}]
    return {"lang": lang, "messages": messages}


def load_digits_or_none():
    """(images (n, 64), labels) of sklearn's digits, or None when scikit-learn is not installed."""
    datasets = optional_import("sklearn.datasets")
    if datasets is None:
        return None
    digits = datasets.load_digits()
    return digits.data, digits.target


def digit_split(seed: int, total: int, train: int, heldout: int) -> tuple[list[int], list[int]]:
    """Indices of the training and held-out digits (a seeded shuffle; the two never overlap)."""
    order = np.random.default_rng([seed, 17]).permutation(total).tolist()
    train = min(train, total)
    return order[:train], order[train : train + min(heldout, total - train)]


class ImageQA(SyntheticGenerator[ImageQAConfig]):
    name = "mm_images"
    version = 1
    summary_kind = "mm_data"

    def write(self, out_dir: Path, progress) -> dict[str, Any]:
        config = self.config
        unknown = [k for k in config.kinds if k not in DRAWERS]
        if unknown:
            from skywork.utils.io import InputError

            raise InputError(f"unknown image kinds {unknown} (known: {sorted(DRAWERS)})", field="kinds")
        corpus = self.jsonl(out_dir, "text/corpus.jsonl")
        counts: dict[str, Any] = {}
        for split, n in (("train", config.train_images), ("heldout", config.heldout_images)):
            draw, talk = rng(config.seed, f"{split}-images"), rng(config.seed, f"{split}-dialogues")
            handle = self.jsonl(out_dir, f"{split}/images.jsonl")
            for i in range(n):
                item = self._draw(config.kinds[i % len(config.kinds)], draw)
                self._emit(handle, corpus, talk, f"{split}-{i:06d}", item)
                if progress:
                    progress(i + 1, n)
            handle.close()
            counts[split] = handle.rows
        digits = load_digits_or_none()
        if digits is None:
            counts["digits"] = "skipped: scikit-learn is not installed (pip install 'skywork[mm]')"
        else:
            images, labels = digits
            train_ids, heldout_ids = digit_split(
                config.seed, len(labels), config.digits_train, config.digits_heldout
            )
            talk = rng(config.seed, "digit-dialogues")
            for split, ids in (("train", train_ids), ("heldout", heldout_ids)):
                handle = self.jsonl(out_dir, f"{split}/digits.jsonl")
                for index in ids:
                    item = digit_item(images[index], int(labels[index]), config.image_size)
                    self._emit(handle, corpus, talk, f"digit-{index:04d}", item)
                handle.close()
            counts["digits"] = {"train": len(train_ids), "heldout": len(heldout_ids), "total": len(labels)}
        return {"images": counts, "image_size": config.image_size, "chinese_text_in_images": False}

    def _draw(self, kind: str, r: random.Random) -> dict:
        size = self.config.image_size
        if kind == "scene":
            return scene_item(r, size, self.config.shape_scale)
        if kind == "reading":
            config = self.config
            return reading_item(r, size, config.text_px, config.number_share, config.number_px)
        return DRAWERS[kind](r, size)

    def _emit(self, handle, corpus, talk: random.Random, image_id: str, item: dict) -> None:
        lang = "zh" if talk.random() < self.config.zh_share else "en"
        row = {
            "id": image_id,
            "kind": item["kind"],
            "image": encode_png(item["image"]),
            "captions": item["captions"],
            "qa": item["qa"],
            "yesno": item["yesno"],
            "dialogues": [dialogue(talk, item, lang)],
        }
        handle.write(row)
        texts = [*item["captions"].values()] + [
            f"{q['question']} {q['answer']}" for q in item["qa"] + item["yesno"]
        ]
        for text in texts:
            corpus.write({"text": text})


def generate_images(config: ImageQAConfig, out_dir: str | Path, progress=None) -> dict:
    """Write the image files and manifest.json / summary.json into ``out_dir``; returns the manifest."""
    return ImageQA(config).generate(out_dir, progress)
