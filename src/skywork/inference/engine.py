"""The one generation engine: batched prompts, a KV cache, greedy or seeded sampling, stops, ``n``, streaming.

GSM8K, chat, the CLI and every later generator (self-compare sampling, needle tests, chat evaluation) call this::

    engine = GenerationEngine(model, tokenizer, batch_size=8)          # device: the model's (None/"auto")
    params = SamplingParams(max_new_tokens=256, stop=("\\n\\n",))       # greedy; SamplingParams.official_demo()
    results = engine.generate(prompts, params, shared_prefix=fewshot)   # list (per prompt) of n Completions
    for delta in engine.stream(prompt, params): print(delta, end="")    # text deltas of one completion

``prompts`` are strings (tokenised whole with the tokenizer's default special tokens, i.e. BOS first) or lists of
token ids. ``shared_prefix`` (text or ids) is run through the model once and its KV cache is reused by every
prompt that starts with it (``skywork.inference.prefix``): GSM8K's 8-shot prefix is most of every prompt.

How a batch runs: prompts are grouped by cached-prefix length and sorted by length; the part after the shared
prefix is left-padded, with an attention mask and explicit position ids, and prefilled in one forward pass
(``logits_to_keep=1``). With ``n > 1`` the prompt is prefilled once and its cache repeated ``n`` times. Then one
token per row per step on a transformers ``DynamicCache``, through ``DecodeStep`` (the model's own modules
without transformers' per-call wrappers, bit-identical logits; ``compile=True`` compiles it) or the model's
forward. A row finishes at a stop token id (EOS by default) or once its decoded tail holds a stop string;
``drop_finished_rows`` removes finished rows from the batch (their cache rows too) so they stop costing compute.
Leave it off where results must be bit-identical to an earlier run that kept them (GSM8K): a smaller batch may
round differently.
``DecodeBatch.absorb`` adds another started batch's rows between two steps (the builtin server's continuous
batching); ``continuation`` decodes text as the continuation of its prompt (a leading "▁" piece keeps its space,
as vLLM returns completions).

A :class:`Completion` holds ``token_ids`` as generated (a final stop id included), ``text`` (decoded without the
stop id, cut before a stop string), ``finish_reason`` ``"stop"`` or ``"length"``, the matched ``stop`` and the
token counts. Greedy output is token-identical to ``model.generate(do_sample=False)`` (tests/inference).

Speed (``python bench/generation.py``: skywork-small widths, 2 layers, random fp32 weights, 1 CPU thread, CPU
time, 8 GSM8K 1-shot prompts of ~320 tokens, 24 new tokens; two runs on a loaded 2-core machine): against the
old hand-written GSM8K loop 1.03x at batch 1 and 0.99-1.12x at batch 8 (the same forward calls, so parity
within noise; identical text); against ``model.generate`` 1.02-1.08x at batch 1 and 0.95-1.02x at batch 8
(token-identical). Dropping finished rows only pays where rows stop early (a trained model at ``\n\n``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from transformers import DynamicCache

from skywork.inference.decode_step import DecodeStep
from skywork.inference.prefix import PrefixCache, prefix_batches
from skywork.inference.sampling import SamplingParams, choose_tokens, row_generators

Prompt = str | Sequence[int]


@dataclass
class Completion:
    text: str
    token_ids: list[int]
    finish_reason: str  # "stop" | "length"
    prompt_tokens: int
    stop: str | int | None = None  # the stop string or stop token id that ended it

    @property
    def completion_tokens(self) -> int:
        return len(self.token_ids)


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """``text`` up to the earliest occurrence of any stop string."""
    cuts = [text.find(s) for s in stops if s and s in text]
    return text[: min(cuts)] if cuts else text


@dataclass
class _DecodeState:
    """What one decoding step needs: the cache, the attention mask, each row's next position and last token."""

    past: DynamicCache
    mask: torch.Tensor
    next_pos: torch.Tensor
    token: torch.Tensor
    active: list[int]
    seen: torch.Tensor | None
    generators: list[torch.Generator] | None


class DecodeBatch:
    """Prompts of one shared-prefix length, ``n`` rows each, decoded one step per iteration of :meth:`run`."""

    def __init__(
        self,
        engine: GenerationEngine,
        params: SamplingParams,
        prompts: list[list[int]],
        indices: list[int],
        first: int,
        images: list | None = None,
    ):
        self.engine, self.params = engine, params
        self.images = (
            images  # per prompt: pixel values (k, 3, H, W) of its k images, or None (multimodal models)
        )
        n = params.n
        eos = engine.tokenizer.eos_token_id
        stop_ids = (
            params.stop_token_ids if params.stop_token_ids is not None else ([eos] if eos is not None else [])
        )
        self.stop_ids = frozenset(stop_ids)
        # A stop string is searched in the decoded tail only (it would have been found earlier otherwise): a
        # byte-fallback token can be a quarter of a character, so 4 tokens per character (+4) always cover it.
        self.stop_window = 4 * max((len(s) for s in params.stop), default=0) + 4
        self.prompts = prompts
        self.first = first
        self.flat_rows = [i * n + j for i in indices for j in range(n)]
        self.prompt_of_row = [k for k in range(len(prompts)) for _ in range(n)]
        self.tokens: list[list[int]] = [[] for _ in self.flat_rows]
        self.finish: list[tuple[str, str | int | None] | None] = [None] * len(self.flat_rows)
        # a prompt's continuation (completions API, `skywork generate`): text keeps a leading "▁" as a space
        self.continuation = False
        # new tokens allowed per row (rows of an absorbed batch bring their own)
        self.budget = [params.max_new_tokens] * len(self.flat_rows)
        self._state: _DecodeState | None = None  # set by run(); another batch's rows join it in absorb()
        self._absorbed = False

    def _prefill(self, prefix: PrefixCache | None):
        model, device, first = self.engine.model, self.engine.device, self.first
        suffixes = [ids[first:] for ids in self.prompts]
        width, k = max(len(s) for s in suffixes), len(suffixes)
        ids = torch.full((k, width), self.engine.pad_id, dtype=torch.long)
        mask = torch.zeros((k, first + width), dtype=torch.long)
        mask[:, :first] = 1
        positions = torch.full((k, width), first, dtype=torch.long)
        for r, s in enumerate(suffixes):  # left-pad the part after the shared prefix
            ids[r, width - len(s) :] = torch.tensor(s)
            mask[r, first + width - len(s) :] = 1
            positions[r, width - len(s) :] = torch.arange(first, first + len(s))
        past = (prefix.expanded(k, first) if prefix else None) or DynamicCache(config=model.config)
        extra = {}
        if self.images and any(p is not None for p in self.images):  # LLaVA: images in row order
            # prefill runs once per prompt (its n samples share the cache): each prompt's images once
            pixel_values = torch.cat([p for p in self.images if p is not None])
            extra["pixel_values"] = pixel_values.to(device, next(model.parameters()).dtype)
        out = model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
            cache=past,
            use_cache=True,
            logits_to_keep=1,
            **extra,
        )
        logits = out.logits[:, -1]
        mask, next_pos = mask.to(device), (positions[:, -1] + 1).to(device)
        if self.params.n > 1:  # prefilled once, sampled n times
            past.batch_repeat_interleave(self.params.n)
            logits, mask, next_pos = (
                t.repeat_interleave(self.params.n, dim=0) for t in (logits, mask, next_pos)
            )
        return past, logits, mask, next_pos

    def _seen_tokens(self, vocab: int) -> torch.Tensor | None:
        if self.params.repetition_penalty == 1.0:
            return None
        seen = torch.zeros((len(self.flat_rows), vocab), dtype=torch.bool, device=self.engine.device)
        for r, k in enumerate(self.prompt_of_row):
            seen[r, torch.tensor(self.prompts[k], device=self.engine.device)] = True
        return seen

    def _check_stop(self, r: int, token: int) -> None:
        params = self.params
        if token in self.stop_ids:
            self.finish[r] = ("stop", token)
        elif params.stop:
            tail = self.decode(self.tokens[r][-self.stop_window :])
            hit = next((s for s in params.stop if s in tail), None)
            if hit is not None:
                self.finish[r] = ("stop", hit)
        if self.finish[r] is None and len(self.tokens[r]) >= self.budget[r]:
            self.finish[r] = ("length", None)

    @torch.no_grad()
    def run(self, prefix: PrefixCache | None) -> Iterator[None]:
        """Decode until every row has finished; yields after each step's tokens are recorded.

        The decoding state (cache, mask, positions, the rows in the model's batch) lives on the batch, so that
        :meth:`absorb` can add another batch's rows between two steps.
        """
        params, model = self.params, self.engine.model
        past, logits, mask, next_pos = self._prefill(prefix)
        seen = self._seen_tokens(logits.shape[-1])
        generators = row_generators(params, self.flat_rows, self.engine.device)
        token = choose_tokens(logits, params, seen, generators)
        active = list(range(len(self.flat_rows)))  # the rows in the model's batch, in batch order
        state = self._state = _DecodeState(past, mask, next_pos, token, active, seen, generators)
        while True:
            for r, tid in zip(state.active, state.token.tolist(), strict=True):
                if self.finish[r] is None:
                    self.tokens[r].append(tid)
                    self._check_stop(r, tid)
            yield
            if self._absorbed:
                raise RuntimeError("this batch was absorbed into another; step that one")
            alive = [p for p, r in enumerate(state.active) if self.finish[r] is None]
            if not alive:
                return
            if self.engine.drop_finished_rows and len(alive) < len(state.active):
                keep = torch.tensor(alive, device=self.engine.device)
                state.past.batch_select_indices(keep)
                state.mask, state.next_pos = state.mask[keep], state.next_pos[keep]
                state.token = state.token[keep]
                state.seen = state.seen[keep] if state.seen is not None else None
                state.generators = [state.generators[p] for p in alive] if state.generators else None
                state.active = [state.active[p] for p in alive]
            state.mask = torch.cat([state.mask, state.mask.new_ones((len(state.active), 1))], dim=1)
            if self.engine.decode_step is not None:  # the model's modules without the wrappers: same logits
                logits = self.engine.decode_step(state.token, state.next_pos, state.mask, state.past)
            else:
                logits = model(
                    input_ids=state.token.unsqueeze(1),
                    attention_mask=state.mask,
                    position_ids=state.next_pos.unsqueeze(1),
                    cache=state.past,
                    use_cache=True,
                ).logits[:, -1]
            state.next_pos = state.next_pos + 1
            if state.seen is not None:
                state.seen.scatter_(1, state.token.unsqueeze(1), True)
            state.token = choose_tokens(logits, params, state.seen, state.generators)

    def absorb(self, other: DecodeBatch) -> None:
        """Continue ``other``'s rows inside this batch (continuous batching for the server).

        Both batches must be paused in :meth:`run` (each has yielded at least once) and decode with the same
        settings but ``max_new_tokens``. The shorter KV cache and mask are left-padded (masked) to the longer
        one's length and the rows are concatenated; positions stay per row, so every row's logits are the ones
        it would get alone (up to float rounding of a different batch shape). ``other`` must not be stepped
        again; its rows, tokens and finish reasons are this batch's from now on, after this batch's own.
        """
        mine, theirs = self._state, other._state
        if mine is None or theirs is None:
            raise RuntimeError("absorb() needs two batches that have both started decoding")
        if other.params.replace(max_new_tokens=1) != self.params.replace(max_new_tokens=1):
            raise ValueError("absorb() needs batches with the same sampling settings")
        width = max(mine.mask.shape[1], theirs.mask.shape[1])

        def left_pad(t: torch.Tensor, dim: int) -> torch.Tensor:
            missing = width - t.shape[dim]
            if missing == 0:
                return t
            shape = list(t.shape)
            shape[dim] = missing
            return torch.cat([t.new_zeros(shape), t], dim=dim)

        for a, b in zip(mine.past.layers, theirs.past.layers, strict=True):
            a.keys = torch.cat([left_pad(a.keys, -2), left_pad(b.keys, -2)])
            a.values = torch.cat([left_pad(a.values, -2), left_pad(b.values, -2)])
        mine.mask = torch.cat([left_pad(mine.mask, 1), left_pad(theirs.mask, 1)])
        mine.next_pos = torch.cat([mine.next_pos, theirs.next_pos])
        mine.token = torch.cat([mine.token, theirs.token])
        if mine.seen is not None:
            mine.seen = torch.cat([mine.seen, theirs.seen])
        if mine.generators is not None:
            mine.generators = mine.generators + theirs.generators
        offset = len(self.flat_rows)
        mine.active = mine.active + [r + offset for r in theirs.active]
        self.prompt_of_row += [k + len(self.prompts) for k in other.prompt_of_row]
        self.prompts = self.prompts + other.prompts
        self.flat_rows += other.flat_rows
        self.tokens += other.tokens
        self.finish += other.finish
        if self.images is not None or other.images is not None:
            self.images = (self.images or [None] * (offset // self.params.n)) + (
                other.images or [None] * len(other.prompts)
            )
        self.budget += other.budget
        other._absorbed, other._state = True, None

    def decode(self, ids: list[int]) -> str:
        skip = self.params.skip_special_tokens
        if not self.continuation or not ids:
            return self.engine.tokenizer.decode(ids, skip_special_tokens=skip)
        # SentencePiece drops the space of a leading "▁" piece; after an anchor piece it is kept, as vLLM's
        # detokenizer keeps it by decoding with the prompt's last tokens in front
        anchor, head = self.engine.anchor_ids, self.engine.anchor_text
        full = self.engine.tokenizer.decode(anchor + list(ids), skip_special_tokens=skip)
        return (
            full[len(head) :]
            if full.startswith(head)
            else self.engine.tokenizer.decode(ids, skip_special_tokens=skip)
        )

    def text(self, r: int) -> str:
        reason = self.finish[r]
        stop = reason[1] if reason else None
        ids = self.tokens[r][:-1] if isinstance(stop, int) else self.tokens[r]
        text = self.decode(ids)
        return cut_at_stop(text, [stop]) if isinstance(stop, str) else text

    def completion(self, r: int) -> Completion:
        reason, stop = self.finish[r] or ("length", None)
        prompt_tokens = len(self.prompts[self.prompt_of_row[r]])
        return Completion(self.text(r), list(self.tokens[r]), reason, prompt_tokens, stop)


class GenerationEngine:
    """Generation for one model and tokenizer; see the module docstring for the interface."""

    def __init__(
        self,
        model,
        tokenizer,
        batch_size: int = 8,
        device: str | torch.device | None = None,
        drop_finished_rows: bool = True,
        compile: bool = False,
    ):
        self.model = model.to(device) if device not in (None, "auto") else model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.device = next(self.model.parameters()).device
        self.drop_finished_rows = drop_finished_rows
        # decoding steps through the model's own modules, skipping transformers' wrappers (None: the forward)
        self.decode_step = DecodeStep.for_model(self.model)
        if compile:  # torch.compile of that step: see DecodeStep.compile, then warm_up()
            if self.decode_step is None:
                raise ValueError(f"compile=True needs a LLaMA-layout model, not {type(self.model).__name__}")
            self.decode_step.compile()
        eos = tokenizer.eos_token_id
        self.pad_id = eos if eos is not None else 0
        # see DecodeBatch.decode: decoded once here, not per row per step
        self.anchor_ids = tokenizer("a", add_special_tokens=False)["input_ids"]
        self.anchor_text = tokenizer.decode(self.anchor_ids, skip_special_tokens=True)
        self._prefix: PrefixCache | None = None

    def warm_up(self) -> float:
        """Compile the decoding step's graphs now (one row; several rows, padded), not in a user's request;
        seconds spent. A no-op without ``compile``. Call it from the thread that will generate: compiled
        kernels run from another thread were half as fast (measured; the builtin server's scheduler does this)."""
        if self.decode_step is None or not self.decode_step.compiled:
            return 0.0
        start = time.perf_counter()
        params = SamplingParams(max_new_tokens=3, stop_token_ids=())
        self.generate([[self.pad_id, self.pad_id]], params)
        if self.batch_size > 1:
            self.generate([[self.pad_id], [self.pad_id, self.pad_id, self.pad_id]], params)
        return time.perf_counter() - start

    def encode(self, prompt: Prompt) -> list[int]:
        ids = self.tokenizer(prompt)["input_ids"] if isinstance(prompt, str) else [int(t) for t in prompt]
        if not ids:
            raise ValueError("empty prompt: nothing to condition on")
        return ids

    def _prefix_cache(self, shared_prefix: Prompt | None) -> PrefixCache | None:
        if not shared_prefix:
            return None
        ids = self.encode(shared_prefix)
        if self._prefix is None or self._prefix.ids != ids:  # reused across calls with the same prefix
            self._prefix = PrefixCache(self.model, ids)
        return self._prefix

    def generate(
        self,
        prompts: Sequence[Prompt],
        params: SamplingParams | None = None,
        shared_prefix: Prompt | None = None,
        images: Sequence | None = None,
    ) -> list[list[Completion]]:
        """``params.n`` completions for every prompt, in prompt order. ``images`` (multimodal models): per prompt
        the pixel values of the images its image tokens stand for, or None."""
        params = params or SamplingParams()
        n = params.n
        prompt_ids = [self.encode(p) for p in prompts]
        prefix = self._prefix_cache(shared_prefix)
        shared = [prefix.shared_length(ids) if prefix else 0 for ids in prompt_ids]
        suffix_lengths = [len(ids) - s for ids, s in zip(prompt_ids, shared, strict=True)]
        results: list[list[Completion]] = [[] for _ in prompt_ids]
        for first, indices in prefix_batches(shared, suffix_lengths, max(1, self.batch_size // n)):
            batch_images = [images[i] for i in indices] if images is not None else None
            batch = DecodeBatch(self, params, [prompt_ids[i] for i in indices], indices, first, batch_images)
            for _ in batch.run(prefix):
                pass
            for k, i in enumerate(indices):
                results[i] = [batch.completion(k * n + j) for j in range(n)]
        return results

    def stream(
        self, prompt: Prompt, params: SamplingParams | None = None, images=None, continuation: bool = False
    ) -> Iterator[str]:
        """Text deltas of one completion; joined they equal ``generate([prompt], params)[0][0].text``.

        ``continuation``: the text continues ``prompt`` as written (a leading space kept: ``prompt + text`` reads
        right), as the completions API returns it.

        A delta is held back while the text ends in an incomplete UTF-8 character (a byte-fallback piece) or
        could still be the start of a stop string.
        """
        params = params or SamplingParams()
        if params.n != 1:
            raise ValueError("stream() produces one completion; use generate() for n > 1")
        batch = DecodeBatch(
            self, params, [self.encode(prompt)], [0], 0, [images] if images is not None else None
        )
        batch.continuation = continuation
        hold = max((len(s) for s in params.stop), default=1) - 1
        emitted = ""
        for _ in batch.run(None):
            if batch.finish[0] is not None:
                break
            text = batch.decode(batch.tokens[0])
            ready = len(text) - hold
            if not text.endswith("\ufffd") and ready > len(emitted) and text.startswith(emitted):
                yield text[len(emitted) : ready]
                emitted = text[:ready]
        final = batch.text(0)
        if len(final) > len(emitted):
            yield final[len(emitted) :]
