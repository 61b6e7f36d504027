"""The built-in server's scheduler: requests wait in a queue, one worker thread decodes them in batches.

Why this shape: the generation engine decodes a fixed batch of prompts one step at a time (``DecodeBatch.run``); it
cannot add a prompt to a batch that is running. So the worker takes every waiting request that decodes with the
same settings (all but ``max_tokens``, which is enforced per request), up to ``max_batch_rows`` rows in all, as
one batch, and after each step hands every request its new text. Requests that arrive while batches run become a
new batch at the next step, and the worker steps the running batches in turn (one forward pass each), so a new
request starts at once instead of waiting for the others to finish; at most ``max_running_batches`` (2) run at
once, so a burst of requests groups into few batches rather than one forward pass per request. A request whose client went away, or that
reached its own ``max_tokens``, is marked finished, and the engine drops its row from the batch at the next step
(``drop_finished_rows``): its slot costs nothing from then on. Merging batches (continuous batching) is vLLM's
job; this server is the fallback.

Results go back to the request's asyncio queue through ``loop.call_soon_threadsafe`` as :class:`Event` s.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from skywork.inference.engine import Completion, DecodeBatch, GenerationEngine
from skywork.inference.sampling import SamplingParams

CANCELLED = "cancelled"  # finish reason of a row whose client disconnected (never sent to a client)


@dataclass
class Event:
    """``kind``: "delta" (``index``, ``text``), "finish" (``index``, ``completion``, final ``text``), "error"."""

    kind: str
    index: int = 0
    text: str = ""
    completion: Completion | None = None


@dataclass
class GenerationRequest:
    """One API request: ``params.n`` completions of ``prompt_ids``; events go to ``events`` on ``loop``."""

    prompt_ids: list[int]
    params: SamplingParams
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue
    stream: bool = False
    cancelled: bool = False  # set by the API side when the client disconnects
    images: object = None  # multimodal models: pixel values of the prompt's images (skywork.mm), else None

    def send(self, event: Event) -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)
        except RuntimeError:  # the event loop is closed: the server is shutting down
            self.cancelled = True


def batch_key(params: SamplingParams) -> SamplingParams:
    """Requests whose keys are equal decode in one batch (``max_tokens`` is enforced per request)."""
    return params.replace(max_new_tokens=1)


@dataclass
class SchedulerStats:
    """What ``/stats`` reports: how busy the worker is and how large its batches were."""

    waiting: int = 0
    running_rows: int = 0
    batches: int = 0
    max_batch_rows: int = 0
    generated_tokens: int = 0
    cancelled_rows: int = 0


class _RowText:
    """The streamed text of one row: deltas held back as :meth:`GenerationEngine.stream` holds them."""

    def __init__(self, hold: int):
        self.hold, self.emitted = hold, ""

    def delta(self, text: str) -> str:
        ready = len(text) - self.hold
        if text.endswith("\ufffd") or ready <= len(self.emitted) or not text.startswith(self.emitted):
            return ""
        piece, self.emitted = text[len(self.emitted) : ready], text[:ready]
        return piece

    def rest(self, final: str) -> str:
        return final[len(self.emitted) :] if final.startswith(self.emitted) else ""


@dataclass
class Scheduler:
    """The queue and the worker thread; :meth:`submit` from any thread, :meth:`close` to stop the worker."""

    engine: GenerationEngine
    max_batch_rows: int = 32
    gather_s: float = 0.01  # after the first request arrives, wait this long for the ones sent with it
    max_running_batches: int = (
        2  # more would cost a forward pass each per step; later arrivals wait and group
    )
    stats: SchedulerStats = field(default_factory=SchedulerStats)
    _waiting: list[GenerationRequest] = field(default_factory=list, init=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, init=False)
    _closed: bool = field(default=False, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._work, name="skywork-scheduler", daemon=True)
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, request: GenerationRequest) -> None:
        with self._cond:
            self._waiting.append(request)
            self.stats.waiting = len(self._waiting)
            self._cond.notify()

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._closed = True
            for request in self._waiting:
                request.cancelled = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def _take(self, room: int, block: bool) -> list[GenerationRequest] | None:
        """Waiting requests for a new batch of at most ``room`` rows (None once closed).

        ``block``: the worker is idle, so wait for a request, then ``gather_s`` for the ones sent with it.
        """
        with self._cond:
            while block and not self._waiting and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
        if block:
            time.sleep(self.gather_s)
        with self._cond:
            self._waiting = [r for r in self._waiting if not r.cancelled]
            if not self._waiting or self._waiting[0].params.n > room:
                return []
            key, chosen, rows, rest = batch_key(self._waiting[0].params), [], 0, []
            for request in self._waiting:
                if batch_key(request.params) == key and rows + request.params.n <= room:
                    chosen.append(request)
                    rows += request.params.n
                else:
                    rest.append(request)
            self._waiting = rest
            self.stats.waiting = len(rest)
            return chosen

    def _work(self) -> None:
        """Step every running batch in turn; admit the requests waiting meanwhile as a new batch."""
        runs: list[tuple[list[GenerationRequest], Iterator[int]]] = []
        rows: dict[int, int] = {}  # id(run) -> rows still decoding
        while True:
            room = self.max_batch_rows - sum(rows.values()) if len(runs) < self.max_running_batches else 0
            batch = self._take(room, block=not runs)
            if batch is None:
                return
            if batch:
                runs.append((batch, self._steps(batch)))
            for run in list(runs):
                requests, steps = run
                try:
                    rows[id(run)] = next(steps)
                    continue
                except StopIteration:
                    pass
                except Exception as err:  # a failed forward pass fails its requests, not the server
                    for request in requests:
                        request.send(Event("error", text=f"generation failed: {type(err).__name__}: {err}"))
                runs.remove(run)
                rows.pop(id(run), None)
            self.stats.running_rows = sum(rows.values())

    def _steps(self, requests: list[GenerationRequest]) -> Iterator[int]:
        """Decode ``requests`` as one engine batch; yields the rows still decoding after each step."""
        n = requests[0].params.n
        params = requests[0].params.replace(max_new_tokens=max(r.params.max_new_tokens for r in requests))
        # indices all 0: a seeded row draws from seed + j whatever batch it runs in
        images = [r.images for r in requests] if any(r.images is not None for r in requests) else None
        batch = DecodeBatch(
            self.engine, params, [r.prompt_ids for r in requests], [0] * len(requests), 0, images
        )
        hold = max((len(s) for s in params.stop), default=1) - 1
        texts = [_RowText(hold) for _ in batch.flat_rows]
        reported = [False] * len(batch.flat_rows)
        self.stats.batches += 1
        self.stats.max_batch_rows = max(self.stats.max_batch_rows, len(batch.flat_rows))
        for _ in batch.run(None):
            for r, done in enumerate(reported):
                if done:
                    continue
                request, index = requests[r // n], r % n
                self.stats.generated_tokens += 1
                if batch.finish[r] is None and request.cancelled:
                    batch.finish[r] = (CANCELLED, None)
                elif batch.finish[r] is None and len(batch.tokens[r]) >= request.params.max_new_tokens:
                    batch.finish[r] = ("length", None)
                self._report(request, batch, r, index, texts[r], reported)
            yield reported.count(False)

    def _report(self, request, batch, r: int, index: int, text: _RowText, reported: list[bool]) -> None:
        finish = batch.finish[r]
        if finish is None:
            if request.stream:
                piece = text.delta(batch.decode(batch.tokens[r]))
                if piece:
                    request.send(Event("delta", index, piece))
            return
        reported[r] = True
        if finish[0] == CANCELLED:
            self.stats.cancelled_rows += 1
            return
        completion = batch.completion(r)
        request.send(Event("finish", index, text.rest(completion.text), completion))
