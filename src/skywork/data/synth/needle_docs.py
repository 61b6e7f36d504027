"""Needle-style retrieval samples for training: random keys and values hidden in a haystack, then asked for.

Why: a model small enough for this machine does not learn to read a fact back from its context from web text
alone (the induction circuit that copies a value does not form in a few hundred thousand tokens), so the needle
test would say nothing about context extension. As passkey-retrieval works do, the training data holds
generated retrieval documents: the evaluation's format (``skywork.eval.needle``: ``The special magic number for
KEY is VALUE.`` somewhere in a haystack, then ``Question: ... Answer: The special magic number for KEY is``)
with values from their own random stream and a haystack of the caller's choosing, which must not be the
evaluation's (the bench uses Gutenberg novels for training, Paul Graham's essays for the test).

Two shapes:

- :func:`needle_token_documents`: pretraining documents of **exactly** ``length`` tokens (BOS ... EOS), the
  prompt at a random length up to what fits, the answer, then more haystack. A stream of such documents packed at
  ``seq_len == length`` gives one whole document per row, so the needle and its question are never cut apart
  (documents that straddle two rows would teach the model to guess).
- :func:`needle_sft_rows`: SFT rows (alpaca ``instruction`` / ``output``) whose instruction is the needle prompt
  of a target length and whose output is the value: the long-SFT mix at the long length, for the ``raw``
  template, which encodes exactly the evaluation's prompt followed by the answer.
"""

from __future__ import annotations

import numpy as np

from skywork.eval.needle import KEYS, NeedleBuilder


class _Sampler:
    """Needle cells over rotating stretches of one haystack, values from ``(seed, "needle-train")``."""

    def __init__(self, tokenizer, haystack: str, seed: int, needles: tuple[int, int]):
        self.builder = NeedleBuilder(tokenizer, haystack, seed=seed)
        self.hay = self.builder.hay
        self.rng = np.random.default_rng([seed, 0x6E656564])  # never the evaluation's (seed, length, depth)
        self.needles = needles
        # tokens of the longest needle sentences and question: the prompt needs this plus some haystack
        needle = len(self.builder.encode(" The special magic number for Amsterdam is 1234567."))
        question = len(
            self.builder.encode("\n\nQuestion: What is the special magic number for Amsterdam?\nAnswer:")
        )
        self.overhead = 1 + needles[1] * (needle + question + 12)

    def window(self, tokens: int) -> list[int]:
        """``tokens`` haystack tokens from a random point (wrapping around)."""
        start = int(self.rng.integers(len(self.hay)))
        out = self.hay[start : start + tokens]
        while len(out) < tokens:
            out += self.hay[: tokens - len(out)]
        return out

    def cell(self, prompt_tokens: int):
        """A cell of ``prompt_tokens`` tokens: 1..k needles of distinct keys, the question for one of them."""
        self.builder.hay = self.window(prompt_tokens)
        count = int(self.rng.integers(self.needles[0], self.needles[1] + 1))
        # NeedleBuilder draws keys and values from (seed, length, index): vary the index per sample
        cell = self.builder.cell(
            prompt_tokens, float(self.rng.uniform(0, 100)), count, int(self.rng.integers(2**31))
        )
        asked = int(self.rng.integers(count))
        return cell, asked


def _after(encode, prefix: str, text: str) -> list[int]:
    """The tokens ``text`` adds after ``prefix`` (``text`` starts with it)."""
    head, whole = encode(prefix), encode(text)
    if whole[: len(head)] != head:
        raise ValueError(f"needle documents: {text!r} does not tokenize as {prefix!r} + the rest")
    return whole[len(head) :]


def needle_token_documents(
    tokenizer,
    haystack: str,
    count: int,
    length: int,
    *,
    seed: int = 0,
    min_prompt: float = 0.5,
    needles: tuple[int, int] = (1, 1),
) -> list[np.ndarray]:
    """``count`` documents of exactly ``length`` tokens: the needle context, every needle asked and answered
    (``Question ... is`` `` VALUE.`` newline, in a random order), more haystack, EOS.

    The context plus the first question takes ``min_prompt`` x ``length`` tokens up to all that fits, drawn per
    document; ``needles`` is the range of needles per document, each of its own key. Asking every needle gives
    several copies to learn from per document (and the first question follows the context as in the test).
    """
    sampler = _Sampler(tokenizer, haystack, seed, needles)
    encode = sampler.builder.encode
    newline = _after(encode, "a", "a\n")  # the newline token alone (SentencePiece adds a space before a text)
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    docs = []
    for _ in range(count):
        high = length - len(eos) - 12 - len(newline)
        low = min(high, max(sampler.overhead + 16, int(min_prompt * length)))
        prompt_tokens = int(sampler.rng.integers(low, high + 1))
        while True:
            cell, _ = sampler.cell(prompt_tokens)
            order = sampler.rng.permutation(len(cell.keys)).tolist()
            tokens = list(cell.context)
            for i in order:
                tokens += cell.questions[i] + _after(encode, "is", f"is {cell.values[i]}.") + newline
            over = len(tokens) + len(eos) - length
            if over <= 0:
                break
            if prompt_tokens - over < sampler.overhead // 2:
                raise ValueError(
                    f"needle documents: length {length} is too short for {len(cell.keys)} needles"
                )
            prompt_tokens -= over
        docs.append(np.asarray(tokens + sampler.window(-over) + eos, dtype=np.int64))
    return docs


def needle_sft_rows(
    tokenizer,
    haystack: str,
    count: int,
    lengths: list[int],
    *,
    seed: int = 0,
    needles: tuple[int, int] = (1, 1),
) -> list[dict]:
    """``count`` alpaca rows, prompt lengths cycled over ``lengths`` (tokens): the needle prompt -> `` VALUE.``."""
    sampler = _Sampler(tokenizer, haystack, seed, needles)
    rows = []
    for i in range(count):
        target = lengths[i % len(lengths)]
        cell, asked = sampler.cell(target)
        bos = len(sampler.builder.bos)
        prompt = tokenizer.decode(cell.context[bos:] + cell.questions[asked])
        rows.append(
            {
                "instruction": prompt,
                "output": f"{cell.values[asked]}.",  # the raw template encodes it as the needle's " VALUE."
                "kind": "needle",
                "key": cell.keys[asked],
                "needles": len(cell.keys),
                "target_tokens": target,
            }
        )
    return rows


__all__ = ["KEYS", "needle_sft_rows", "needle_token_documents"]
