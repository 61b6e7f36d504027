"""Named, configurable heuristic quality rules for English, Chinese and code.

English rules follow Gopher (Rae et al. 2021, table A1), C4 (Raffel et al. 2020) and FineWeb (Penedo et al.
2024) with their published thresholds. The Chinese rules are our design (the Skywork report does not publish
them): lengths in characters instead of words, Chinese terminal punctuation, the share of CJK characters and
repeated character n-grams in place of word n-grams. Each rule returns a reason named ``<family>_<rule>`` so the
accounting says exactly which rule removed a document; ``disabled_rules`` switches any of them off.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from skywork.data.textstats import (
    EN_TERMINAL,
    ZH_TERMINAL,
    duplicate_ngram_chars,
    top_ngram_chars,
    words,
)
from skywork.utils.config import field
from skywork.utils.text import CJK_RE

STOP_WORDS = frozenset(["the", "be", "to", "of", "and", "that", "have", "with"])
C4_POLICY = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
FINEWEB_TERMINAL = EN_TERMINAL + ("。", "！", "？", "…", ";", ":", "”")
SENTENCE_ENDS = ("。", "！", "？", "；", "…", "!", "?")
BULLETS = ("•", "●", "○", "■", "□", "▪", "▫", "※", "·", "-", "*", "◆", "◇", "►", "▶")


@dataclasses.dataclass
class QualityConfig:
    enabled: bool = field(True, help="Apply the heuristic quality rules.")
    disabled_rules: list[str] = field(
        default_factory=list, help="Rule names to skip, e.g. ['c4_min_sentences', 'zh_terminal_punct']."
    )
    # --- Gopher (published thresholds) ---
    gopher_min_words: int = field(50, help="Gopher: fewer words than this drops the document.")
    gopher_max_words: int = field(100_000, help="Gopher: more words than this drops the document.")
    gopher_min_avg_word_length: float = field(3.0, help="Gopher: mean word length lower bound (chars).")
    gopher_max_avg_word_length: float = field(10.0, help="Gopher: mean word length upper bound (chars).")
    gopher_max_symbol_word_ratio: float = field(0.1, help="Gopher: max ('#' + ellipsis) per word.")
    gopher_max_bullet_lines_ratio: float = field(
        0.9, help="Gopher: max share of lines starting with a bullet."
    )
    gopher_max_ellipsis_lines_ratio: float = field(0.3, help="Gopher: max share of lines ending with '...'.")
    gopher_min_alpha_words_ratio: float = field(
        0.8, help="Gopher: min share of words containing a letter (datatrove's max_non_alpha_words_ratio)."
    )
    gopher_min_stop_words: int = field(
        2, help="Gopher: at least this many of the, be, to, of, and, that, have, with."
    )
    gopher_max_dup_line_fraction: float = field(0.3, help="Gopher: max share of duplicated lines.")
    gopher_max_dup_para_fraction: float = field(0.3, help="Gopher: max share of duplicated paragraphs.")
    gopher_max_dup_line_char_fraction: float = field(
        0.2, help="Gopher: max share of chars in duplicated lines."
    )
    gopher_max_dup_para_char_fraction: float = field(
        0.2, help="Gopher: max share of chars in duplicated paras."
    )
    gopher_top_ngrams: dict[str, float] = field(
        default_factory=lambda: {"2": 0.2, "3": 0.18, "4": 0.16},
        help="Gopher: n -> max character share of the most frequent word n-gram.",
    )
    gopher_dup_ngrams: dict[str, float] = field(
        default_factory=lambda: {"5": 0.15, "6": 0.14, "7": 0.13, "8": 0.12, "9": 0.11, "10": 0.10},
        help="Gopher: n -> max character share covered by repeated word n-grams.",
    )
    # --- C4 ---
    c4_min_sentences: int = field(5, help="C4: fewer sentences (after line cleanup) drops the document.")
    c4_max_word_length: int = field(1000, help="C4: a word longer than this drops the document.")
    c4_line_cleanup: bool = field(
        True,
        help="C4: remove lines without terminal punctuation, with < 3 words, 'javascript' or policy text.",
    )
    # --- FineWeb ---
    fineweb_min_line_punct_ratio: float = field(
        0.12, help="FineWeb: min share of lines ending in punctuation."
    )
    fineweb_max_short_line_ratio: float = field(0.67, help="FineWeb: max share of lines of <= 30 chars.")
    fineweb_max_char_dup_ratio: float = field(0.01, help="FineWeb: max share of chars in duplicated lines.")
    fineweb_max_newline_ratio: float = field(0.3, help="FineWeb: max newlines per word (list-like pages).")
    # --- Chinese (our design; see docs/data.md) ---
    zh_min_chars: int = field(50, help="Chinese: fewer non-space characters drops the document.")
    zh_max_chars: int = field(200_000, help="Chinese: more non-space characters drops the document.")
    zh_min_cjk_fraction: float = field(
        0.3, help="Chinese: min share of CJK characters among non-space chars."
    )
    zh_min_sentence_ends_per_100_chars: float = field(
        0.2, help="Chinese: min sentence-final marks (。！？；… !?) per 100 characters (1 per 500 chars)."
    )
    zh_min_line_punct_ratio: float = field(
        0.12, help="Chinese: min share of lines ending in terminal punctuation (documents of >= 5 lines)."
    )
    zh_max_short_line_ratio: float = field(0.67, help="Chinese: max share of lines of <= 10 characters.")
    zh_max_dup_line_fraction: float = field(0.3, help="Chinese: max share of duplicated lines.")
    zh_max_dup_line_char_fraction: float = field(0.2, help="Chinese: max share of chars in duplicated lines.")
    zh_max_symbol_ratio: float = field(0.1, help="Chinese: max ('#' + ellipsis) per character.")
    zh_dup_ngrams: dict[str, float] = field(
        default_factory=lambda: {"10": 0.3},
        help="Chinese: character n -> max character share covered by repeated character n-grams.",
    )
    zh_top_ngrams: dict[str, float] = field(
        default_factory=lambda: {"5": 0.2},
        help="Chinese: character n -> max character share of the most frequent n-gram.",
    )
    # --- code (StarCoder-style) ---
    code_sources: list[str] = field(
        default_factory=lambda: ["code", "github"],
        help="Documents whose metadata 'source' or 'lang' is one of these are checked by the code rules only.",
    )
    code_max_line_length: int = field(1000, help="Code: a line longer than this drops the file.")
    code_max_mean_line_length: float = field(100.0, help="Code: mean line length upper bound.")
    code_min_alnum_fraction: float = field(0.25, help="Code: min share of alphanumeric characters.")


class QualityRules:
    """Evaluates the rules for one language; ``check`` returns None (keep) or the failing rule's name."""

    def __init__(self, config: QualityConfig):
        self.config = config
        self.disabled = set(config.disabled_rules)
        self.gopher_top = sorted((int(n), t) for n, t in config.gopher_top_ngrams.items())
        self.gopher_dup = sorted((int(n), t) for n, t in config.gopher_dup_ngrams.items())
        self.zh_top = sorted((int(n), t) for n, t in config.zh_top_ngrams.items())
        self.zh_dup = sorted((int(n), t) for n, t in config.zh_dup_ngrams.items())

    def _on(self, name: str) -> bool:
        return name not in self.disabled

    def check(self, text: str, lang: str, is_code: bool = False) -> tuple[str | None, str]:
        """(failing rule or None, possibly cleaned text). Only C4's line cleanup changes the text."""
        if is_code:
            return self.check_code(text), text
        if lang == "zh":
            return self.check_zh(text), text
        return self.check_en(text)

    # ---------------------------------------------------------------- English
    def check_en(self, text: str) -> tuple[str | None, str]:
        cfg = self.config
        lines = [line.strip() for line in text.split("\n")]
        nonempty = [line for line in lines if line]
        if not nonempty:
            return "gopher_min_words", text
        # Gopher repetition (on the raw text)
        paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
        for name, elements, max_frac, max_char_frac in (
            ("line", nonempty, cfg.gopher_max_dup_line_fraction, cfg.gopher_max_dup_line_char_fraction),
            ("para", paragraphs, cfg.gopher_max_dup_para_fraction, cfg.gopher_max_dup_para_char_fraction),
        ):
            dup_count, dup_chars = _duplicates(elements)
            if self._on(f"gopher_dup_{name}_fraction") and elements and dup_count / len(elements) > max_frac:
                return f"gopher_dup_{name}_fraction", text
            total_chars = sum(len(e) for e in elements)
            if (
                self._on(f"gopher_dup_{name}_char_fraction")
                and total_chars
                and dup_chars / total_chars > max_char_frac
            ):
                return f"gopher_dup_{name}_char_fraction", text
        tokens = words(text)
        for n, threshold in self.gopher_top:
            if self._on(f"gopher_top_{n}gram") and top_ngram_chars(tokens, n) / len(text) > threshold:
                return f"gopher_top_{n}gram", text
        for n, threshold in self.gopher_dup:
            if self._on(f"gopher_dup_{n}gram") and duplicate_ngram_chars(tokens, n) / len(text) > threshold:
                return f"gopher_dup_{n}gram", text
        # Gopher quality
        n_words = len(tokens)
        if self._on("gopher_min_words") and n_words < cfg.gopher_min_words:
            return "gopher_min_words", text
        if self._on("gopher_max_words") and n_words > cfg.gopher_max_words:
            return "gopher_max_words", text
        mean_len = sum(len(w) for w in tokens) / max(n_words, 1)
        if self._on("gopher_avg_word_length") and not (
            cfg.gopher_min_avg_word_length <= mean_len <= cfg.gopher_max_avg_word_length
        ):
            return "gopher_avg_word_length", text
        symbols = text.count("#") + text.count("...") + text.count("…")
        if (
            self._on("gopher_symbol_word_ratio")
            and symbols / max(n_words, 1) > cfg.gopher_max_symbol_word_ratio
        ):
            return "gopher_symbol_word_ratio", text
        if self._on("gopher_bullet_lines") and (
            sum(line.startswith(BULLETS) for line in nonempty) / len(nonempty)
            > cfg.gopher_max_bullet_lines_ratio
        ):
            return "gopher_bullet_lines", text
        if self._on("gopher_ellipsis_lines") and (
            sum(line.endswith(("...", "…")) for line in nonempty) / len(nonempty)
            > cfg.gopher_max_ellipsis_lines_ratio
        ):
            return "gopher_ellipsis_lines", text
        # whitespace-separated tokens: words() already keeps only alphanumeric runs, so compare against split()
        raw_tokens = text.split()
        alpha = sum(any(ch.isalpha() for ch in tok) for tok in raw_tokens)
        if (
            self._on("gopher_alpha_words")
            and alpha / max(len(raw_tokens), 1) < cfg.gopher_min_alpha_words_ratio
        ):
            return "gopher_alpha_words", text
        if (
            self._on("gopher_stop_words")
            and sum(w.lower() in STOP_WORDS for w in tokens) < cfg.gopher_min_stop_words
        ):
            return "gopher_stop_words", text
        # C4
        lower = text.lower()
        if self._on("c4_lorem_ipsum") and "lorem ipsum" in lower:
            return "c4_lorem_ipsum", text
        if self._on("c4_curly_bracket") and "{" in text:
            return "c4_curly_bracket", text
        if self._on("c4_max_word_length") and any(len(w) > cfg.c4_max_word_length for w in raw_tokens):
            return "c4_max_word_length", text
        kept_lines = nonempty
        if cfg.c4_line_cleanup and self._on("c4_line_cleanup"):
            kept_lines = [
                line
                for line in nonempty
                if line.endswith(EN_TERMINAL[:5])
                and not line.endswith("...")
                and len(line.split()) >= 3
                and "javascript" not in line.lower()
                and not any(p in line.lower() for p in C4_POLICY)
            ]
        sentences = sum(
            max(1, line.count(". ") + line.count("? ") + line.count("! ") + 1) for line in kept_lines
        )
        if self._on("c4_min_sentences") and sentences < cfg.c4_min_sentences:
            return "c4_min_sentences", text
        # FineWeb (on the original lines, as FineWeb runs after C4 without its line removal)
        if self._on("fineweb_line_punct") and (
            sum(line.endswith(FINEWEB_TERMINAL) for line in nonempty) / len(nonempty)
            < cfg.fineweb_min_line_punct_ratio
        ):
            return "fineweb_line_punct", text
        if self._on("fineweb_short_lines") and (
            sum(len(line) <= 30 for line in nonempty) / len(nonempty) > cfg.fineweb_max_short_line_ratio
        ):
            return "fineweb_short_lines", text
        non_newline_chars = len(text) - text.count("\n")
        if (
            self._on("fineweb_char_dup")
            and non_newline_chars
            and (_duplicates(nonempty)[1] / non_newline_chars > cfg.fineweb_max_char_dup_ratio)
        ):
            return "fineweb_char_dup", text
        if (
            self._on("fineweb_newline_ratio")
            and text.count("\n") / max(n_words, 1) > cfg.fineweb_max_newline_ratio
        ):
            return "fineweb_newline_ratio", text
        if kept_lines is not nonempty:
            text = "\n".join(kept_lines)
        return None, text

    # ---------------------------------------------------------------- Chinese
    def check_zh(self, text: str) -> str | None:
        cfg = self.config
        compact = "".join(text.split())
        n_chars = len(compact)
        if self._on("zh_min_chars") and n_chars < cfg.zh_min_chars:
            return "zh_min_chars"
        if self._on("zh_max_chars") and n_chars > cfg.zh_max_chars:
            return "zh_max_chars"
        if (
            self._on("zh_cjk_fraction")
            and len(CJK_RE.findall(compact)) / max(n_chars, 1) < cfg.zh_min_cjk_fraction
        ):
            return "zh_cjk_fraction"
        nonempty = [line.strip() for line in text.split("\n") if line.strip()]
        ends = sum(compact.count(mark) for mark in SENTENCE_ENDS)
        if (
            self._on("zh_sentence_ends")
            and ends * 100 / max(n_chars, 1) < cfg.zh_min_sentence_ends_per_100_chars
        ):
            return "zh_sentence_ends"
        if (
            self._on("zh_line_punct")
            and len(nonempty) >= 5
            and (
                sum(line.endswith(ZH_TERMINAL) for line in nonempty) / len(nonempty)
                < cfg.zh_min_line_punct_ratio
            )
        ):
            return "zh_line_punct"
        if self._on("zh_short_lines") and (
            sum(len(line) <= 10 for line in nonempty) / len(nonempty) > cfg.zh_max_short_line_ratio
        ):
            return "zh_short_lines"
        dup_count, dup_chars = _duplicates(nonempty)
        if self._on("zh_dup_line_fraction") and dup_count / len(nonempty) > cfg.zh_max_dup_line_fraction:
            return "zh_dup_line_fraction"
        if (
            self._on("zh_dup_line_char_fraction")
            and dup_chars / max(n_chars, 1) > cfg.zh_max_dup_line_char_fraction
        ):
            return "zh_dup_line_char_fraction"
        symbols = compact.count("#") + compact.count("...") + compact.count("…")
        if self._on("zh_symbol_ratio") and symbols / max(n_chars, 1) > cfg.zh_max_symbol_ratio:
            return "zh_symbol_ratio"
        chars = list(compact)
        for n, threshold in self.zh_top:
            if self._on(f"zh_top_{n}gram") and top_ngram_chars(chars, n, joiner="") / n_chars > threshold:
                return f"zh_top_{n}gram"
        for n, threshold in self.zh_dup:
            if self._on(f"zh_dup_{n}gram") and duplicate_ngram_chars(chars, n) / n_chars > threshold:
                return f"zh_dup_{n}gram"
        return None

    # ---------------------------------------------------------------- code
    def check_code(self, text: str) -> str | None:
        cfg = self.config
        lines = text.split("\n")
        if self._on("code_max_line_length") and max(len(line) for line in lines) > cfg.code_max_line_length:
            return "code_max_line_length"
        if self._on("code_mean_line_length") and sum(len(line) for line in lines) / len(lines) > (
            cfg.code_max_mean_line_length
        ):
            return "code_mean_line_length"
        if self._on("code_alnum_fraction") and sum(ch.isalnum() for ch in text) / max(len(text), 1) < (
            cfg.code_min_alnum_fraction
        ):
            return "code_alnum_fraction"
        return None


def _duplicates(elements: list[str]) -> tuple[int, int]:
    """(number of repeated elements, their characters), counting every occurrence after the first."""
    seen: set[str] = set()
    dup_count = dup_chars = 0
    for element in elements:
        if element in seen:
            dup_count += 1
            dup_chars += len(element)
        else:
            seen.add(element)
    return dup_count, dup_chars


def rule_histogram(reasons: list[str | None]) -> Counter:
    return Counter(r for r in reasons if r)
