"""GSM8K-style word problems in English and Chinese with worked solutions the generator computes.

Each solution step carries a calculator annotation ``<<a*b=c>>`` as in GSM8K, and the answer ends with
``#### N``. Every number is drawn so that all intermediate results are whole numbers. A problem is
``question + "\\n" + answer`` in one ``text`` field, the layout of Skywork's ``pt_train.jsonl``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from skywork.data.synth.lexicon import NAMES, Pair


@dataclass
class Problem:
    question: str
    answer: str  # worked solution, ending "#### N"
    value: int
    template: str
    lang: str

    @property
    def text(self) -> str:
        return f"{self.question}\n{self.answer}"

    def as_gsm8k(self) -> dict:
        """The problem as a GSM8K row (``question``, ``answer`` ending ``#### N``) with its language and template."""
        return {
            "question": self.question,
            "answer": self.answer,
            "lang": self.lang,
            "template": self.template,
        }


def calc(a: int, op: str, b: int) -> tuple[int, str]:
    """``a op b`` and its step text with the GSM8K calculator annotation: 12 and ``"3*4=<<3*4=12>>12"``."""
    value = {"+": a + b, "-": a - b, "*": a * b, "/": a // b}[op]
    expr = f"{a}{op}{b}"
    return value, f"{expr}=<<{expr}={value}>>{value}"


def _final(steps: list[str], value: int) -> str:
    return "\n".join(steps) + f"\n#### {value}"


# Each template takes (rng, name pair, item pair, lang) and returns (question, steps, value).
Template = Callable[[random.Random, Pair, Pair, str], tuple[str, list[str], int]]


def _packs(rng, name, item, lang):
    have, packs, per = rng.randint(3, 40), rng.randint(2, 9), rng.randint(3, 12)
    bought, s1 = calc(packs, "*", per)
    total, s2 = calc(have, "+", bought)
    if lang == "en":
        q = (
            f"{name[0]} has {have} {item[0]}. {name[0]} buys {packs} bags with {per} {item[0]} in each bag. "
            f"How many {item[0]} does {name[0]} have now?"
        )
        steps = [f"{name[0]} buys {s1} {item[0]}.", f"Now {name[0]} has {s2} {item[0]}."]
    else:
        q = f"{name[1]}有{have}个{item[1]}，又买了{packs}袋，每袋有{per}个{item[1]}。{name[1]}现在一共有多少个{item[1]}？"
        steps = [f"{name[1]}买了{s1}个{item[1]}。", f"现在{name[1]}一共有{s2}个{item[1]}。"]
    return q, steps, total


def _change(rng, name, item, lang):
    count, price = rng.randint(2, 9), rng.randint(2, 15)
    cost, s1 = calc(count, "*", price)
    paid = (cost // 10 + 1 + rng.randint(0, 3)) * 10
    change, s2 = calc(paid, "-", cost)
    if lang == "en":
        q = (
            f"{name[0]} buys {count} {item[0]} that cost ${price} each and pays with ${paid}. "
            f"How much change does {name[0]} get?"
        )
        steps = [f"The {item[0]} cost {s1} dollars.", f"The change is {s2} dollars."]
    else:
        q = f"{name[1]}买了{count}个{item[1]}，每个{price}元，付了{paid}元。应该找回多少元？"
        steps = [f"{item[1]}一共花了{s1}元。", f"应该找回{s2}元。"]
    return q, steps, change


def _share(rng, name, item, lang):
    friends, each, kept = rng.randint(2, 9), rng.randint(2, 12), rng.randint(1, 10)
    total = friends * each + kept
    shared, s1 = calc(total, "-", kept)
    per, s2 = calc(shared, "/", friends)
    if lang == "en":
        q = (
            f"{name[0]} has {total} {item[0]}, keeps {kept} and shares the rest equally among {friends} friends. "
            f"How many {item[0]} does each friend get?"
        )
        steps = [f"{name[0]} shares {s1} {item[0]}.", f"Each friend gets {s2} {item[0]}."]
    else:
        q = f"{name[1]}有{total}个{item[1]}，自己留下{kept}个，其余平均分给{friends}个朋友。每个朋友分到几个？"
        steps = [f"{name[1]}分出去{s1}个{item[1]}。", f"每个朋友分到{s2}个。"]
    return q, steps, per


def _wage(rng, name, item, lang):
    hours, days, rate = rng.randint(2, 8), rng.randint(2, 6), rng.randint(8, 25)
    daily, s1 = calc(hours, "*", rate)
    weekly, s2 = calc(daily, "*", days)
    if lang == "en":
        q = (
            f"{name[0]} works {hours} hours a day, {days} days a week, and earns ${rate} an hour. "
            f"How much does {name[0]} earn in a week?"
        )
        steps = [f"In a day {name[0]} earns {s1} dollars.", f"In a week {name[0]} earns {s2} dollars."]
    else:
        q = f"{name[1]}每天工作{hours}小时，每周工作{days}天，每小时挣{rate}元。{name[1]}一周挣多少元？"
        steps = [f"{name[1]}每天挣{s1}元。", f"一周挣{s2}元。"]
    return q, steps, weekly


def _speed(rng, name, item, lang):
    speed, h1, h2 = rng.randint(20, 90), rng.randint(1, 5), rng.randint(1, 4)
    d1, s1 = calc(speed, "*", h1)
    d2, s2 = calc(speed, "*", h2)
    total, s3 = calc(d1, "+", d2)
    if lang == "en":
        q = (
            f"A bus drives at {speed} km per hour. It drives {h1} hours in the morning and {h2} hours in the "
            "afternoon. How many kilometers does it drive in total?"
        )
        steps = [
            f"In the morning it drives {s1} km.",
            f"In the afternoon it drives {s2} km.",
            f"In total {s3} km.",
        ]
    else:
        q = f"一辆公共汽车每小时行驶{speed}千米，上午行驶了{h1}小时，下午行驶了{h2}小时。它一共行驶了多少千米？"
        steps = [f"上午行驶了{s1}千米。", f"下午行驶了{s2}千米。", f"一共行驶了{s3}千米。"]
    return q, steps, total


def _percent(rng, name, item, lang):
    pct = rng.choice([10, 20, 25, 30, 40, 50, 60, 75])
    salary = rng.randint(2, 40) * 100
    saved_x, s1 = calc(salary, "*", pct)
    saved, s2 = calc(saved_x, "/", 100)
    spent, s3 = calc(salary, "-", saved)
    if lang == "en":
        q = f"{name[0]} earns ${salary} and saves {pct}% of it. How much does {name[0]} spend?"
        steps = [
            f"{pct}% of {salary} is {s1}/100, so {s2} dollars are saved.",
            f"{name[0]} spends {s3} dollars.",
        ]
    else:
        q = f"{name[1]}挣了{salary}元，存下其中的{pct}%。{name[1]}花了多少元？"
        steps = [f"{salary}的{pct}%是{s1}/100，所以存下{s2}元。", f"{name[1]}花了{s3}元。"]
    return q, steps, spent


def _age(rng, name, item, lang):
    child, times, years = rng.randint(3, 15), rng.randint(2, 5), rng.randint(2, 20)
    parent, s1 = calc(child, "*", times)
    later, s2 = calc(parent, "+", years)
    if lang == "en":
        q = (
            f"{name[0]} is {child} years old. {name[0]}'s aunt is {times} times as old. "
            f"How old will the aunt be in {years} years?"
        )
        steps = [f"The aunt is {s1} years old.", f"In {years} years she will be {s2} years old."]
    else:
        q = f"{name[1]}今年{child}岁，姑姑的年龄是{name[1]}的{times}倍。{years}年后姑姑多少岁？"
        steps = [f"姑姑今年{s1}岁。", f"{years}年后姑姑{s2}岁。"]
    return q, steps, later


def _fence(rng, name, item, lang):
    length, width, cost = rng.randint(5, 40), rng.randint(3, 30), rng.randint(2, 12)
    both, s1 = calc(length, "+", width)
    perimeter, s2 = calc(both, "*", 2)
    price, s3 = calc(perimeter, "*", cost)
    if lang == "en":
        q = (
            f"A garden is {length} meters long and {width} meters wide. A fence costs ${cost} per meter. "
            "How much does it cost to fence the whole garden?"
        )
        steps = [
            f"Length plus width is {s1} meters.",
            f"The perimeter is {s2} meters.",
            f"The fence costs {s3} dollars.",
        ]
    else:
        q = f"一个花园长{length}米，宽{width}米。篱笆每米{cost}元。把整个花园围起来要花多少元？"
        steps = [f"长加宽是{s1}米。", f"周长是{s2}米。", f"篱笆要花{s3}元。"]
    return q, steps, price


def _pages(rng, name, item, lang):
    per_day, days, extra = rng.randint(5, 40), rng.randint(3, 14), rng.randint(10, 90)
    read, s1 = calc(per_day, "*", days)
    book, s2 = calc(read, "+", extra)
    if lang == "en":
        q = (
            f"{name[0]} reads {per_day} pages a day for {days} days and still has {extra} pages left. "
            "How many pages does the book have?"
        )
        steps = [f"{name[0]} has read {s1} pages.", f"The book has {s2} pages."]
    else:
        q = f"{name[1]}每天读{per_day}页书，读了{days}天，还剩{extra}页没读。这本书一共有多少页？"
        steps = [f"{name[1]}已经读了{s1}页。", f"这本书一共有{s2}页。"]
    return q, steps, book


def _boxes(rng, name, item, lang):
    per_box, boxes, broken = rng.randint(6, 24), rng.randint(3, 12), rng.randint(1, 5)
    total, s1 = calc(per_box, "*", boxes)
    good, s2 = calc(total, "-", broken)
    if lang == "en":
        q = (
            f"A shop gets {boxes} boxes of {item[0]} with {per_box} in each box. {broken} of them are damaged. "
            f"How many good {item[0]} does the shop have?"
        )
        steps = [f"The shop gets {s1} {item[0]}.", f"{s2} of them are good."]
    else:
        q = f"商店进了{boxes}箱{item[1]}，每箱{per_box}个，其中{broken}个坏了。商店有多少个好的{item[1]}？"
        steps = [f"商店一共进了{s1}个{item[1]}。", f"好的有{s2}个。"]
    return q, steps, good


TEMPLATES: dict[str, Template] = {
    "packs": _packs,
    "change": _change,
    "share": _share,
    "wage": _wage,
    "speed": _speed,
    "percent": _percent,
    "age": _age,
    "fence": _fence,
    "pages": _pages,
    "boxes": _boxes,
}
ITEMS: list[Pair] = [
    ("apples", "苹果"),
    ("oranges", "橙子"),
    ("mooncakes", "月饼"),
    ("pencils", "铅笔"),
    ("stickers", "贴纸"),
    ("marbles", "弹珠"),
    ("cards", "卡片"),
    ("eggs", "鸡蛋"),
    ("books", "书"),
    ("cookies", "饼干"),
]


def make_problem(rng: random.Random, lang: str, names: list[Pair] = NAMES) -> Problem:
    """One problem from a random template; ``names`` lets the reference split use an unseen name pool."""
    template = rng.choice(sorted(TEMPLATES))
    name, item = rng.choice(names), rng.choice(ITEMS)
    question, steps, value = TEMPLATES[template](rng, name, item, lang)
    return Problem(question, _final(steps, value), value, template, lang)


def generate_problems(
    seed: int,
    count: int,
    langs: tuple[str, ...] = ("en", "zh"),
    names: list[Pair] = NAMES,
    exclude: set[str] | None = None,
) -> list[Problem]:
    """``count`` distinct problems, languages in turn, none whose text is in ``exclude`` (which grows with them).

    Its own seeded stream (``random.Random(seed)``): the demo corpus, which draws from its part streams with
    :func:`make_problem`, is unchanged by it. Used for held-out sets (``skywork eval gsm8k --data``), the
    self-compare stage and ``bench/self_compare.py``.
    """
    rng = random.Random(seed)
    seen = exclude if exclude is not None else set()
    problems: list[Problem] = []
    attempts = 0
    while len(problems) < count:
        attempts += 1
        if attempts > 50 * count + 1000:
            raise ValueError(f"could not draw {count} distinct problems (the templates are exhausted)")
        problem = make_problem(rng, langs[len(problems) % len(langs)], names)
        if problem.text in seen:
            continue
        seen.add(problem.text)
        problems.append(problem)
    return problems
