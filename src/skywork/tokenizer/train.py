"""Train the Skywork bilingual vocabulary: Latin/code BPE + Chinese characters + Chinese words + reserved tokens.

Skywork-13B's tokenizer (report section 3.3, Table 2) is one SentencePiece BPE of 65,536 entries: 32,000 Latin
subwords, 8,000 Chinese characters, 25,519 Chinese words and 17 reserved. No trainer was published; this one:

1. reads the corpus and sends every line with a CJK ideograph to the Chinese side, every other line to the Latin side
   (lines longer than ``max_sentence_length`` bytes are split and counted, never dropped);
2. trains a SentencePiece BPE of ``reserved + latin_size`` pieces on the Latin side (byte fallback, split digits,
   identity normalisation; ``<unk>``, ``<s>``, ``</s>`` and the other reserved tokens as control symbols, which
   encoding text never produces);
3. appends the most frequent characters of the Chinese side that the Latin part lacks (CJK ideographs and the
   full-width punctuation Chinese text uses);
4. appends frequent multi-character Chinese words from jieba segmentation, and phrases of up to
   ``max_phrase_words`` adjacent jieba words, then jieba's own dictionary when the corpus is too small.
   SentencePiece BPE only produces a multi-character piece by merging two existing pieces, so a word is only
   taken with such a split (waiting for a later word, or bringing a reachable half along as a helper). Candidates
   are ranked by corpus count, then for ``selection_rounds`` rounds by their worth when the Chinese sample is
   encoded (uses, plus the worth of the words merged from them: each BPE merge saves one token per use); *joins*
   a plain BPE learns from pair counts (punctuation 。”, Latin letters inside Chinese lines, ▁ + a character,
   ideograph pieces jieba never cuts as one word) compete for the same slots by their pair counts. With
   ``dictionary_prior`` > 0, jieba's dictionary frequencies (a large general corpus), scaled to the corpus, are
   added to every candidate's worth, so words of general text are preferred to words frequent in only a few
   training sources. ``word_input_weights`` samples chosen inputs down (or out) of the text the words are chosen
   on (the full recipe: classical poetry, whose phrases modern text never uses). After building the model every
   word is encoded on its own; words that do not come out as one piece are replaced.

The result is written with the HF files (see :func:`write_tokenizer_dir`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as sp_pb2

from skywork.tokenizer.corpus import expand_inputs, iter_lines, split_long_line
from skywork.utils.config import field
from skywork.utils.io import InputError, atomic_dir, atomic_write_json
from skywork.utils.text import CJK_IDEOGRAPH_RE, has_cjk, is_cjk_ideograph

NORMAL = sp_pb2.ModelProto.SentencePiece.NORMAL
JOIN_KINDS = ("punctuation", "latin", "space", "ideograph")
CHAT_RESERVED = ("[USER]", "[BOT]", "[SEP]")
PAD_TOKEN = "<pad>"


@dataclass
class TokenizerTrainConfig:
    """The composition and corpus of a Skywork-recipe tokenizer (defaults: the full 65,536-entry recipe)."""

    inputs: list[str] = field(
        default_factory=list,
        help="Corpus: .txt/.md files (one text per file), .jsonl/.jsonl.gz (text_field), dirs, globs.",
    )
    text_field: str = field("text", help="Field holding the text in JSONL inputs.")
    latin_size: int = field(
        32000, help="Latin/code BPE pieces (incl. the 256 byte-fallback pieces and characters)."
    )
    chinese_chars: int = field(8000, help="Single Chinese characters (most frequent in the corpus first).")
    chinese_words: int = field(25519, help="Multi-character Chinese words from jieba segmentation.")
    reserved: int = field(
        17,
        help="Reserved tokens: <unk>, <s>, </s>, [USER], [BOT], [SEP], <pad>, then <reserved_N> slots (>= 7).",
    )
    min_word_count: int = field(
        2, help="A corpus word or phrase must occur at least this often to be a candidate."
    )
    max_word_length: int = field(6, help="Longest Chinese word or phrase (characters) considered.")
    max_single_word_length: int = field(
        6,
        help="Longest single jieba word (characters) considered (names such as 中华人民共和国); phrases of "
        "several words and joins stay within max_word_length.",
    )
    max_phrase_words: int = field(
        3,
        help="Candidates include runs of up to this many adjacent jieba words (phrases such as 同比 + 增长, "
        "at most max_word_length characters); 1 = single jieba words only.",
    )
    punctuation_pairs: bool = field(
        True,
        help="From round 2 of the selection, joins (two adjacent tokens of the encoded sample whose concatenation "
        "is new, of the join_kinds: 。” / SZ / ▁据 / 迪士尼) compete with the words by the same pair counts; "
        "false = all-ideograph words only.",
    )
    join_kinds: list[str] = field(
        default_factory=lambda: list(JOIN_KINDS),
        help="With punctuation_pairs, the joins that compete for the word slots by their pair counts: "
        "punctuation (。”), latin (letters inside Chinese lines: S + Z), space (▁ + 据), ideograph (pieces "
        "jieba never cuts as one word: 迪士 + 尼).",
    )
    selection_rounds: int = field(
        8,
        help="Rounds of re-ranking the words by their worth when the segmented Chinese sample is encoded "
        "(tokens saved: uses, plus the worth of the words merged from them); 1 = rank by corpus count only.",
    )
    dictionary_fill: bool = field(
        True,
        help="Fill missing characters/words from jieba's own dictionary frequencies when the corpus is small.",
    )
    dictionary_prior: float = field(
        0.15,
        help="Weight of jieba's dictionary (word frequencies of a large general corpus) added to each word's "
        "worth, its counts scaled to the corpus's jieba word count times this: a prior towards words of general "
        "text over words frequent in only a few training sources; 0 = corpus worth only.",
    )
    jieba_hmm: bool = field(False, help="Let jieba's HMM propose words not in its dictionary (slower).")
    max_latin_sentences: int = field(
        2_000_000,
        help="At most this many Latin lines are sampled for BPE training (SentencePiece input_sentence_size).",
    )
    max_chinese_chars: int = field(
        50_000_000,
        help="At most this many characters of Chinese lines are counted and segmented (first come).",
    )
    word_input_weights: dict[str, float] = field(
        default_factory=dict,
        help="Share of an input's Chinese lines that the word selection segments and ranks the words by, "
        "evenly sampled (key: the entry exactly as written in inputs; 0 = its Chinese text counts for the "
        "characters only); entries not named weigh 1. Characters are always counted on all lines.",
    )
    max_sentence_length: int = field(
        8192, help="Longest training line in UTF-8 bytes; longer lines are split (and counted), not skipped."
    )
    character_coverage: float = field(0.9995, help="Share of Latin-side characters that get their own piece.")
    num_threads: int = field(2, help="SentencePiece training threads.")
    seed: int = field(0, help="Seed of SentencePiece's sentence sampling.")

    @property
    def vocab_size(self) -> int:
        return self.latin_size + self.chinese_chars + self.chinese_words + self.reserved

    def reserved_tokens(self) -> list[str]:
        """All reserved pieces in id order: ``<unk>``=0, ``<s>``=1, ``</s>``=2, then chat markers, pad, slots."""
        head = ["<unk>", "<s>", "</s>", *CHAT_RESERVED, PAD_TOKEN]
        return head + [f"<reserved_{i}>" for i in range(self.reserved - len(head))]

    def validate(self) -> None:
        if self.reserved < 7:
            raise InputError(
                "need at least 7 (<unk>, <s>, </s>, [USER], [BOT], [SEP], <pad>)", field="reserved"
            )
        if self.latin_size < 300:
            raise InputError("must exceed the 256 byte pieces plus the alphabet (>= 300)", field="latin_size")
        for name in ("chinese_chars", "chinese_words"):
            if getattr(self, name) < 0:
                raise InputError("must be >= 0", field=name)
        unknown = sorted(set(self.join_kinds) - set(JOIN_KINDS))
        if unknown:
            raise InputError(
                f"unknown join kinds {unknown} (expected some of {JOIN_KINDS})", field="join_kinds"
            )
        for entry, weight in self.word_input_weights.items():
            if entry not in self.inputs:
                raise InputError(f"{entry!r} is not an entry of inputs", field="word_input_weights")
            if not isinstance(weight, int | float) or not 0 <= weight <= 1:
                raise InputError(
                    f"weight of {entry!r} must be in [0, 1], got {weight!r}", field="word_input_weights"
                )
        for name in ("max_phrase_words", "selection_rounds"):
            if getattr(self, name) < 1:
                raise InputError("must be >= 1", field=name)
        if self.chinese_words and not self.chinese_chars:
            raise InputError(
                "Chinese words need Chinese characters (chinese_chars > 0)", field="chinese_words"
            )
        if not self.inputs:
            raise InputError("no corpus given", field="inputs")


def load_train_config(path: str | Path) -> TokenizerTrainConfig:
    from skywork.utils.config import load_config

    return load_config(TokenizerTrainConfig, path)


# ----------------------------------------------------------------------------------------------- corpus pass
@dataclass
class CorpusStats:
    latin_lines: int = 0
    latin_chars: int = 0
    chinese_lines: int = 0
    chinese_chars_read: int = 0
    chinese_chars_segmented: int = 0
    long_lines_split: int = 0
    # Chinese characters of each entry of ``inputs``: read, and kept for the word selection (word_input_weights)
    chinese_by_input: dict = dataclasses.field(default_factory=dict)


def _collect(
    config: TokenizerTrainConfig, latin_file: Path
) -> tuple[list[str], CorpusStats, list[tuple[str, int]]]:
    """Write the Latin lines to ``latin_file`` (long ones split); return the Chinese lines, the stats and, for
    each entry of ``inputs`` in order, how many of the Chinese lines (consecutive) came from it."""
    stats = CorpusStats()
    chinese: list[str] = []
    files = expand_inputs(config.inputs)
    # A file named by several entries belongs to the first (it is read once).
    entry_of: dict[Path, str] = {}
    for entry in config.inputs:
        for path in expand_inputs([entry]):
            entry_of.setdefault(path, entry)
    per_entry: dict[str, int] = dict.fromkeys(config.inputs, 0)
    with latin_file.open("w", encoding="utf-8") as out:
        for path in files:
            for line in iter_lines([path], config.text_field):
                if has_cjk(line, pattern=CJK_IDEOGRAPH_RE):
                    stats.chinese_lines += 1
                    stats.chinese_chars_read += len(line)
                    per_entry[entry_of[path]] += 1
                    chinese.append(line)
                    continue
                _write_latin(line, config, out, stats)
    return chinese, stats, list(per_entry.items())


def _write_latin(line: str, config: TokenizerTrainConfig, out, stats: CorpusStats) -> None:
    pieces = split_long_line(line, config.max_sentence_length)
    if len(pieces) > 1:
        stats.long_lines_split += 1
    for piece in pieces:
        out.write(piece + "\n")
    stats.latin_lines += len(pieces)
    stats.latin_chars += len(line)


def _weighted_sample(
    lines: list[str], per_entry: list[tuple[str, int]], weights: dict[str, float]
) -> tuple[list[str], dict[str, dict]]:
    """``lines`` with each entry's (consecutive) lines evenly sampled to its weight (1 when not named), and, per
    entry with Chinese text, its characters read and kept."""
    kept: list[str] = []
    report: dict[str, dict] = {}
    start = 0
    for entry, count in per_entry:
        block = lines[start : start + count]
        start += count
        weight = weights.get(entry, 1.0)
        if weight < 1:  # every line where (i + 1) * weight crosses an integer: evenly spaced
            block_kept = [
                line for i, line in enumerate(block) if math.floor((i + 1) * weight) > math.floor(i * weight)
            ]
        else:
            block_kept = block
        kept += block_kept
        if block:
            report[entry] = {
                "chars": sum(map(len, block)),
                "weight": weight,
                "kept_chars": sum(map(len, block_kept)),
            }
    return kept, report


def _even_sample(lines: list[str], max_chars: int) -> list[str]:
    """Evenly spaced lines totalling about ``max_chars`` (all of them when they fit)."""
    total = sum(len(line) for line in lines)
    if total <= max_chars:
        return lines
    return lines[:: math.ceil(total / max_chars)]


# ------------------------------------------------------------------------------------------- latin BPE
# SentencePiece options of the LLaMA / Skywork recipe: byte fallback, split digits, identity normalisation
# (lossless), <unk>=0 <s>=1 </s>=2 and no pad piece. Tests' tiny tokenizers use the same options.
LLAMA_BPE_ARGS = dict(
    model_type="bpe",
    byte_fallback=True,
    split_digits=True,
    normalization_rule_name="identity",
    add_dummy_prefix=True,
    remove_extra_whitespaces=False,
    allow_whitespace_only_pieces=True,
    unk_id=0,
    bos_id=1,
    eos_id=2,
    pad_id=-1,
)


def _sentencepiece_args(config: TokenizerTrainConfig, vocab_size: int) -> dict:
    """The LLaMA recipe with identity normalisation (lossless) and our reserved tokens as control symbols."""
    return dict(
        LLAMA_BPE_ARGS,
        vocab_size=vocab_size,
        character_coverage=config.character_coverage,
        control_symbols=config.reserved_tokens()[3:],
        input_sentence_size=config.max_latin_sentences,
        shuffle_input_sentence=True,
        max_sentence_length=config.max_sentence_length,
        num_threads=config.num_threads,
        minloglevel=2,
    )


def train_sentencepiece_bpe(
    corpus_file: Path, config: TokenizerTrainConfig, vocab_size: int
) -> sp_pb2.ModelProto:
    """Train a SentencePiece BPE of exactly ``vocab_size`` pieces on ``corpus_file``."""
    spm.set_random_generator_seed(config.seed)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = Path(tmp) / "bpe"
        try:
            spm.SentencePieceTrainer.train(
                input=str(corpus_file), model_prefix=str(prefix), **_sentencepiece_args(config, vocab_size)
            )
        except RuntimeError as err:
            raise InputError(
                f"SentencePiece could not train {vocab_size} pieces: {err}", field="latin_size"
            ) from None
        proto = sp_pb2.ModelProto()
        proto.ParseFromString((prefix.with_suffix(".model")).read_bytes())
    if len(proto.pieces) != vocab_size:
        raise InputError(
            f"corpus too small: SentencePiece produced {len(proto.pieces)} pieces, {vocab_size} asked",
            field="latin_size",
        )
    return proto


# ------------------------------------------------------------------------------------- Chinese candidates
def _jieba_dictionary() -> list[tuple[str, int]]:
    """(word, frequency) of jieba's bundled dictionary."""
    import jieba

    path = Path(jieba.__file__).parent / "dict.txt"
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split(" ")
        if len(parts) >= 2 and parts[1].isdigit():
            entries.append((parts[0], int(parts[1])))
    return entries


def _is_chinese_side_char(ch: str) -> bool:
    """Characters the Chinese part may hold: ideographs and non-ASCII, non-space symbols (full-width punctuation)."""
    return ord(ch) > 0x7F and not ch.isspace()


def select_chinese_chars(
    lines: list[str], count: int, existing: set[str], dictionary_fill: bool
) -> tuple[list[str], dict]:
    """The ``count`` most frequent Chinese-side characters not yet in the vocabulary."""
    counts = Counter(ch for line in lines for ch in line if _is_chinese_side_char(ch))
    ranked = [ch for ch, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if ch not in existing]
    chosen = ranked[:count]
    from_dictionary = 0
    if len(chosen) < count and dictionary_fill:
        weights: Counter = Counter()
        for word, freq in _jieba_dictionary():
            for ch in word:
                if is_cjk_ideograph(ch):
                    weights[ch] += freq
        have = set(chosen) | existing
        extra = [ch for ch, _ in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])) if ch not in have]
        from_dictionary = min(len(extra), count - len(chosen))
        chosen += extra[:from_dictionary]
    if len(chosen) < count:
        raise InputError(
            f"only {len(chosen)} distinct Chinese characters available, {count} asked"
            + ("" if dictionary_fill else " (dictionary_fill is off)"),
            field="chinese_chars",
        )
    total = sum(counts.values())
    covered = sum(counts[ch] for ch in set(chosen) | existing if ch in counts)
    return chosen, {
        "from_corpus": len(chosen) - from_dictionary,
        "from_dictionary": from_dictionary,
        "distinct_in_corpus": len(counts),
        "corpus_coverage": covered / total if total else 0.0,
    }


def count_corpus_words(
    lines: list[str], max_len: int, hmm: bool, max_phrase_words: int = 1, max_word_len: int | None = None
) -> tuple[Counter, Counter]:
    """Word and phrase counts of jieba's segmentation of ``lines``.

    Words: multi-character, all-ideograph jieba words of at most ``max_len`` characters. Phrases: runs of 2 to
    ``max_phrase_words`` adjacent all-ideograph jieba words (single characters included, e.g. 的 + 一个) of at most
    ``max_len`` characters; a plain BPE learns such cross-word pieces from pair counts, so they are candidates too.
    Single words may be longer, up to ``max_word_len`` (default ``max_len``).
    """
    import logging

    import jieba

    from skywork.utils.progress import track

    jieba.setLogLevel(logging.WARNING)
    words: Counter = Counter()
    phrases: Counter = Counter()
    longest_word = max(max_len, max_word_len or max_len)
    # Segmentation is the slow part of training (~170k characters/s), so it shows progress.
    for line in track(lines, "jieba", unit="lines"):
        run: list[str] = []  # the current run of adjacent all-ideograph jieba words
        for word in [*jieba.cut(line, HMM=hmm), ""]:
            if word and all(is_cjk_ideograph(ch) for ch in word):
                if 2 <= len(word) <= longest_word:
                    words[word] += 1
                run.append(word)
                for n in range(2, min(max_phrase_words, len(run)) + 1):
                    phrase = "".join(run[-n:])
                    if len(phrase) > max_len:
                        break
                    phrases[phrase] += 1
            else:
                run = []
    return words, phrases


def _reachable(word: str, pieces: set[str]) -> bool:
    """BPE can only build ``word`` by merging two existing pieces."""
    return any(word[:cut] in pieces and word[cut:] in pieces for cut in range(1, len(word)))


def _helper_half(word: str, pieces: set[str]) -> str | None:
    """The shortest missing half of ``word`` that BPE can reach now and that makes ``word`` reachable."""
    best = None
    for cut in range(1, len(word)):
        for have, need in ((word[:cut], word[cut:]), (word[cut:], word[:cut])):
            if have in pieces and need not in pieces and len(need) >= 2 and _reachable(need, pieces):
                if best is None or len(need) < len(best):
                    best = need
    return best


def _take_reachable(ranked: list[str], count: int, pieces: set[str]) -> tuple[list[str], dict[str, str]]:
    """The first ``count`` words of ``ranked`` that BPE can reach, in rank order, and the helpers added
    (helper -> the word it completes).

    SentencePiece BPE builds a word only by merging two pieces, so a plain BPE keeps the intermediate pieces of its
    long pieces. A word without a split into two pieces (e.g. 亚运会 when neither 亚运 nor 运会 is chosen) takes a
    reachable half with it as a helper (two slots); a word with no such half waits until a later word completes
    a split. Helpers are substrings of corpus words, and the use rounds measure them like any other word.
    """
    pieces = set(pieces)
    chosen: list[str] = []
    helpers: dict[str, str] = {}
    position: dict[str, float] = {}
    waiting: dict[str, list[tuple[int, str]]] = {}  # missing half -> (rank, word) waiting for it

    def take(word: str, rank: float) -> None:
        unlocked = [(rank, word)]
        while unlocked and len(chosen) < count:
            rank, new = unlocked.pop()
            if new in pieces:
                continue
            chosen.append(new)
            pieces.add(new)
            position[new] = rank
            unlocked += [(r, w) for r, w in waiting.pop(new, ()) if w not in pieces and _reachable(w, pieces)]

    for rank, word in enumerate(ranked):
        if len(chosen) >= count:
            break
        if word in pieces:
            continue
        if not _reachable(word, pieces):
            helper = _helper_half(word, pieces)
            if helper is None or len(chosen) + 2 > count:
                for cut in range(1, len(word)):
                    waiting.setdefault(word[:cut], []).append((rank, word))
                    waiting.setdefault(word[cut:], []).append((rank, word))
                continue
            helpers[helper] = word
            take(helper, rank - 0.5)
        take(word, rank)
    return sorted(chosen, key=position.__getitem__), helpers


def _kind_of_join(word: str) -> str:
    """The :func:`join_kind` of a chosen join, from its text alone."""
    if word.startswith("▁"):
        return "space"
    if all(is_cjk_ideograph(ch) for ch in word):
        return "ideograph"
    return "latin" if word.isascii() and word.isalpha() else "punctuation"


def _encodes_as_itself(proto: sp_pb2.ModelProto, words: list[str]) -> list[bool]:
    """Whether each word comes out as one piece. Words occur inside text, after a character, never after the
    dummy-prefix "▁" an encoding starts with ("▁%" is a Latin piece and would take "%。" apart there; "▁据", a
    space join, would take 据悉 apart), so they are checked without the dummy prefix (a space join's ``▁``
    written as the space it stands for)."""
    no_prefix = sp_pb2.ModelProto()
    no_prefix.CopyFrom(proto)
    no_prefix.normalizer_spec.add_dummy_prefix = False
    sp = _processor(no_prefix)
    texts = [w.replace("▁", " ") for w in words]
    return [pieces == [word] for word, pieces in zip(words, sp.encode(texts, out_type=str), strict=True)]


# -------------------------------------------------------------------------------------------- assembly
def _append_pieces(base: sp_pb2.ModelProto, pieces: list[str], first_score: float) -> sp_pb2.ModelProto:
    proto = sp_pb2.ModelProto()
    proto.CopyFrom(base)
    for rank, piece in enumerate(pieces):
        entry = proto.pieces.add()
        entry.piece = piece
        entry.score = first_score - rank
        entry.type = NORMAL
    proto.trainer_spec.vocab_size = len(proto.pieces)
    return proto


def _processor(proto: sp_pb2.ModelProto) -> spm.SentencePieceProcessor:
    return spm.SentencePieceProcessor(model_proto=proto.SerializeToString())


def select_chinese_words(
    base: sp_pb2.ModelProto,
    corpus_counts: Counter,
    count: int,
    config: TokenizerTrainConfig,
    usage_lines: list[str] = (),
    phrase_counts: Counter | None = None,
    max_repair_rounds: int = 8,
) -> tuple[list[str], dict]:
    """Pick ``count`` words (and phrases), each reachable by a BPE merge and verified to encode as one piece.

    Round 1 ranks the corpus candidates by count. Each later round (up to ``config.selection_rounds``) re-ranks the
    words chosen so far by their worth when ``usage_lines`` are encoded (see :func:`_worth`): every use of a BPE
    merge saves exactly one token, while a raw count overstates words whose text a competing merge takes. The
    other candidates are ranked by how often they are two adjacent tokens of that encoding (or keep their raw
    count when they are not), so they replace words worth less. Words that do not encode alone as one piece are
    dropped until none remain.
    """
    existing = {p.piece for p in base.pieces}
    phrase_counts = phrase_counts or Counter()
    words_and_phrases = corpus_counts + phrase_counts
    score = {
        w: c
        for w, c in words_and_phrases.items()
        if c >= config.min_word_count and w not in existing and all(ch in existing for ch in w)
    }
    corpus_candidates = set(score)
    dictionary: list[str] = []
    if config.dictionary_fill:
        dictionary = [
            w
            for w, _ in sorted(_jieba_dictionary(), key=lambda kv: (-kv[1], kv[0]))
            if 2 <= len(w) <= config.max_word_length
            and w not in score
            and w not in existing
            and all(is_cjk_ideograph(ch) and ch in existing for ch in w)
        ]

    prior = _dictionary_prior(config, existing, sum(words_and_phrases.values()))
    for word in prior:
        score.setdefault(word, 0)  # a candidate: its pair counts are measured like a corpus word's

    def total(word: str) -> float:
        return score[word] + prior.get(word, 0.0)

    first_score = min(p.score for p in base.pieces) - 1
    dropped: set[str] = set()  # words that did not encode alone as one piece
    first_choice: set[str] = set()
    helpers: dict[str, str] = {}  # half taken to make a word reachable -> that word
    joins: set[str] = set()  # punctuation joins found as adjacent token pairs
    rounds = 0
    while True:
        rounds += 1
        ranked = sorted((w for w in score if w not in dropped), key=lambda w: (-total(w), w))
        # Dictionary words rank below every corpus word in use and above the corpus words never used.
        used = [w for w in ranked if total(w) > 0]
        ranked = used + [w for w in dictionary if w not in dropped] + ranked[len(used) :]
        chosen, new_helpers = _take_reachable(ranked, count, existing)
        helpers.update((h, w) for h, w in new_helpers.items() if h not in helpers)
        if len(chosen) < count:
            raise InputError(
                f"only {len(chosen)} usable Chinese words found, {count} asked"
                + ("" if config.dictionary_fill else " (dictionary_fill is off)"),
                field="chinese_words",
            )
        if rounds == 1:
            first_choice = set(chosen)
        proto = _append_pieces(base, chosen, first_score)
        sp = _processor(proto)
        failed = [w for w, ok in zip(chosen, _encodes_as_itself(proto, chosen), strict=True) if not ok]
        dropped.update(failed)
        selecting = rounds < config.selection_rounds and usage_lines
        if (not failed and not selecting) or rounds >= config.selection_rounds + max_repair_rounds:
            break
        if selecting:
            worth, pair_counts = _worth(
                sp,
                chosen,
                usage_lines,
                score,
                config.max_word_length if config.punctuation_pairs else 0,
                config.join_kinds,
            )
            for word, pairs in pair_counts.items():  # what merging two adjacent tokens into it would save now
                if word not in score:  # a join seen as a pair for the first time
                    if pairs < config.min_word_count:
                        continue
                    joins.add(word)
                score[word] = pairs
            for word in chosen:
                if word in score or word in helpers:
                    score[word] = worth[word]

    def from_corpus(word: str) -> bool:
        return word in corpus_candidates or word in joins or (word in helpers and from_corpus(helpers[word]))

    def is_join(word: str) -> bool:  # a join, or the helper half a join brought along
        return word in joins or (word in helpers and is_join(helpers[word]))

    n_from_corpus = sum(map(from_corpus, chosen))
    return chosen, {
        "from_corpus": n_from_corpus,
        "from_dictionary": count - n_from_corpus,
        "helpers": sum(w in helpers and w not in corpus_candidates for w in chosen),
        "phrases": sum(w in phrase_counts and w not in corpus_counts for w in chosen),
        "punctuation_joins": sum(is_join(w) and is_punctuation_join(w) for w in chosen),
        "joins": dict(sorted(Counter(_kind_of_join(w) for w in chosen if is_join(w)).items())),
        "corpus_candidates": len(corpus_candidates),
        "replaced_not_produced": len(dropped) - len(failed),
        "replaced_by_use": len(first_choice - set(chosen) - dropped),
        "not_produced_alone": len(failed),
        "rounds": rounds,
    }


def _dictionary_prior(config: TokenizerTrainConfig, existing: set[str], corpus_mass: int) -> dict[str, float]:
    """jieba's dictionary frequencies scaled to ``corpus_mass`` (the corpus's count of candidate uses) times
    ``config.dictionary_prior``, for the words the vocabulary could hold (empty when the weight is 0)."""
    if config.dictionary_prior <= 0 or not corpus_mass:
        return {}
    entries = [
        (w, f)
        for w, f in _jieba_dictionary()
        if 2 <= len(w) <= max(config.max_word_length, config.max_single_word_length)
        and w not in existing
        and all(is_cjk_ideograph(ch) and ch in existing for ch in w)
    ]
    mass = sum(f for _, f in entries)
    scale = config.dictionary_prior * corpus_mass / mass if mass else 0.0
    return {w: f * scale for w, f in entries if f * scale > 0}


def _normal_piece_scores(sp: spm.SentencePieceProcessor) -> dict[str, float]:
    """Score of every normal piece (the ones BPE merges may produce)."""
    return {
        sp.id_to_piece(i): sp.get_score(i)
        for i in range(sp.get_piece_size())
        if not (sp.is_control(i) or sp.is_byte(i) or sp.is_unknown(i) or sp.is_unused(i))
    }


def _last_merge(word: str, scores: dict[str, float]) -> tuple[str, str] | None:
    """The two pieces SentencePiece BPE merges last when it builds ``word`` (highest-scoring pair first)."""
    symbols = list(word)
    while len(symbols) > 1:
        best, best_score = -1, -math.inf
        for i in range(len(symbols) - 1):
            score = scores.get(symbols[i] + symbols[i + 1])
            if score is not None and score > best_score:
                best, best_score = i, score
        if best < 0:
            return None
        if len(symbols) == 2:
            return symbols[0], symbols[1]
        symbols[best : best + 2] = [symbols[best] + symbols[best + 1]]
    return None


def is_punctuation_join(text: str) -> bool:
    """Two or more punctuation marks or symbols, one of them non-ASCII (。” ”， %。 》《): no letter, digit,
    ideograph (all ``isalnum``), space or ``▁``. Chinese text is full of them; the words never hold them."""
    return (
        len(text) >= 2
        and any(ord(ch) > 0x7F for ch in text)
        and not any(ch.isalnum() or ch.isspace() or ch == "▁" for ch in text)
    )


def _join_side(piece: str) -> str | None:
    """What a piece can take part in as one half of a join: ``"punctuation"`` (no letter, digit, ideograph or
    space), ``"latin"`` (ASCII letters only), ``"ideograph"`` (ideographs only), ``"space"`` (the lone space
    marker ``▁``), else None (digits stay single: the recipe splits them)."""
    if piece == "▁":
        return "space"
    if not any(ch.isalnum() or ch.isspace() or ch == "▁" for ch in piece):
        return "punctuation"
    if piece.isascii() and piece.isalpha():
        return "latin"
    if all(is_cjk_ideograph(ch) for ch in piece):
        return "ideograph"
    return None


def join_kind(left: str, right: str) -> str | None:
    """The kind of the piece ``left + right`` a Chinese-word slot may take, or None. Joins are what a plain
    BPE learns from the pair counts of Chinese text and the composition misses: punctuation (。” / ”，), Latin
    letters inside Chinese lines (the Latin part never sees them: S + Z of 000001.SZ), the space marker before a
    Chinese character or punctuation (▁ + 据), and ideograph pieces that jieba never segments as one word or
    phrase (迪士 + 尼). A join stays within one script, as SentencePiece training keeps its pieces."""
    sides = _join_side(left), _join_side(right)
    if sides == ("punctuation", "punctuation"):
        return "punctuation" if is_punctuation_join(left + right) else None
    if sides == ("latin", "latin"):
        return "latin"
    if sides[0] == "space" and (
        sides[1] == "ideograph" or (sides[1] == "punctuation" and any(ord(ch) > 0x7F for ch in right))
    ):
        return "space"
    if sides == ("ideograph", "ideograph"):
        return "ideograph"
    return None


def _worth(
    sp: spm.SentencePieceProcessor,
    words: list[str],
    lines: list[str],
    candidates: dict | set,
    join_max_len: int = 0,
    join_kinds: tuple[str, ...] | list[str] = JOIN_KINDS,
) -> tuple[Counter, Counter]:
    """Tokens each word saves on ``lines``, and how often each candidate is two adjacent tokens there.

    Every use of a BPE merge saves one token. A piece that is mostly an intermediate step (人工 inside 人工智能)
    is seldom output itself, yet removing it would make the longer words unreachable, so it inherits their worth.
    A candidate's adjacent-pair count is what adding it would save (the count a BPE trainer merges by); it is
    lower than its raw count when the current words take part of its text. With ``join_max_len`` > 0 the
    pair counts also hold every adjacent pair of pieces that makes a new join (:func:`join_kind`, one of
    ``join_kinds``) of at most that many characters (how a plain BPE learns "。”").
    """
    scores = _normal_piece_scores(sp)
    piece_id = {piece: sp.piece_to_id(piece) for piece in scores}
    joinable = {piece_id[p]: p for p in scores if _join_side(p)} if join_max_len else {}
    allowed = set(join_kinds)
    by_pair = {}  # (left id, right id) -> the candidate they spell
    for word in candidates:
        for cut in range(1, len(word)):
            left, right = piece_id.get(word[:cut]), piece_id.get(word[cut:])
            if left is not None and right is not None:
                by_pair[left, right] = word
    flat: list[int] = []
    dummy_prefix = piece_id.get("▁")
    for encoded in sp.encode(list(lines)):
        # Each training line starts with SentencePiece's dummy-prefix "▁"; held-out text comes as documents, where
        # that start is rare, so it is not counted (else "▁" + the first character of a line would win slots).
        flat += encoded[1:] if encoded[:1] == [dummy_prefix] else encoded
        flat.append(-1)  # no pair across lines
    uses = Counter(flat)
    pair_counts: Counter = Counter()
    for pair, n in Counter(zip(flat, flat[1:], strict=False)).items():
        if pair in by_pair:
            pair_counts[by_pair[pair]] += n
        elif pair[0] in joinable and pair[1] in joinable:
            left, right = joinable[pair[0]], joinable[pair[1]]
            joined = left + right
            if (
                len(joined) <= join_max_len
                and joined not in piece_id
                and joined not in candidates
                and join_kind(left, right) in allowed
            ):
                pair_counts[joined] += n
    worth = Counter({w: uses[piece_id[w]] for w in words})
    for word in sorted(words, key=len, reverse=True):  # a word's worth is final before its halves inherit it
        for half in _last_merge(word, scores) or ():
            if half in worth:
                worth[half] += worth[word]
    return worth, pair_counts


def _used_ids(sp: spm.SentencePieceProcessor, lines: list[str]) -> set[int]:
    seen: set[int] = set()
    for encoded in sp.encode(lines):
        seen.update(encoded)
    return seen


def _pieces_used_share(sp: spm.SentencePieceProcessor, lines: list[str], words: list[str]) -> float:
    """Share of the added words that appear at least once when encoding (an even sample of) the Chinese lines."""
    if not words:
        return 0.0
    ids = {sp.piece_to_id(w) for w in words}
    return len(ids & _used_ids(sp, _even_sample(lines, 5_000_000))) / len(ids)


# -------------------------------------------------------------------------------------------- main entry
def build_model(config: TokenizerTrainConfig, progress=print) -> tuple[sp_pb2.ModelProto, dict, list[str]]:
    """Train and assemble the SentencePiece model; returns it, the training report and sample lines."""
    config.validate()
    timings: dict[str, float] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        latin_file = Path(tmp) / "latin.txt"
        chinese_lines, stats, per_entry = _collect(config, latin_file)
        timings["read_corpus_s"] = time.perf_counter() - start
        if stats.latin_lines == 0 and stats.chinese_lines == 0:
            raise InputError(
                "the corpus is empty (no non-blank line)", ", ".join(config.inputs), field="inputs"
            )
        if stats.latin_lines == 0:
            raise InputError("the corpus has no non-Chinese text to train the Latin BPE on", field="inputs")
        if (config.chinese_chars or config.chinese_words) and not chinese_lines:
            raise InputError(
                f"the config asks for {config.chinese_chars} Chinese characters and {config.chinese_words} "
                "Chinese words but the corpus has no Chinese text",
                ", ".join(config.inputs),
                field="chinese_words" if config.chinese_words else "chinese_chars",
            )
        progress(f"corpus: {stats.latin_lines:,} Latin/code lines, {stats.chinese_lines:,} Chinese lines")
        t0 = time.perf_counter()
        base = train_sentencepiece_bpe(latin_file, config, config.reserved + config.latin_size)
        timings["latin_bpe_s"] = time.perf_counter() - t0
        sample = _sample_lines(latin_file, 5000) + chinese_lines[:: max(1, len(chinese_lines) // 5000)]

    t0 = time.perf_counter()
    latin_pieces = {p.piece for p in base.pieces}
    chars, char_info = select_chinese_chars(
        chinese_lines, config.chinese_chars, latin_pieces, config.dictionary_fill
    )
    with_chars = _append_pieces(base, chars, min(p.score for p in base.pieces) - 1)
    timings["chinese_chars_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    words: list[str] = []
    word_info: dict = {"from_corpus": 0, "from_dictionary": 0}
    if config.chinese_words:
        weighted, stats.chinese_by_input = _weighted_sample(
            chinese_lines, per_entry, config.word_input_weights
        )
        to_segment = _even_sample(weighted, config.max_chinese_chars)
        stats.chinese_chars_segmented = sum(len(line) for line in to_segment)
        progress(f"segmenting {stats.chinese_chars_segmented:,} characters of Chinese with jieba")
        counts, phrases = count_corpus_words(
            to_segment,
            config.max_word_length,
            config.jieba_hmm,
            config.max_phrase_words,
            config.max_single_word_length,
        )
        timings["jieba_s"] = time.perf_counter() - t0
        words, word_info = select_chinese_words(
            with_chars, counts, config.chinese_words, config, to_segment, phrases
        )
    proto = _append_pieces(with_chars, words, min(p.score for p in with_chars.pieces) - 1)
    timings["chinese_words_s"] = time.perf_counter() - t0
    if len(proto.pieces) != config.vocab_size:  # pragma: no cover - guarded by the selections above
        raise RuntimeError(f"assembled {len(proto.pieces)} pieces, expected {config.vocab_size}")
    sp = _processor(proto)
    word_info["used_in_corpus_share"] = _pieces_used_share(sp, chinese_lines, words)
    timings["total_s"] = time.perf_counter() - start

    report = {
        "vocab_size": len(proto.pieces),
        "composition": {
            "latin": config.latin_size,
            "chinese_chars": len(chars),
            "chinese_words": len(words),
            "reserved": config.reserved,
        },
        "chinese_chars": char_info,
        "chinese_words": word_info,
        "corpus": dataclasses.asdict(stats),
        "timings": timings,
        "reserved_tokens": config.reserved_tokens(),
    }
    return proto, report, sample


def _sample_lines(path: Path, count: int) -> list[str]:
    """Evenly spaced lines of a text file (for checking the fast tokenizer against SentencePiece)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[:: max(1, len(lines) // count)]


def train_tokenizer(
    config: TokenizerTrainConfig | dict,
    out_dir: str | Path,
    progress=print,
    compression_files: dict[str, str] | None = None,
) -> dict:
    """Train the tokenizer and write ``out_dir`` (SentencePiece model + HF files); returns the report.

    ``config`` may be a plain dict of the YAML keys (checked like the YAML). The report holds ``vocab_size``,
    ``composition`` (the four part sizes), where the Chinese characters and words came from, corpus counts (lines,
    long lines split), timings and the ``fast_tokenizer`` check. ``out_dir/summary.json`` (kind ``tokenizer``,
    keys in docs/tokenizer.md) holds it too, with the compression measured on ``compression_files`` (domain ->
    JSONL file, e.g. the held-out validation sets).
    """
    from skywork.tokenizer.compression import measure_compression
    from skywork.tokenizer.export import write_tokenizer_dir
    from skywork.utils.config import from_dict
    from skywork.utils.summary import write_summary

    if isinstance(config, dict):
        config = from_dict(TokenizerTrainConfig, config)

    proto, report, sample = build_model(config, progress=progress)
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        report["fast_tokenizer"] = write_tokenizer_dir(proto, tmp, config.reserved_tokens(), sample)
        (tmp / "train_config.json").write_text(
            json.dumps(dataclasses.asdict(config), indent=2, ensure_ascii=False)
        )
        atomic_write_json(tmp / "train_report.json", report)
    summary = {
        "vocab_size": report["vocab_size"],
        "composition": report["composition"],
        "compression": measure_compression(out_dir, compression_files) if compression_files else None,
        "training": report,
    }
    write_summary(out_dir, "tokenizer", summary)
    return report
