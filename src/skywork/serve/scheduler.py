"""The built-in server's scheduler: requests wait in a queue, one worker thread decodes them in batches.

The worker takes the waiting requests that decode with the same settings (all but ``max_tokens``, which each row
keeps as its own budget), up to ``max_batch_rows`` rows in all. It prefills them as a batch of their own and sends
their first tokens at once, then, if a running batch decodes with the same settings, that batch absorbs them
(``DecodeBatch.absorb``: the KV caches are left-padded to one length and concatenated) so that one forward pass
per step serves every request: continuous batching, as vLLM does, in its simplest form (no paged KV cache, no
chunked prefill, no preemption). Requests with other settings run as a batch beside it, at most
``max_running_batches`` batches at once, stepped in turn. A request whose client went away, or that reached its
own ``max_tokens``, is finished, and the engine drops its row from the batch at the next step
(``drop_finished_rows``): its slot costs nothing from then on. vLLM stays the engine of record; this server is
the fallback where it cannot be installed.

Results go back to the request's asyncio queue through ``loop.call_soon_threadsafe`` as :class:`Event` s.
"""

from __future__ import annotations

import asyncio
import threading
import time
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
    continuation: bool = False  # completions API: the text continues the prompt (a leading space kept)
    images: object = None  # multimodal models: pixel values of the prompt's images (skywork.mm), else None

    def send(self, event: Event) -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)
        except RuntimeError:  # the event loop is closed: the server is shutting down
            self.cancelled = True


def send_all(events: list[tuple[GenerationRequest, Event]]) -> None:
    """Hand a step's events to their requests with one wake-up of each event loop, not one per token: the
    wake-up is a write to the loop's self-pipe, which costs as much as a small model's step for 16 streams."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[GenerationRequest, Event]]] = {}
    for request, event in events:
        by_loop.setdefault(request.loop, []).append((request, event))
    for loop, pairs in by_loop.items():

        def deliver(pairs=pairs) -> None:
            for request, event in pairs:
                request.events.put_nowait(event)

        try:
            loop.call_soon_threadsafe(deliver)
        except RuntimeError:  # the event loop is closed: the server is shutting down
            for request, _ in pairs:
                request.cancelled = True


def batch_key(request: GenerationRequest) -> tuple[SamplingParams, bool]:
    """Requests whose keys are equal decode in one batch (``max_tokens`` is enforced per request)."""
    return request.params.replace(max_new_tokens=1), request.continuation


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
    max_running_batches: int = 2  # batches of different sampling settings decoding side by side
    stats: SchedulerStats = field(default_factory=SchedulerStats)
    warm_up_s: float = field(default=0.0, init=False)  # the engine's warm-up (compiling), in the worker
    _waiting: list[GenerationRequest] = field(default_factory=list, init=False)
    _cond: threading.Condition = field(default_factory=threading.Condition, init=False)
    _closed: bool = field(default=False, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def start(self) -> Scheduler:
        """Start the worker; returns once it has warmed the engine up (a compiled decoding step compiles in the
        thread that runs it: compiled in another thread, its kernels ran at half speed in this one, measured)."""
        ready, failure = threading.Event(), []

        def work() -> None:
            try:
                self.warm_up_s = self.engine.warm_up()
            except Exception as err:  # handed to start(), which raises it in the caller's thread
                failure.append(err)
                return
            finally:
                ready.set()
            self._work()

        self._thread = threading.Thread(target=work, name="skywork-scheduler", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
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
            key, chosen, rows, rest = batch_key(self._waiting[0]), [], 0, []
            for request in self._waiting:
                if batch_key(request) == key and rows + request.params.n <= room:
                    chosen.append(request)
                    rows += request.params.n
                else:
                    rest.append(request)
            self._waiting = rest
            self.stats.waiting = len(rest)
            return chosen

    def _put_back(self, requests: list[GenerationRequest]) -> None:
        with self._cond:
            self._waiting = requests + self._waiting
            self.stats.waiting = len(self._waiting)

    def _work(self) -> None:
        """Step every running batch in turn; waiting requests join a running batch with their settings.

        A new group of requests is prefilled and given its first tokens as a batch of its own (its time to first
        token does not wait), then absorbed into the running batch that decodes with the same settings, if any
        and there is room: one forward pass per step serves them all (continuous batching). Otherwise it runs
        as a batch of its own, at most ``max_running_batches`` of them.
        """
        runs: list[_Run] = []
        while True:
            busy = sum(run.rows for run in runs)
            batch = self._take(self.max_batch_rows - busy, block=not runs)
            if batch is None:
                return
            host = next((run for run in runs if batch and run.key == batch_key(batch[0])), None)
            if batch and host is None and len(runs) >= self.max_running_batches:
                self._put_back(batch)  # other settings: they wait until a running batch finishes
            elif batch:
                new = _Run(self, batch)
                if new.step():  # prefilled, first tokens sent
                    if host is not None:
                        host.absorb(new)
                    else:
                        runs.append(new)
            for run in list(runs):
                if not run.step():
                    runs.remove(run)
            self.stats.running_rows = sum(run.rows for run in runs)

    def _report(
        self, request, batch, r: int, index: int, text: _RowText, reported: list[bool]
    ) -> Event | None:
        """The event row ``r`` owes its request after a step (a text delta, its finish), if any."""
        finish = batch.finish[r]
        if finish is None:
            if request.stream:
                piece = text.delta(batch.decode(batch.tokens[r]))
                if piece:
                    return Event("delta", index, piece)
            return None
        reported[r] = True
        if finish[0] == CANCELLED:
            self.stats.cancelled_rows += 1
            return None
        completion = batch.completion(r)
        return Event("finish", index, text.rest(completion.text), completion)


class _Run:
    """One engine batch of the scheduler and the requests its rows answer (row ``r``: request ``r // n``)."""

    def __init__(self, scheduler: Scheduler, requests: list[GenerationRequest]):
        self.scheduler, self.requests = scheduler, list(requests)
        self.key = batch_key(requests[0])
        self.n = requests[0].params.n
        params = requests[0].params.replace(max_new_tokens=max(r.params.max_new_tokens for r in requests))
        # indices all 0: a seeded row draws from seed + j whatever batch it runs in
        images = [r.images for r in requests] if any(r.images is not None for r in requests) else None
        self.batch = DecodeBatch(
            scheduler.engine, params, [r.prompt_ids for r in requests], [0] * len(requests), 0, images
        )
        self.batch.budget = [r.params.max_new_tokens for r in requests for _ in range(self.n)]
        self.batch.continuation = requests[0].continuation
        self.hold = max((len(s) for s in params.stop), default=1) - 1
        self.texts = [_RowText(self.hold) for _ in self.batch.flat_rows]
        self.reported = [False] * len(self.batch.flat_rows)
        self.steps = self.batch.run(None)
        self.rows = len(self.batch.flat_rows)
        stats = scheduler.stats
        stats.batches += 1
        stats.max_batch_rows = max(stats.max_batch_rows, len(self.batch.flat_rows))

    def step(self) -> bool:
        """One decoding step and its events; False once every row has finished (or the step failed)."""
        try:
            next(self.steps)
        except StopIteration:
            return False
        except Exception as err:  # a failed forward pass fails its requests, not the server
            for request in self.requests:
                request.send(Event("error", text=f"generation failed: {type(err).__name__}: {err}"))
            return False
        batch, stats = self.batch, self.scheduler.stats
        events: list[tuple[GenerationRequest, Event]] = []
        for r, done in enumerate(self.reported):
            if done:
                continue
            request, index = self.requests[r // self.n], r % self.n
            stats.generated_tokens += 1
            if batch.finish[r] is None and request.cancelled:
                batch.finish[r] = (CANCELLED, None)
            event = self.scheduler._report(request, batch, r, index, self.texts[r], self.reported)
            if event is not None:
                events.append((request, event))
        send_all(events)
        self.rows = self.reported.count(False)
        return self.rows > 0

    def absorb(self, other: _Run) -> None:
        """Take ``other``'s rows into this batch (:meth:`DecodeBatch.absorb`); ``other`` is not stepped again."""
        self.batch.absorb(other.batch)
        self.requests += other.requests
        self.texts += other.texts
        self.reported += other.reported
        self.rows += other.rows
        self.scheduler.stats.max_batch_rows = max(
            self.scheduler.stats.max_batch_rows, len(self.batch.flat_rows)
        )
