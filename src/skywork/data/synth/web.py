"""General documents and planted defects of the demo corpus, from the bilingual templates of :mod:`.lexicon`.

A document binds one consistent set of entities (the same person, city, ... throughout) and draws fresh numbers
per sentence; the defects are what web crawls are full of (duplicates, navigation boilerplate, spam, pages in other
languages, mojibake), so the cleaning pipeline has something labelled to catch.
"""

from __future__ import annotations

import random

from skywork.data.synth import lexicon as lx

DEFECTS = ("exact_dup", "near_dup", "boilerplate", "spam", "other_lang", "garbled")


# --------------------------------------------------------------------------------------------- general text


def _binding(rng: random.Random) -> dict[str, lx.Pair]:
    """One consistent set of entities for a document (the same person, city, ... throughout)."""
    bind: dict[str, lx.Pair] = {slot: rng.choice(pool) for slot, pool in lx.SLOT_POOLS.items()}
    numbers = {
        "n": rng.randint(2, 12),
        "m": rng.randint(10, 999),
        "year": rng.randint(2024, 2032),
        "pct": rng.randint(2, 60),
        "lo": rng.randint(-5, 18),
        "s1": rng.randint(1, 5),
        "s2": rng.randint(0, 4),
    }
    numbers["hi"] = numbers["lo"] + rng.randint(3, 12)
    numbers["s1"] = numbers["s2"] + rng.randint(1, 3) if numbers["s1"] <= numbers["s2"] else numbers["s1"]
    for key, value in numbers.items():
        bind[key] = (str(value), str(value))
    return bind


def _fill(template: lx.Pair, bind: dict[str, lx.Pair], lang: int) -> str:
    return template[lang].format(**{k: v[lang] for k, v in bind.items()})


def _section(rng: random.Random, kind: str) -> list[tuple[lx.Pair, dict]]:
    """Sentences of one topic: the same entities throughout, fresh numbers per sentence, no template twice."""
    entities = _binding(rng)
    templates = rng.sample(
        lx.TEMPLATES[kind], rng.randint(min(4, len(lx.TEMPLATES[kind])), len(lx.TEMPLATES[kind]))
    )
    picked = []
    for template in templates:
        numbers = {k: v for k, v in _binding(rng).items() if k in _NUMBER_SLOTS}
        picked.append((template, {**entities, **numbers}))
    return picked


_NUMBER_SLOTS = ("n", "m", "pct", "year", "lo", "hi", "s1", "s2")


def general_document(rng: random.Random, lang: str) -> str:
    """A titled document of 1-3 topical paragraphs in ``lang`` ("en", "zh") or ``"parallel"`` (line pairs)."""
    kinds = [rng.choice(sorted(lx.TEMPLATES)) for _ in range(rng.randint(1, 3))]
    sections = [_section(rng, kind) for kind in kinds]
    if lang == "parallel":
        return "\n".join(f"{_fill(t, b, 0)}\n{_fill(t, b, 1)}" for section in sections for t, b in section)
    side = 0 if lang == "en" else 1
    joiner = " " if side == 0 else ""
    title = _fill(lx.TITLES[kinds[0]], sections[0][0][1], side)
    body = "\n\n".join(joiner.join(_fill(t, b, side) for t, b in section) for section in sections)
    return f"{title}\n\n{body}"


# ------------------------------------------------------------------------------------------------ defects


def _near_duplicate(rng: random.Random, text: str, lang: str) -> str:
    """The same page republished: one number changed and a source line added (Jaccard stays high)."""
    digits = [k for k, ch in enumerate(text) if ch.isdigit()]
    if digits:
        k = rng.choice(digits)
        text = text[:k] + str((int(text[k]) + 1) % 10) + text[k + 1 :]
    city = rng.choice(lx.CITIES)
    footer = f"Reposted from {city[0]} Daily." if lang == "en" else f"转载自{city[1]}日报。"
    return f"{text}\n{footer}"


def _boilerplate(rng: random.Random, lang: str) -> str:
    lines = lx.NAV_LINES_EN if lang == "en" else lx.NAV_LINES_ZH
    return "\n".join(rng.choice(lines) for _ in range(rng.randint(8, 20)))


def _spam(rng: random.Random, lang: str) -> str:
    lines = lx.SPAM_EN if lang == "en" else lx.SPAM_ZH
    side = 0 if lang == "en" else 1
    out = []
    for _ in range(rng.randint(10, 30)):
        product = rng.choice(lx.PRODUCTS)[side]
        out.append(rng.choice(lines).format(product=product, n=rng.randint(1, 99), m=rng.randint(100, 999)))
    return "\n".join(out)


def _other_language(rng: random.Random) -> str:
    code = rng.choice(sorted(lx.OTHER_LANGUAGE_SENTENCES))
    sentences = lx.OTHER_LANGUAGE_SENTENCES[code]
    joiner = "" if code == "ja" else " "
    return "\n\n".join(joiner.join(rng.sample(sentences, 4)) for _ in range(rng.randint(2, 4)))


def _garbled(rng: random.Random) -> str:
    """UTF-8 Chinese read back as Windows-1252: the classic mojibake of a mis-declared page encoding."""
    text = general_document(rng, "zh").encode("utf-8").decode("cp1252", errors="replace")
    return text


def defect_text(rng: random.Random, defect: str, recent: list[str], lang: str) -> tuple[str, str | None]:
    """The text of one planted defect and, for duplicates, the id of the document it copies."""
    if defect == "exact_dup":
        of, text = recent[rng.randrange(len(recent))].split("\t", 1)
        return text, of
    if defect == "near_dup":
        of, original = recent[rng.randrange(len(recent))].split("\t", 1)
        return _near_duplicate(rng, original, lang), of
    if defect == "boilerplate":
        return _boilerplate(rng, lang), None
    if defect == "spam":
        return _spam(rng, lang), None
    if defect == "other_lang":
        return _other_language(rng), None
    if defect == "garbled":
        return _garbled(rng), None
    raise ValueError(f"defect_rates: unknown defect {defect!r} (known: {', '.join(DEFECTS)})")
